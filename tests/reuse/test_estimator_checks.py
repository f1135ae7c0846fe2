"""scikit-learn's estimator checks on every public estimator of ``modelreuse.reuse``.

The checks fit on their own random rows of many widths and label sets. The learnwares here are
real pre-fitted models that accept rows of any width (each predicts a real station's prior), so
the checks exercise the reusers themselves; the job selector also needs its learnwares' RKME
specs, which have the stations' fixed width. Each expected failure is listed with its reason in
:func:`expected_failures`, and must still fail with the stated error; every other check runs and
must pass (:mod:`tests.sklearn_checks`: ``parametrize_with_checks``' checks with short ids and
``pytest.raises`` for the expected failures: 37 s instead of 90 s on a loaded 2-core machine).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import is_classifier

from modelreuse.errors import InvalidTaskDataError
from modelreuse.models import ModelAdapter
from modelreuse.models.tabular import list_tables, read_table
from modelreuse.reuse.auto import AutoReuser, Candidate, build_reuser
from modelreuse.reuse.base import REUSERS
from modelreuse.reuse.feature_augment import FeatureAugmentReuser
from modelreuse.reuse.job_selector import JobSelectorReuser
from modelreuse.reuse.reused_model import ReusedModel
from tests.conftest import BEIJING
from tests.reuse.conftest import aqi_band
from tests.sklearn_checks import ExpectedFailure, estimator_check_params, run_check


def _station_tables(n: int) -> list:
    """The first 2000 rows of ``n`` real Beijing stations, read when the checks are collected; a
    clear collection error, naming MODELREUSE_DATA, when the shared data is not there."""
    if not BEIJING.is_dir():
        pytest.fail(f"the Beijing air-quality tables are not at {BEIJING}: set MODELREUSE_DATA to the shared data "
                    "root (the folder holding tabular/beijing_air_quality)", pytrace=False)
    return [read_table(path).iloc[:2000] for path in list_tables(BEIJING)[:n]]


def _station_priors(tables: list) -> dict[str, list[ModelAdapter]]:
    """Per task type, one learnware per station that predicts its prior (mean or median PM2.5,
    AQI-band frequencies) from its rows: real pre-fitted models that take rows of any width, so the
    checks' random data exercises the reusers themselves."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    ys = []
    for table in tables:
        y = table["PM2.5"].to_numpy(np.float64)
        ys.append(y[np.isfinite(y)])
    rows = [np.zeros((len(y), 1)) for y in ys]
    return {
        "regression": [ModelAdapter(DummyRegressor(strategy=s).fit(r, y), "regression")
                       for s, r, y in zip(("mean", "median"), rows, ys)],
        "classification": [ModelAdapter(DummyClassifier(strategy="prior").fit(r, aqi_band(y)), "classification")
                           for r, y in zip(rows, ys)],
    }


def _station_rkmes(tables: list) -> list:
    """RKMEs of the stations' first 300 encoded rows (the job selector routes rows by them; their
    width is the stations' feature count)."""
    from modelreuse.models.table_schema import TableSchema
    from modelreuse.models.tabular import impute_means
    from modelreuse.specs.rkme import RKMESpec

    tables = [t.iloc[:300] for t in tables]
    encoder = TableSchema.infer(tables, target="PM2.5")
    return [RKMESpec.fit(impute_means(encoder.encode(t)), m=10, max_iter=5) for t in tables]


TINY = {"own_rows": {"n_estimators": 5}}
"""Constructor settings that keep the checks' many fits fast; a reuser not listed keeps its defaults."""


def _instances():
    """``(label, estimator)``: every registered reuser, AutoReuser and ReusedModel, for each task type, over the station
    priors. AutoReuser's choice by score is tested on real rows in test_auto.py; here
    ``min_labels`` keeps it on the label-free path, so the checks' many fits stay fast."""
    tables = _station_tables(2)
    priors, specs = _station_priors(tables), _station_rkmes(tables)
    for task_type, models in priors.items():
        mixture = tuple(Candidate(str(i), f"station {i}", m, "prior", 0.5, s)
                        for i, (m, s) in enumerate(zip(models, specs)))
        no_specs = tuple(Candidate(c.learnware_id, c.name, c.model, c.reason, c.weight) for c in mixture)
        for name in REUSERS.names():
            reuser = build_reuser(name, mixture if REUSERS.metadata(name).get("needs_specs") else no_specs,
                                  no_specs, task_type)
            yield f"{name}-{task_type}", reuser.set_params(**TINY.get(name, {}))
        yield f"auto-{task_type}", AutoReuser(no_specs, no_specs, task_type, min_labels=10**9)
        yield f"reused_model-{task_type}", ReusedModel(AutoReuser(no_specs, no_specs, task_type, min_labels=10**9))


LEARNWARE_CLASSES = ExpectedFailure(
    "the reuser predicts its learnwares' classes (here the four AQI bands), not only the labels seen in fit: "
    "classes_ and predict_proba's columns are the union of the models' classes", AssertionError)
FIXED_WIDTH = ExpectedFailure(
    "the job selector routes rows by its learnwares' RKME specs, which have the stations' fixed input width; fit "
    "refuses the check's rows of another width (InvalidTaskDataError, or the check's assertion about that error)",
    (InvalidTaskDataError, AssertionError))
WIDTH_CHECKS = (  # every check that fits on rows of its own width
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_nan_inf", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input", "check_supervised_y_2d", "check_regressor_data_not_an_array",
    "check_regressors_int", "check_regressors_no_decision_function", "check_regressors_train",
    "check_classifier_data_not_an_array", "check_classifiers_one_label", "check_classifiers_train",
    "check_classifiers_classes")


def expected_failures(estimator) -> dict[str, ExpectedFailure]:
    """Each check expected to fail for ``estimator``, with the reason."""
    failures = {}
    if is_classifier(estimator) and getattr(estimator, "uses_models", True):  # own rows learns the labels only
        failures.update(dict.fromkeys(("check_classifiers_classes", "check_classifiers_train"), LEARNWARE_CLASSES))
        if not isinstance(estimator, FeatureAugmentReuser):  # its head learns the labels seen in fit
            failures["check_classifiers_one_label"] = LEARNWARE_CLASSES
    if isinstance(estimator, JobSelectorReuser):
        failures.update(dict.fromkeys(WIDTH_CHECKS, FIXED_WIDTH))
    return failures


@pytest.mark.parametrize(("estimator", "check", "expected"),
                         list(estimator_check_params(_instances(), expected_failures)))
def test_sklearn_estimator_checks(estimator, check, expected):
    run_check(estimator, check, expected)
