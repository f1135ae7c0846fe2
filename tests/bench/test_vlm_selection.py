"""Language-only VLM selection: the LOVM protocol reproduces the published INB baselines exactly."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from modelreuse.bench.vlm_selection import IMAGENET, load_benchmark
from modelreuse.metrics.ranking import lovm_tau, r5
from modelreuse.records.zscore import within_group_z
from modelreuse.selection.text_neighbours import TextNeighbours
from tests.conftest import DATA


@pytest.mark.parametrize("name, models, published_r5, published_tau", [
    ("lovm", 35, 0.452, 0.177),  # LOVM paper, acc1
    ("swab", 43, 0.443, 0.267),  # SWAB paper
])
def test_imagenet_baseline_matches_published_values(name, models, published_r5, published_tau):
    bench = load_benchmark(name, DATA)
    acc = bench.accuracy
    assert acc.shape == (23, models) and not acc.isna().any().any()
    rows = [(r5(acc.loc[IMAGENET].to_numpy(), acc.loc[d].to_numpy()),
             lovm_tau(acc.loc[IMAGENET].to_numpy(), acc.loc[d].to_numpy())) for d in acc.index]
    assert sum(r for r, _ in rows) / 23 == pytest.approx(published_r5, abs=5e-4)
    assert sum(t for _, t in rows) / 23 == pytest.approx(published_tau, abs=5e-4)


def test_dataset_texts_are_read_despite_the_malformed_upstream_json():
    bench = load_benchmark("lovm", DATA)
    assert "medical" in bench.texts["pcam"] and "classes:" in bench.texts["eurosat"]
    assert "kitti_closest_vehicle_distance" in bench.texts and "photograph" in bench.texts["kitti_closest_vehicle_distance"]


def test_text_neighbours_weight_datasets_whose_classes_read_alike(tmp_path):
    """With a sharp softmax the prediction for SVHN (house-number digits) follows MNIST's results,
    the only other digit dataset, and not a pet or car dataset's."""
    bench = load_benchmark("swab", DATA)
    assert bench.class_texts["pets"][0].startswith("Abyssinian: animal, cat")
    assert len(bench.class_texts[IMAGENET]) == 100
    known = ["mnist", "pets", "cars", IMAGENET]
    ours = TextNeighbours(temperatures=(0.01,), reference_weights=(0.0,), cache=tmp_path)
    predicted = ours.fit(bench.accuracy.loc[known], bench.class_texts).predict(bench.class_texts["svhn"])
    z = within_group_z(bench.accuracy.loc[known].to_numpy().T).T
    assert ours.datasets_ == ["mnist", "pets", "cars"] and ours.reference_weight_ == 0.0
    assert np.corrcoef(predicted, z[0])[0, 1] > 0.99 > np.corrcoef(predicted, z[1])[0, 1]
    with pytest.raises(NotFittedError):
        TextNeighbours().predict(bench.class_texts["svhn"])
    assert clone(ours).get_params() == ours.get_params()


def test_bench_vlm_cli_reports_every_method_and_ours_beats_inb_on_lovm(tmp_path):
    import json

    from typer.testing import CliRunner

    from modelreuse.cli import app

    out = CliRunner().invoke(app, ["bench", "vlm", "--benchmark", "lovm", "--data", str(DATA),
                                   "--cache", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    methods = json.loads(out.output)["methods"]
    assert {"inb", "modelgpt", "text_neighbours"} <= set(methods)
    assert methods["inb"]["r5"] == pytest.approx(0.452, abs=5e-4)
    assert methods["text_neighbours"]["r5"] + methods["text_neighbours"]["tau"] > \
        methods["inb"]["r5"] + methods["inb"]["tau"]
