"""Transferability metrics against the canonical values in the public fixtures
(../shared/data/transferability/fixtures/public, tolerances from its README)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn

from modelreuse.errors import InvalidTaskDataError, UnknownNameError
from modelreuse.selection.transferability import METRICS, get_metric, logme, ncti_pool_scores, score_problem
from modelreuse.selection.transferability.leep import expected_empirical_prediction
from modelreuse.selection.transferability.logme import log_evidence, spectrum
from tests.conftest import DATA

KINDS = {name: METRICS.metadata(name)["kind"] for name in METRICS.names()}

FIXTURES = DATA / "transferability" / "fixtures" / "public"

# Keys whose end-to-end value depends on scikit-learn's GaussianMixture initialisation.
SKLEARN_DEPENDENT = {"nleep", "nleep_float64"}
# Our float64 pipeline vs the reference's float32 arithmetic: compare at float32 resolution.
FLOAT32_REFERENCE = {"nleep": 1e-6}


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((FIXTURES / "reference.json").read_text())


@pytest.fixture(scope="module")
def problem() -> dict:
    return dict(np.load(FIXTURES / "problem.npz"))


@pytest.fixture(scope="module")
def scored(problem) -> dict:
    names = [n for n in METRICS if n not in ("knn_accuracy", "linear_probe_accuracy")]
    return score_problem(problem, names)


def _tolerance(entry: dict, key: str) -> float:
    return FLOAT32_REFERENCE.get(key) or entry["recommended_tolerance"].get("rtol") or 1e-9


@pytest.mark.parametrize("key", [k for k in METRICS if k not in ("gbc_spherical_exact", "knn_accuracy",
                                                                  "linear_probe_accuracy")])
def test_metric_matches_canonical_value(key, scored, reference):
    entry = reference["metrics"][key]
    if key in SKLEARN_DEPENDENT and sklearn.__version__ != reference["environment"]["numpy_runs"]["sklearn"]:
        pytest.skip("end-to-end N-LEEP is only reproducible with the fixture's scikit-learn")
    np.testing.assert_allclose(scored[key], entry["value"], rtol=_tolerance(entry, key), atol=0)


def test_nleep_leep_step_is_exact_on_stored_posteriors(problem, reference):
    posteriors = np.load(FIXTURES / "reference_arrays.npz")["nleep_gmm_posteriors_float64"]
    value = np.mean(np.log(expected_empirical_prediction(posteriors, problem["y"], 6)))
    np.testing.assert_allclose(value, reference["metrics"]["nleep_float64"]["value"], rtol=1e-12)


def test_exact_spherical_gbc_differs_from_reference_and_stays_in_bound(scored):
    C = 6
    assert -C * (C - 1) <= scored["gbc_spherical_exact"] <= 0
    assert scored["gbc_spherical_exact"] != pytest.approx(scored["gbc_spherical"], rel=1e-6)


def test_ranking_fixture_scores_and_pool_relative_ncti(reference):
    ranking = np.load(FIXTURES / "ranking.npz")
    expected = reference["ranking"]
    for name in ("hscore", "logme", "transrate", "sfda", "lfc", "pactran_dir", "leep"):
        metric = get_metric(name)
        first = "F" if metric.kind == "features" else "P"
        values = [metric.fn(ranking[f"{first}_{k}"], ranking["y"]) for k in range(8)]
        rtol = 1e-5 if name == "lfc" else 1e-8  # the reference LFC keeps its label kernel in float32
        np.testing.assert_allclose(values, expected["scores"][name], rtol=rtol, err_msg=name)
    parts = [get_metric("ncti_parts").fn(ranking[f"F_{k}"], ranking["y"]) for k in range(8)]
    np.testing.assert_allclose(parts, expected["ncti_parts"], rtol=1e-8)
    np.testing.assert_allclose(ncti_pool_scores(parts), expected["scores"]["ncti_final"], rtol=1e-8, atol=1e-12)


def test_linear_probe_reproduces_ground_truth_protocol(reference):
    ranking = np.load(FIXTURES / "ranking.npz")
    truth = reference["ranking"]["ground_truth"]["linear_probe_acc"]
    for k in (0, 5):
        acc = get_metric("linear_probe").fn(ranking[f"F_{k}"], ranking["y"], train_mask=ranking["train_mask"])
        assert acc == pytest.approx(truth[k], abs=1e-12)


def test_logme_wide_path_equals_exact_evidence_and_flag_reproduces_rank_cut():
    rng = np.random.default_rng(0)
    F, y = rng.normal(size=(40, 90)), rng.integers(0, 3, size=40)
    Y = np.eye(3)[y]
    s_full, V = np.linalg.eigh(F.T @ F)  # all D eigenvalues, D - N of them zero
    exact = log_evidence(Y, np.clip(s_full, 0, None), (F @ V).T @ Y, D=90).mean()
    assert logme(F, y) == pytest.approx(exact, rel=1e-9)
    s, z = spectrum(F, Y)
    assert len(s) == 40 and z.shape == (40, 3)
    cut = logme(F, y, drop_null_directions=True)
    assert cut > logme(F, y)  # dropping D - N log(alpha) terms with alpha > 1 raises the value


def test_missing_label_value_is_reencoded(problem):
    F, y = problem["F"], problem["y"]
    gapped = np.where(y >= 3, y + 1, y)  # labels {0,1,2,4,5,6}: value 3 has no rows
    assert logme(F, gapped) == pytest.approx(logme(F, y), rel=1e-12)
    assert get_metric("hscore").fn(F, gapped) == pytest.approx(get_metric("hscore").fn(F, y), rel=1e-12)


@pytest.mark.parametrize("name", [n for n, m in KINDS.items() if m == "features" and n != "linear_probe_accuracy"])
def test_bad_inputs_raise_typed_errors(name):
    metric = get_metric(name)
    rng = np.random.default_rng(1)
    F, y = rng.normal(size=(80, 8)), rng.integers(0, 3, size=80)
    with pytest.raises(InvalidTaskDataError):
        metric.fn(F, np.zeros(80, dtype=int))  # single class
    with pytest.raises(InvalidTaskDataError):
        metric.fn(F, y[:70])  # mismatched lengths
    bad = F.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InvalidTaskDataError):
        metric.fn(bad, y)


@pytest.mark.parametrize("name", ["hscore", "reg_hscore", "logme", "gbc_spherical_exact", "gbc_diagonal", "transrate",
                                  "sfda", "lfc", "knn_accuracy", "nleep_float64", "ncti_parts"])
def test_constant_and_wide_features_give_finite_values(name):
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1, 2], 20)
    F = rng.normal(size=(60, 100)) + y[:, None]
    F[:, :5] = 3.0  # constant columns; N < D
    value = np.asarray(get_metric(name).fn(F, y), dtype=np.float64)
    assert np.isfinite(value).all()


def test_probability_inputs_are_checked():
    y = np.array([0, 1, 0, 1])
    with pytest.raises(InvalidTaskDataError, match="sum to 1"):
        get_metric("leep").fn(np.full((4, 3), 0.5), y)
    with pytest.raises(InvalidTaskDataError, match="negative"):
        get_metric("nce").fn(np.array([[1.5, -0.5]] * 4), y)
    with pytest.raises(UnknownNameError, match="unknown transferability metric"):
        get_metric("nope")


def test_cli_transfer_score_prints_fixture_names(reference):
    from typer.testing import CliRunner

    from modelreuse.cli import app

    result = CliRunner().invoke(app, ["transfer", "score", "--problem", str(FIXTURES / "problem.npz"), "--metric", "logme",
                                      "--metric", "pactran_dir", "--metric", "logme_regression", "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)
    for key in ("logme", "pactran_dir", "logme_regression"):
        assert values[key] == pytest.approx(reference["metrics"][key]["value"], rel=1e-10)
    bad = CliRunner().invoke(app, ["transfer", "score", "--problem", str(FIXTURES / "problem.npz"), "--metric", "nope"])
    assert bad.exit_code == 2 and "unknown transferability metric" in bad.output


@pytest.mark.parametrize("name", [n for n, m in KINDS.items() if m == "features"])
def test_all_constant_features_raise_or_give_the_no_information_value(name):
    y = np.repeat([0, 1, 2], 20)
    F = np.full((60, 10), 3.0)
    if name in ("reg_hscore", "sfda", "ncti_parts"):
        with pytest.raises(InvalidTaskDataError, match="constant"):
            get_metric(name).fn(F, y)
    else:
        assert np.isfinite(np.asarray(get_metric(name).fn(F, y), dtype=np.float64)).all()


@pytest.mark.parametrize("name", METRICS.names())
def test_every_registered_metric_scores_the_fixture_problem(problem, name):
    """Registry contract: complete metadata, and a finite value (or finite parts) on the real-structured
    fixture problem with the inputs its ``kind`` names."""
    metadata = METRICS.metadata(name)
    assert metadata["kind"] in ("features", "probabilities", "regression")
    assert isinstance(metadata["higher_is_better"], bool) and isinstance(metadata["pool_relative"], bool)
    first, second = {"features": ("F", "y"), "probabilities": ("P", "y"), "regression": ("F", "t")}[metadata["kind"]]
    rows = slice(0, 300)  # a smaller problem keeps the expensive metrics (N-LEEP, the probe) fast
    value = np.asarray(get_metric(name).fn(problem[first][rows], problem[second][rows]), dtype=np.float64)
    assert value.size == (3 if metadata["pool_relative"] else 1) and np.isfinite(value).all()
