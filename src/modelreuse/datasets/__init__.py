"""Readers of the shared datasets (``config.default_data_root()``) and importers of staged sources."""
