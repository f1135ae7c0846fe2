"""Importers that turn staged third-party tables into modelreuse records."""
