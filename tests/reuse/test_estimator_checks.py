"""scikit-learn's estimator checks on every public estimator of ``modelreuse.reuse``.

The checks fit on their own random rows of many widths and label sets. The learnwares here are
real pre-fitted models that accept rows of any width (each predicts a real station's prior), so
the checks exercise the reusers themselves; the job selector also needs its learnwares' RKME
specs, which have the stations' fixed width. Each expected failure is listed with its reason in
:func:`expected_failures`; every other check runs and must pass (an expected failure that passes
is reported by pytest as XPASS).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from modelreuse.models import ModelAdapter
from modelreuse.models.tabular import list_tables, read_table
from modelreuse.reuse.auto import AutoReuser, Candidate, build_reuser
from modelreuse.reuse.base import REUSERS
from modelreuse.reuse.feature_augment import FeatureAugmentReuser
from modelreuse.reuse.job_selector import JobSelectorReuser
from modelreuse.reuse.reused_model import ReusedModel
from tests.conftest import BEIJING
from tests.reuse.conftest import aqi_band


def _station_priors() -> dict[str, list[ModelAdapter]]:
    """Per task type, two learnwares that predict a station's prior (mean or median PM2.5, AQI-band
    frequencies) from its first 2000 real rows: real pre-fitted models that take rows of any width,
    so the checks' random data exercises the reusers themselves."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    ys = []
    for path in list_tables(BEIJING)[:2]:
        y = read_table(path)["PM2.5"].to_numpy(np.float64)[:2000]
        ys.append(y[np.isfinite(y)])
    rows = [np.zeros((len(y), 1)) for y in ys]
    return {
        "regression": [ModelAdapter(DummyRegressor(strategy=s).fit(r, y), "regression")
                       for s, r, y in zip(("mean", "median"), rows, ys)],
        "classification": [ModelAdapter(DummyClassifier(strategy="prior").fit(r, aqi_band(y)), "classification")
                           for r, y in zip(rows, ys)],
    }


def _station_rkmes(n: int) -> list:
    """RKMEs of ``n`` real stations' encoded rows (the job selector routes rows by them; their
    width is the stations' feature count)."""
    from modelreuse.models.table_schema import TableSchema
    from modelreuse.models.tabular import impute_means
    from modelreuse.specs.rkme import RKMESpec

    tables = [read_table(p).iloc[:300] for p in list_tables(BEIJING)[:n]]
    encoder = TableSchema.infer(tables, target="PM2.5")
    return [RKMESpec.fit(impute_means(encoder.encode(t)), m=10, max_iter=5) for t in tables]


def _instances():
    """Every registered reuser, AutoReuser and ReusedModel, for each task type, over the station
    priors. AutoReuser's choice by score is tested on real rows in test_auto.py; here
    ``min_labels`` keeps it on the label-free path, so the checks' many fits stay fast."""
    priors = _station_priors()
    specs = _station_rkmes(2)
    for task_type, models in priors.items():
        mixture = tuple(Candidate(str(i), f"station {i}", m, "prior", 0.5, s)
                        for i, (m, s) in enumerate(zip(models, specs)))
        no_specs = tuple(Candidate(c.learnware_id, c.name, c.model, c.reason, c.weight) for c in mixture)
        for name in REUSERS.names():
            yield build_reuser(name, mixture if REUSERS.metadata(name).get("needs_specs") else no_specs,
                               no_specs, task_type)
        yield AutoReuser(no_specs, no_specs, task_type, min_labels=10**9)
        yield ReusedModel(AutoReuser(no_specs, no_specs, task_type, min_labels=10**9))


LEARNWARE_CLASSES = ("the reuser predicts its learnwares' classes (here the four AQI bands), not only the labels "
                     "seen in fit: classes_ and predict_proba's columns are the union of the models' classes")
FIXED_WIDTH = ("the job selector routes rows by its learnwares' RKME specs, which have the stations' fixed "
               "input width; fit refuses the check's rows of another width (InvalidTaskDataError)")
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


def expected_failures(estimator) -> dict[str, str]:
    """Each check expected to fail for ``estimator``, with the reason."""
    failures = {}
    if is_classifier(estimator):
        failures.update(dict.fromkeys(("check_classifiers_classes", "check_classifiers_train"), LEARNWARE_CLASSES))
        if not isinstance(estimator, FeatureAugmentReuser):  # its head learns the labels seen in fit
            failures["check_classifiers_one_label"] = LEARNWARE_CLASSES
    if isinstance(estimator, JobSelectorReuser):
        failures.update(dict.fromkeys(WIDTH_CHECKS, FIXED_WIDTH))
    return failures


@parametrize_with_checks(list(_instances()), expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
