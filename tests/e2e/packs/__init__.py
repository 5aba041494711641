"""End-to-end scenarios of the bundled packs (packs/) through `st2lite up`, against local stand-ins of the services."""
