"""The records spec on real leaderboard rows (torchvision's published weights table)."""

from __future__ import annotations

import numpy as np
import pytest

from modelreuse.datasets.importers.leaderboard import import_all
from modelreuse.errors import SpecError
from modelreuse.specs import load_spec
from modelreuse.specs.records import RecordsSpec

RESNET = "ResNet50_Weights.IMAGENET1K_V2"


@pytest.fixture(scope="module")
def torchvision(data_root):
    return import_all(data_root, only=["torchvision"])


def spec_of(records, model: str) -> RecordsSpec:
    meta = records.models.set_index("model").loc[model]
    return RecordsSpec.from_frame(records.records[records.records["model"] == model], family=meta["family"],
                                  params=float(meta["params"]))


def test_real_rows_round_trip(torchvision, tmp_path):
    spec = spec_of(torchvision, RESNET)
    rows = spec.to_frame(RESNET).set_index(["dataset", "metric"])
    assert rows.loc[("ImageNet-1K", "acc@1"), "score"] == pytest.approx(80.858)
    assert spec.params == 25557032
    spec.save(tmp_path / "records.json")
    again = load_spec("records", tmp_path / "records.json")
    assert again == spec
    np.testing.assert_array_equal(again.embedding(), spec.embedding())


def test_embedding_is_normalised_and_tells_models_apart(torchvision):
    resnet, other = spec_of(torchvision, RESNET), spec_of(torchvision, "ResNet18_Weights.IMAGENET1K_V1")
    a, b = resnet.embedding(), other.embedding()
    assert np.linalg.norm(a) == pytest.approx(1.0)
    assert 0.5 < float(a @ b) < 1.0 - 1e-6     # same benchmarks, different results


def test_direction_is_inferred_or_must_be_given():
    spec = RecordsSpec([{"dataset": "KITTI", "metric": "epe", "score": 3.1}])
    assert spec.records[0]["higher_is_better"] is False and spec.records[0]["source"] == "submitted"
    with pytest.raises(SpecError, match="higher"):
        RecordsSpec([{"dataset": "X", "metric": "zorp", "score": 1.0}])
    assert RecordsSpec([{"dataset": "X", "metric": "zorp", "score": 1.0, "higher_is_better": True}])


@pytest.mark.parametrize("records, params, message", [
    ([], None, "at least one"),
    ([{"dataset": "X", "metric": "acc", "score": float("nan")}], None, "finite score"),
    ([{"dataset": "X", "metric": "acc", "score": "high"}], None, "finite score"),
    ([{"dataset": "", "metric": "acc", "score": 1.0}], None, "dataset and a metric"),
    ([{"dataset": "X", "metric": "acc", "score": 1.0, "split": "test"}], None, "unknown field"),
    ([{"dataset": "X", "metric": "acc", "score": 1.0}, {"dataset": "X", "metric": "acc", "score": 2.0}], None, "repeat"),
    ([{"dataset": "X", "metric": "acc", "score": 1.0}], -5.0, "params"),
])
def test_bad_records_are_typed_errors(records, params, message):
    with pytest.raises(SpecError, match=message):
        RecordsSpec(records, params=params)
