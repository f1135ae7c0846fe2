import numpy as np
import pytest
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import cross_val_score

from modelreuse import Client
from modelreuse.errors import InvalidTaskDataError
from tests.conftest import user_half


def test_fit_with_labels_picks_a_reuser_and_explains(filled_dock, beijing):
    dock, ids = filled_dock
    X, y = user_half(beijing, "Huairou")
    model = Client().fit(training_data=(X[:60], y[:60]), model_zoo_path=dock.root, unlabelled_data=X[60:300])
    assert model.chosen and model.reuser in model.selection_scores
    assert ids["Huairou"] in [c["learnware_id"] for c in model.chosen]
    assert r2_score(y[300:], model.predict(X[300:])) > 0.7
    assert "Huairou" in model.explain()


def test_the_returned_model_is_an_estimator(filled_dock, beijing):
    dock, _ = filled_dock
    X, y = user_half(beijing, "Huairou")
    model = Client(dock).fit(training_data=(X[:60], y[:60]), unlabelled_data=X[60:300])
    assert is_regressor(model) and not hasattr(model, "predict_proba") and model.n_features_in_ == X.shape[1]
    assert model.score(X[300:], y[300:]) == pytest.approx(r2_score(y[300:], model.predict(X[300:])))
    copy = clone(model)
    with pytest.raises(NotFittedError):
        copy.predict(X[:5])
    copy.fit(X[:60], y[:60])  # the same candidates and rows: the same choice and predictions
    assert copy.reuser == model.reuser
    np.testing.assert_allclose(copy.predict(X[300:]), model.predict(X[300:]))
    assert cross_val_score(model, X[:120], y[:120]).mean() > 0.5


def test_fit_without_labels(filled_dock, beijing):
    dock, ids = filled_dock
    X, y = user_half(beijing, "Wanliu")
    model = Client(dock).fit(training_data=X, task_type="regression")
    assert model.reuser in ("single", "job_selector")
    assert model.chosen[0]["learnware_id"] == ids["Wanliu"]


def test_bad_training_data(filled_dock, beijing):
    dock, _ = filled_dock
    X, y = user_half(beijing, "Wanliu")
    with pytest.raises(InvalidTaskDataError, match="rows"):
        Client(dock).fit(training_data=(X[:10], y[:11]))
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(InvalidTaskDataError, match="inf"):
        Client(dock).fit(training_data=(X_inf, y))
    with pytest.raises(InvalidTaskDataError, match="task_type"):
        Client(dock).fit(training_data=X)


def test_missing_cells_in_a_matrix_are_accepted(filled_dock, beijing):
    """NaN cells: the task spec fills them with the rows' own column means, the learnwares' models
    get them as they are (their adapters fill them with their RKME center)."""
    dock, ids = filled_dock
    X, y = user_half(beijing, "Huairou")
    X_nan = X.copy()
    X_nan[::3, 0] = np.nan
    model = Client(dock).fit(training_data=(X_nan[:60], y[:60]), unlabelled_data=X_nan[60:300])
    assert ids["Huairou"] in model.ranking.ids[:1]
    assert r2_score(y[300:], model.predict(X_nan[300:])) > 0.6


def test_nothing_fits_raises_or_trains_on_own_rows(site_learnwares, beijing, tmp_path):
    from modelreuse.dock import Dock
    from modelreuse.errors import NothingFitsError

    dock = Dock(tmp_path / "no-huairou")
    for site in ("Aotizhongxin", "Changping", "Wanliu"):
        dock.submit(site_learnwares[site], validate=False)
    X, y = user_half(beijing, "Huairou")
    with pytest.raises(NothingFitsError, match="on_nothing_fits") as info:
        Client(dock).fit(training_data=(X[:60], y[:60]), unlabelled_data=X[60:300])
    assert len(info.value.ranking) > 0
    model = Client(dock).fit(training_data=(X[:60], y[:60]), unlabelled_data=X[60:300], on_nothing_fits="train")
    assert model.reuser == "own_rows (nothing fits)" and "not used" in model.explain()
    assert model.predict(X[300:]).shape == (len(X) - 300,)
    anyway = Client(dock).fit(training_data=(X[:60], y[:60]), unlabelled_data=X[60:300], on_nothing_fits="reuse")
    assert anyway.chosen and anyway.reuser != "own_rows (nothing fits)"
