"""Action chains: the file format (:mod:`.spec`), where a chain goes next (:mod:`.flow`),
and the conductor that runs them (:mod:`.conductor`)."""
