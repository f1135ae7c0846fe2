"""Every registered torch architecture builds from manifest-safe kwargs on the meta device
(allocating nothing) with exactly the tensors a real build has, which is what safetensors loading
compares weights files against."""

import re

import pytest
import torch

from modelreuse.errors import ModelLoadError
from modelreuse.models.architectures import ARCHITECTURES, build_architecture, check_architecture


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_architecture_contract(name):
    kwargs = ARCHITECTURES.metadata(name).get("example_kwargs", {})
    assert check_architecture({"name": name, "kwargs": kwargs}) == (name, kwargs)
    meta = build_architecture(name, kwargs, device="meta")
    real = build_architecture(name, kwargs)
    assert isinstance(real, torch.nn.Module) and len(real.state_dict()) > 0
    assert all(t.is_meta for t in meta.state_dict().values())
    assert {k: t.shape for k, t in meta.state_dict().items()} == {k: t.shape for k, t in real.state_dict().items()}


def test_unknown_architecture_lists_the_registered_ones():
    with pytest.raises(ModelLoadError, match=re.escape(f"unknown torch architecture 'nope'; registered: {ARCHITECTURES.names()}")):
        build_architecture("nope", {})
