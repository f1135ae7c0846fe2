"""save_model never pickles on its own: objects without a safe format are refused at save time
with a typed error naming the formats, and skops files that no other process could load (a class
or function from inside a function, ``__main__`` or a lambda) are refused before they are kept."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from modelreuse.errors import UnsupportedModelError
from modelreuse.models import load_model, save_model
from modelreuse.models.tabular import read_table
from tests.conftest import BEIJING


@pytest.fixture(scope="module")
def station():
    """Real rows of one Beijing station: numeric columns with missing values and the categorical
    wind direction ``wd``; target PM2.5."""
    table = read_table(sorted(BEIJING.glob("*Wanliu*"))[0]).iloc[:400]
    table = table[table["PM2.5"].notna()]
    return table[["TEMP", "PRES", "DEWP", "WSPM", "wd"]], table["PM2.5"].to_numpy()


class _PlainPredictor:  # predicts, but is neither sklearn, torch nor ONNX
    def predict(self, X):
        return np.zeros(len(X))


@pytest.mark.parametrize("model", [_PlainPredictor(), {"coef": [1.0, 2.0]}, lambda X: X.sum(1)],
                         ids=["plain-class", "dict", "function"])
def test_unsupported_object_is_refused_naming_formats_and_trust(model, tmp_path):
    with pytest.raises(UnsupportedModelError) as info:
        save_model(model, tmp_path)
    message = str(info.value)
    for word in ("skops", "safetensors", "ONNX", "Pipeline", "fmt='pickle'", "trust=True"):
        assert word in message, message
    assert list(tmp_path.iterdir()) == []


def test_pickle_stays_available_when_asked_for(tmp_path):
    entry = save_model(_PlainPredictor(), tmp_path, fmt="pickle")
    assert entry["format"] == "pickle"
    assert load_model(tmp_path, entry, trust=True).predict(np.ones((3, 2))).shape == (3,)


def _local_regressor_class():
    class LocalRegressor(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(len(X), self.mean_)

    return LocalRegressor


def test_class_defined_in_a_function_is_refused(station, tmp_path):
    X, y = station
    model = _local_regressor_class()().fit(X[["TEMP"]], y)
    with pytest.raises(UnsupportedModelError, match="LocalRegressor.*importable module"):
        save_model(model, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_lambda_inside_a_pipeline_is_refused(station, tmp_path):
    X, y = station
    numeric = X[["TEMP", "PRES", "DEWP", "WSPM"]].fillna(0.0)
    model = make_pipeline(FunctionTransformer(lambda a: a / 10.0), Ridge()).fit(numeric, y)
    with pytest.raises(UnsupportedModelError, match="<lambda>"):
        save_model(model, tmp_path, fmt="skops")
    assert list(tmp_path.iterdir()) == []


def test_column_transformer_pipeline_on_raw_columns_is_saved(station, tmp_path):
    X, y = station
    prep = ColumnTransformer([("num", SimpleImputer(), ["TEMP", "PRES", "DEWP", "WSPM"]),
                              ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                                    OneHotEncoder(handle_unknown="ignore")), ["wd"])])
    model = make_pipeline(prep, FunctionTransformer(np.arcsinh), Ridge()).fit(X, y)
    entry = save_model(model, tmp_path)
    assert entry["format"] == "skops"
    np.testing.assert_allclose(load_model(tmp_path, entry).predict(X), model.predict(X))
