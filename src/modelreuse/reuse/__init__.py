"""Reusers: turn selected learnwares (+ the user's rows) into a fitted predictor.

One module per reuser, all registered in :data:`REUSERS` by name.
"""

from modelreuse.reuse.averaging import AveragingReuser
from modelreuse.reuse.feature_augment import FeatureAugmentReuser
from modelreuse.reuse.job_selector import JobSelectorReuser
from modelreuse.reuse.pruning import EnsemblePruningReuser

REUSERS = {
    "job_selector": JobSelectorReuser,
    "averaging": AveragingReuser,
    "ensemble_pruning": EnsemblePruningReuser,
    "feature_augment": FeatureAugmentReuser,
}

__all__ = ["REUSERS", "AveragingReuser", "EnsemblePruningReuser", "FeatureAugmentReuser", "JobSelectorReuser"]
