"""What the transferability benchmark needs from a model zoo, for any modality.

A zoo module (:mod:`~modelreuse.zoo.text`, :mod:`~modelreuse.zoo.image`) yields
:class:`TransferTarget` objects: a real labelled target task with a training and a test split, and
for every candidate model that may be ranked on it the candidate's frozen outputs on those splits.
The ground truth is the same fixed probe protocol for every modality
(:func:`modelreuse.selection.transferability.linear_probe.probe_accuracy`, applied by the benchmark).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


@dataclass
class CandidateOutputs:
    """One candidate's frozen outputs on a target: features of the training and test rows and its
    source head's class probabilities on the training rows."""

    name: str
    train_features: np.ndarray
    train_proba: np.ndarray
    test_features: np.ndarray


@dataclass
class TransferTarget:
    """A target task: integer labels of both splits and a callable producing the candidates'
    outputs (lazily, so a zoo computes them one target at a time)."""

    name: str
    y_train: np.ndarray
    y_test: np.ndarray
    candidates: Callable[[], Iterable[CandidateOutputs]]
