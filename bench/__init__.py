"""st2lite's benchmark suite: ``python -m bench [NAME ...]`` (see docs/PERFORMANCE.md).

Not part of the test suite. This package's ``__init__`` imports nothing, so
:mod:`bench.bare_rq` can run RQ without st2lite's key prefix.
"""
