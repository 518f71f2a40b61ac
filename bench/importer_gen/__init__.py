"""Generators for bench/importers.py: one module per importer (``FORMAT``, ``generate``)."""
