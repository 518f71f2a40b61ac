"""Discovery adapters: one module per source format, each ``read(paths)`` -> records.

Parse only: an adapter turns files into ``discovery.records`` items and never touches a
store. ``discovery.registry`` maps a format name to its module and imports it on demand,
so nothing here imports the adapters (a CLI command pays only for the format it reads).
"""
