"""Scores of predictions against measured truth, below :mod:`modelreuse.selection` (as
``sklearn.metrics`` sits below ``sklearn.model_selection``); import a submodule, e.g.
:mod:`modelreuse.metrics.ranking`. Nothing heavy is imported here."""
