"""The pipeline pack's logic: split a CSV into chunks, process a chunk, merge the results, move the input.

Pure functions over files and streams; the actions (``actions/*.py``) only read their parameters and the
pack config and call these. Everything streams: no step holds a whole file in memory.
"""
