"""Dataset-level selection: semantic, statistical (RKME) and mixture search."""

from modelreuse.selection.ranking import RankedLearnware, Ranking

__all__ = ["RankedLearnware", "Ranking"]
