"""StackStorm compatibility: the ``st2reactor.sensor`` package."""
