"""Learned dataset-level selection: leaderboard records, their importers and recommenders."""
