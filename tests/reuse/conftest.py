"""Real candidates for the reuser tests: the Beijing station learnwares (regression) and, for
classification, logistic regressions on China's AQI PM2.5 bands of the same stations' rows."""

from __future__ import annotations

import numpy as np
import pytest

from modelreuse.models import ModelAdapter
from modelreuse.models.tabular import impute_means
from modelreuse.reuse.auto import Candidate
from tests.conftest import user_half

USER = "Huairou"
MIXTURE = ("Huairou", "Wanliu")
AQI_BANDS = [35, 75, 150]


def aqi_band(pm25: np.ndarray) -> np.ndarray:
    return np.digitize(pm25, AQI_BANDS)


def _candidates(models: dict, specs: dict) -> tuple[tuple[Candidate, ...], tuple[Candidate, ...]]:
    """Mixture: the user's station and one other, equal weights; ranking: the user's station first."""
    order = [USER, *(s for s in models if s != USER)]
    mixture = tuple(Candidate(s, s, models[s], "mixture member", 1 / len(MIXTURE), specs[s]) for s in MIXTURE)
    ranking = tuple(Candidate(s, s, models[s], "ranked", None, specs[s]) for s in order)
    return mixture, ranking


@pytest.fixture(scope="session")
def regression_case(site_learnwares, beijing):
    """``(mixture, ranking, (X, y))``: station learnwares and the user's unseen rows."""
    models = {s: lw.load_model() for s, lw in site_learnwares.items()}
    specs = {s: lw.rkme for s, lw in site_learnwares.items()}
    return (*_candidates(models, specs), user_half(beijing, USER))


@pytest.fixture(scope="session")
def classification_case(site_learnwares, beijing):
    """Like ``regression_case`` with one AQI-band classifier per station (first half of its rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    models = {}
    for s in site_learnwares:
        X, y = beijing[s]["X"], beijing[s]["y"]
        half = len(X) // 2
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        models[s] = ModelAdapter(clf.fit(impute_means(X[:half]), aqi_band(y[:half])), "classification")
    specs = {s: lw.rkme for s, lw in site_learnwares.items()}
    X, y = user_half(beijing, USER)
    return (*_candidates(models, specs), (X, aqi_band(y)))
