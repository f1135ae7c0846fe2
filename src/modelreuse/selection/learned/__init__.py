"""Learned dataset-level selection: recommenders trained on leaderboard records."""
