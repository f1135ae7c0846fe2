"""PAVE files from someone else: the shared base adapter (peft safetensors + JSON config) and the spec
``.npz``. Malformed and hostile files raise :class:`SpecError` and run nothing; honest ones round trip and
load in peft itself."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from modelreuse.errors import SpecError
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import CONFIG_FILE, WEIGHTS_FILE, PAVEBase


class _WritesCanary:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return open, (str(self.canary), "w")


@pytest.fixture(scope="module")
def image_base() -> PAVEBase:
    return PAVEBase.create("image", rank=2, seed=0)


@pytest.fixture()
def saved_base(image_base, tmp_path):
    image_base.save(tmp_path / "base")
    return tmp_path / "base"


def _spec(base: PAVEBase, seed: int = 0, dtype: str = "float32") -> PAVESpec:
    vector = np.random.default_rng(seed).normal(size=base.vector_length)
    return PAVESpec.from_vector(vector, base, steps=3, role="task", n_classes=2, dtype=dtype)


def test_base_is_seeded_and_round_trips(image_base, saved_base):
    again = PAVEBase.create("image", rank=2, seed=0)
    assert again.id == image_base.id and PAVEBase.create("image", rank=2, seed=1).id != image_base.id
    loaded = PAVEBase.load(saved_base)
    assert loaded.id == image_base.id and loaded.targets == image_base.targets and loaded.seed == 0
    assert loaded.modality == "image" and loaded.base_model == "efficientnet-lite0"
    assert loaded.vector_length == sum(int(np.prod(s)) for s in image_base.b_shapes.values())
    assert sorted(p.name for p in saved_base.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]


@pytest.mark.parametrize("base_model", ["all-MiniLM-L6-v2", "efficientnet-lite0"])
def test_the_shape_table_is_the_real_models_lora_able_modules(base_model):
    import torch

    from modelreuse.specs._pave_models import is_lora_able, module_shapes, torch_base

    real = {}
    for name, module in torch_base(base_model).named_modules():
        if is_lora_able(base_model, name) and isinstance(module, torch.nn.Linear):
            real[name] = ((1, module.in_features), (module.out_features, 1))
        elif is_lora_able(base_model, name) and module.kernel_size == (1, 1) and module.groups == 1:
            real[name] = ((1, module.in_channels, 1, 1), (module.out_channels, 1, 1, 1))
    assert module_shapes(base_model) == real


def test_reading_a_base_and_a_spec_loads_no_model(saved_base, image_base, tmp_path):
    import subprocess
    import sys

    _spec(image_base).save(tmp_path / "pave.npz")
    code = ("import sys; from modelreuse.specs.pave_base import PAVEBase; from modelreuse.specs.pave import PAVESpec; "
            f"b = PAVEBase.load({str(saved_base)!r}); PAVESpec.load({str(tmp_path / 'pave.npz')!r}).check_base(b); "
            "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_text_base_is_a_peft_adapter_peft_loads(tmp_path):
    import peft

    from modelreuse.specs._pave_models import minilm

    base = PAVEBase.create("text", rank=4, seed=3)
    base.save(tmp_path)
    model = peft.PeftModel.from_pretrained(minilm()[0].__class__(minilm()[0].config), tmp_path)
    state = model.state_dict()
    for target in base.targets:
        np.testing.assert_array_equal(state[f"base_model.model.{target}.lora_A.default.weight"].numpy(), base.lora_A[target])
        assert not state[f"base_model.model.{target}.lora_B.default.weight"].any()


def _rewrite_config(folder, **changes):
    config = json.loads((folder / CONFIG_FILE).read_text())
    config.update(changes)
    (folder / CONFIG_FILE).write_text(json.dumps(config))


@pytest.mark.parametrize("change", [
    {"target_modules": ["_blocks.3._depthwise_conv"]},          # not LoRA-able
    {"target_modules": ["_blocks.15._expand_conv", "_conv_head"]},  # fewer modules than the tensors
    {"r": 4},                                                   # tensors are rank 2
    {"lora_alpha": 100},
    {"base_model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2"},
    {"modules_to_save": ["_fc"]},                               # an extra key
    {"r": True},
])
def test_base_config_that_does_not_match_the_tensors_is_refused(saved_base, change):
    _rewrite_config(saved_base, **change)
    with pytest.raises(SpecError):
        PAVEBase.load(saved_base)


def test_base_tensors_must_be_the_seeded_shapes_and_zero_b(saved_base, image_base):
    tensors = load_file(saved_base / WEIGHTS_FILE)
    target = image_base.targets[0]
    cases = {
        "wrong A shape": {f"base_model.model.{target}.lora_A.weight": np.ones((3, 5, 1, 1), np.float32)},
        "NaN in A": {f"base_model.model.{target}.lora_A.weight": np.full(image_base.lora_A[target].shape, np.nan, np.float32)},
        "non-zero B": {f"base_model.model.{target}.lora_B.weight": np.ones(image_base.b_shapes[target], np.float32)},
        "float64 A": {f"base_model.model.{target}.lora_A.weight": image_base.lora_A[target].astype(np.float64)},
        "extra tensor": {"base_model.model._fc.weight": np.ones((2, 2), np.float32)},
    }
    for what, change in cases.items():
        folder = saved_base.parent / what.replace(" ", "_")
        shutil.copytree(saved_base, folder)
        save_file({**tensors, **change}, str(folder / WEIGHTS_FILE))
        with pytest.raises(SpecError):
            PAVEBase.load(folder)


def test_base_weights_that_are_not_safetensors_are_refused_unexecuted(saved_base, tmp_path):
    honest = (saved_base / WEIGHTS_FILE).read_bytes()
    canary = tmp_path / "canary"
    for payload in (honest[: len(honest) // 2], pickle.dumps(_WritesCanary(canary)), b"", honest[:8]):
        (saved_base / WEIGHTS_FILE).write_bytes(payload)
        with pytest.raises(SpecError):
            PAVEBase.load(saved_base)
    (saved_base / WEIGHTS_FILE).write_bytes(honest)
    (saved_base / CONFIG_FILE).write_bytes(b"\x80\x04not json")
    with pytest.raises(SpecError):
        PAVEBase.load(saved_base)
    assert not canary.exists()


def test_spec_round_trips_in_both_dtypes(image_base, tmp_path):
    for dtype in ("float32", "float16"):
        spec = _spec(image_base, dtype=dtype)
        spec.save(tmp_path / "s.npz")
        again = PAVESpec.load(tmp_path / "s.npz")
        assert again.vector.dtype == np.dtype(dtype) and again.targets == image_base.targets
        np.testing.assert_array_equal(again.embedding(), spec.embedding())
        assert again.cosine(spec) == pytest.approx(1.0, abs=1e-6)
        assert np.linalg.norm(again.embedding()) == pytest.approx(1.0, abs=1e-5)


def _save_arrays(path, spec: PAVESpec, **changes):
    arrays = dict(vector=spec.vector, norm=np.float64(spec.norm), rank=np.int64(spec.rank), steps=np.int64(spec.steps),
                  n_classes=np.int64(spec.n_classes), base_id=np.str_(spec.base_id), base_model=np.str_(spec.base_model),
                  modality=np.str_(spec.modality), role=np.str_(spec.role), targets=np.array(spec.targets, dtype=str))
    arrays.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **{k: v for k, v in arrays.items() if v is not None}, allow_pickle=True)


def test_hostile_spec_files_are_refused_unexecuted(image_base, tmp_path):
    spec = _spec(image_base)
    canary = tmp_path / "canary"
    v = spec.vector
    cases = {
        "pickled vector": {"vector": np.array([_WritesCanary(canary)] * 3, dtype=object)},
        "NaN": {"vector": np.where(np.arange(len(v)) == 5, np.nan, v).astype(np.float32)},
        "inf": {"vector": np.where(np.arange(len(v)) == 5, np.inf, v).astype(np.float32)},
        "zero norm": {"vector": np.zeros_like(v), "norm": np.float64(0.0)},
        "2-d vector": {"vector": v.reshape(2, -1)},
        "float64 vector": {"vector": v.astype(np.float64)},
        "int vector": {"vector": np.ones(len(v), dtype=np.int32)},
        "norm mismatch": {"norm": np.float64(spec.norm * 2)},
        "bad role": {"role": np.str_("oracle")},
        "unknown target": {"targets": np.array(["_blocks.3._depthwise_conv"] * len(spec.targets), dtype=str)},
        "other model's targets": {"base_model": np.str_("all-MiniLM-L6-v2"), "modality": np.str_("text")},
        "short base id": {"base_id": np.str_("abc")},
        "missing member": {"norm": None},
        "length not a multiple of rank": {"vector": v[:-1], "norm": np.float64(np.linalg.norm(v[:-1]))},
        "zero rank": {"rank": np.int64(0)},
    }
    for what, change in cases.items():
        path = tmp_path / f"{what.replace(' ', '_')}.npz"
        _save_arrays(path, spec, **change)
        with pytest.raises(SpecError):
            PAVESpec.load(path)
    assert not canary.exists()


def test_in_memory_specs_are_checked_too(image_base):
    with pytest.raises(SpecError, match="NaN"):
        PAVESpec.from_vector(np.full(image_base.vector_length, np.nan), image_base, steps=1, role="model", n_classes=2)
    with pytest.raises(SpecError, match="all zero"):
        PAVESpec.from_vector(np.zeros(image_base.vector_length), image_base, steps=1, role="model", n_classes=2)
    with pytest.raises(SpecError, match="entries"):
        PAVESpec.from_vector(np.ones(7), image_base, steps=1, role="model", n_classes=2)


def test_specs_on_another_base_or_rank_do_not_compare(image_base):
    spec = _spec(image_base)
    other_seed = _spec(PAVEBase.create("image", rank=2, seed=1))
    other_rank = _spec(PAVEBase.create("image", rank=3, seed=0))
    for other in (other_seed, other_rank):
        with pytest.raises(SpecError, match="base adapter"):
            spec.cosine(other)
        with pytest.raises(SpecError):
            other.check_base(image_base)
    with pytest.raises(SpecError):
        spec.cosine(np.ones(image_base.vector_length))
    spec.check_base(image_base)
    assert -1.0 <= spec.cosine(_spec(image_base, seed=1)) <= 1.0


def test_full_update_is_the_scaled_product_b_a(image_base):
    """Theorem 4's two sides on one base: cos(B1, B2) against cos(B1 A, B2 A), with B A computed per target."""
    v1, v2 = (np.random.default_rng(s).normal(size=image_base.vector_length) for s in (0, 1))
    target, (out, rank) = image_base.targets[-1], image_base.b_shapes[image_base.targets[-1]][:2]
    b = v1[-out * rank:].reshape(out, rank)
    np.testing.assert_allclose(image_base.full_update(v1)[-out * image_base.lora_A[target].shape[1]:],
                               (image_base.alpha / rank) * (b @ image_base.lora_A[target]).ravel(), rtol=1e-6)
    u1, u2 = image_base.full_update(v1), image_base.full_update(v2 + v1)
    cos_b = (v1 @ (v2 + v1)) / np.linalg.norm(v1) / np.linalg.norm(v2 + v1)
    assert abs(u1 @ u2 / np.linalg.norm(u1) / np.linalg.norm(u2) - cos_b) < 0.1
    with pytest.raises(SpecError):
        image_base.full_update(np.ones(3))
