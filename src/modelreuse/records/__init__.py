"""Data formats only: leaderboard records (model, dataset, metric, score) and routing records
(per-query scores and costs per model). No fitting here; importers live in ``datasets.importers``."""
