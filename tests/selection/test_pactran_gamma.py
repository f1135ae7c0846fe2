"""PACTran-Gamma against the canonical value of the public fixtures, and its orientation on real
source heads (an informative head scores lower, i.e. better, than a shuffled one)."""

import json

import numpy as np
import pytest

from modelreuse.selection.transferability import METRICS
from modelreuse.selection.transferability.pactran_gamma import pactran_gamma
from tests.conftest import DATA

FIXTURES = DATA / "transferability" / "fixtures" / "public"


def test_matches_the_reference_implementation():
    problem = np.load(FIXTURES / "problem.npz")
    entry = json.loads((FIXTURES / "reference.json").read_text())["metrics"]["pactran_gamma"]
    assert METRICS.metadata("pactran_gamma")["higher_is_better"] is entry["higher_is_better"] is False
    assert pactran_gamma(problem["P"], problem["y"]) == pytest.approx(entry["value"], rel=1e-10)


def test_an_informative_source_head_scores_better_than_a_shuffled_one():
    ranking = np.load(FIXTURES / "ranking.npz")
    y = ranking["y"]
    values = [pactran_gamma(ranking[f"P_{i}"], y) for i in range(8)]
    shuffled = [pactran_gamma(np.random.default_rng(i).permutation(ranking[f"P_{i}"]), y) for i in range(8)]
    assert np.all(np.isfinite(values))
    assert min(values) < min(shuffled)


def test_bad_prior_is_refused():
    problem = np.load(FIXTURES / "problem.npz")
    with pytest.raises(ValueError, match="positive"):
        pactran_gamma(problem["P"], problem["y"], beta=0.0)
