"""Registry of torch architectures that safetensors weights can be loaded into.

A safetensors file holds tensors only, never code; the manifest names an architecture
registered here plus its keyword arguments, so loading a torch learnware runs only code that
ships with modelreuse (or that the user registered in their own process).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from modelreuse.errors import ModelLoadError

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}


def register_architecture(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: make a module factory loadable by ``name``."""

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        ARCHITECTURES[name] = factory
        return factory

    return decorator


def build_architecture(name: str, kwargs: dict) -> nn.Module:
    """Instantiate a registered architecture or raise :class:`ModelLoadError`."""
    if name not in ARCHITECTURES:
        raise ModelLoadError(
            f"unknown torch architecture {name!r}; registered: {sorted(ARCHITECTURES)}. "
            "Register it with modelreuse.models.architectures.register_architecture."
        )
    try:
        return ARCHITECTURES[name](**kwargs)
    except TypeError as exc:
        raise ModelLoadError(f"bad arguments for architecture {name!r}: {exc}") from exc


@register_architecture("mlp")
def mlp(in_features: int, out_features: int, hidden: tuple[int, ...] | list[int] = (64,)) -> nn.Module:
    """Fully connected ReLU network ``in -> hidden... -> out`` (logits or regression output)."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers).to(torch.float32)
