"""Learned dataset-level selection: leaderboard records, their importers and recommenders."""

from modelreuse.selection.learned.importers import IMPORTERS, import_all
from modelreuse.selection.learned.modellens import ModelLens
from modelreuse.selection.learned.records import LeaderboardRecords, read_leaderboard

__all__ = ["IMPORTERS", "LeaderboardRecords", "ModelLens", "import_all", "read_leaderboard"]
