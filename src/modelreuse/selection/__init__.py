"""Selection: which learnwares fit a task. Dock search methods are the selectors registered in
:data:`modelreuse.selection.base.SELECTORS` (one module each under :mod:`modelreuse.selection.methods`);
the maths they use lives beside them (``statistical``, ``semantic``, ``calibration``, ``learned``,
``transferability``)."""

from modelreuse.selection.ranking import RankedLearnware, Ranking

__all__ = ["RankedLearnware", "Ranking"]
