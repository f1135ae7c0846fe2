"""The image zoo's parts on real images: readers, the source CNN, the target tasks and one
benchmark target scored end to end with cheap candidates."""

import gzip

import numpy as np
import pytest

from modelreuse.bench.transfer_bench import score_target
from modelreuse.datasets.images import cifar10, fashion_mnist, load_split, mnist
from modelreuse.errors import InvalidTaskDataError
from modelreuse.zoo import image as image_zoo
from modelreuse.zoo.base import CandidateOutputs, TransferTarget
from tests.conftest import DATA


def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_reader_round_trips_real_digits(tmp_path):
    images, labels = mnist(DATA, "test")
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[:50])
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:50])
    read_images, read_labels = fashion_mnist("test", folder=tmp_path)
    np.testing.assert_array_equal(read_images, images[:50])
    np.testing.assert_array_equal(read_labels, labels[:50])


def test_missing_fashion_mnist_and_unknown_dataset_are_typed_errors(tmp_path):
    with pytest.raises(InvalidTaskDataError, match="apt-get install"):
        fashion_mnist("train", folder=tmp_path)
    with pytest.raises(InvalidTaskDataError, match="unknown image dataset"):
        load_split("svhn", DATA, "train")


def test_cifar_rows_decode_to_rgb_with_standard_labels():
    images, labels = cifar10(DATA, "test", rows=np.array([0, 5000, 9999]))
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == [0, 5, 9]  # the pack is stored class by class, alphabetical = standard order
    assert images.std() > 20  # real pictures, not blank decodes


def test_subtasks_have_contiguous_labels_and_at_least_two_classes():
    assert set(image_zoo.SUBTASKS) == set(image_zoo.DATASETS)
    for tasks in image_zoo.SUBTASKS.values():
        assert len(tasks) == 5
        for mapping in tasks.values():
            assert sorted(set(mapping.values())) == list(range(len(set(mapping.values())))) and len(set(mapping.values())) >= 2


def test_source_cnn_learns_is_cached_and_reloads_identically(tmp_path, monkeypatch):
    monkeypatch.setattr(image_zoo, "SOURCE_ROWS", 4000)
    monkeypatch.setitem(image_zoo.CNN_RECIPES, "tiny", (16, 2, 32, 3))
    model = image_zoo.train_source_cnn("mnist", "tiny", DATA, tmp_path)
    assert (tmp_path / "cnn-mnist-tiny-seed0.safetensors").is_file()
    images, labels = mnist(DATA, "test")
    feats, proba = image_zoo.cnn_outputs(model, images[::20])
    assert feats.shape == (500, 32) and proba.shape == (500, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == labels[::20]).mean() > 0.5  # chance is 0.1
    again = image_zoo.cnn_outputs(image_zoo.train_source_cnn("mnist", "tiny", DATA, tmp_path), images[::20])
    np.testing.assert_array_equal(again[0], feats)


def test_score_target_ranks_candidates_on_a_real_image_task(tmp_path, monkeypatch):
    monkeypatch.setattr(image_zoo, "SOURCE_ROWS", 2000)
    monkeypatch.setitem(image_zoo.CNN_RECIPES, "tiny", (8, 2, 32, 1))
    model = image_zoo.train_source_cnn("mnist", "tiny", DATA, tmp_path)
    (x_train, y_train), (x_test, y_test) = (cifar10(DATA, s, rows=np.arange(0, n, n // 300)) for s, n in
                                            (("train", 50000), ("test", 10000)))
    trained = CandidateOutputs("mnist-cnn", *image_zoo.cnn_outputs(model, x_train), image_zoo.cnn_outputs(model, x_test)[0])
    rng = np.random.default_rng(0)
    noise = CandidateOutputs("noise", rng.normal(size=(len(y_train), 32)), np.full((len(y_train), 10), 0.1),
                             rng.normal(size=(len(y_test), 32)))
    target = TransferTarget("cifar10/all10", y_train, y_test, lambda: [trained, noise])
    result = score_target(target, metrics=("logme", "leep", "hscore"), max_rows=200)
    assert result["models"] == ["mnist-cnn", "noise"] and result["dims"] == [32, 32]
    assert result["truth"][0] > result["truth"][1]  # real features beat noise on the probe
    assert result["scores"]["logme"][0] > result["scores"]["logme"][1]
