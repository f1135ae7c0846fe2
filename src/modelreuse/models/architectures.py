"""Registry of torch architectures that safetensors weights can be loaded into.

A safetensors file holds tensors only, never code; the manifest names an architecture
registered in :data:`ARCHITECTURES` plus its keyword arguments, so loading a torch learnware runs
only code that ships with modelreuse (or that the user registered in their own process with
``@ARCHITECTURES.register("name", example_kwargs={...})`` on a module factory).
``example_kwargs`` are the arguments of one valid instance when the factory has required ones.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from modelreuse._registry import Registry
from modelreuse.errors import ModelLoadError

ARCHITECTURES: Registry[Callable[..., nn.Module]] = Registry("architecture")


MAX_KWARGS = 32
MAX_LIST_ITEMS = 64
MAX_INT = 65_536
MAX_STR = 256


def check_architecture(architecture: Any) -> tuple[str, dict]:
    """Validate a manifest's ``{"name": ..., "kwargs": {...}}`` and return ``(name, kwargs)``.

    The kwargs come from someone else's package: only JSON scalars (integers within
    ``+-MAX_INT``, finite floats, short strings, booleans, null) or short lists of them are
    accepted, so hostile kwargs cannot make a registered factory loop or allocate without bound
    (the module is then built on the ``meta`` device and compared with the weights file before
    any real allocation). Raises :class:`ModelLoadError`.
    """
    if not isinstance(architecture, dict) or not isinstance(architecture.get("name"), str):
        raise ModelLoadError("a safetensors artifact needs architecture={'name': ..., 'kwargs': {...}} in the manifest")
    kwargs = architecture.get("kwargs", {})
    if not isinstance(kwargs, dict) or len(kwargs) > MAX_KWARGS:
        raise ModelLoadError(f"architecture kwargs must be an object with at most {MAX_KWARGS} entries")
    for key, value in kwargs.items():
        items = value if isinstance(value, list) else [value]
        if len(key) > MAX_STR or len(items) > MAX_LIST_ITEMS or not all(map(_bounded_scalar, items)):
            raise ModelLoadError(
                f"architecture kwarg {key[:MAX_STR]!r} is out of bounds: use JSON scalars (integers up to {MAX_INT}, "
                f"strings up to {MAX_STR} characters) or lists of at most {MAX_LIST_ITEMS} of them")
    return architecture["name"], dict(kwargs)


def _bounded_scalar(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_INT
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= MAX_INT
    return isinstance(value, str) and len(value) <= MAX_STR


def build_architecture(name: str, kwargs: dict, device: str | None = None) -> nn.Module:
    """Instantiate a registered architecture (on ``device``, e.g. ``"meta"`` to allocate nothing)
    or raise :class:`ModelLoadError`."""
    if name not in ARCHITECTURES:
        raise ModelLoadError(
            f"unknown torch architecture {name!r}; registered: {ARCHITECTURES.names()}. "
            "Register it with @modelreuse.models.architectures.ARCHITECTURES.register(name)."
        )
    try:
        with torch.device(device) if device else contextlib.nullcontext():
            return ARCHITECTURES.get(name)(**kwargs)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise ModelLoadError(f"bad arguments for architecture {name!r}: {exc}") from exc


@ARCHITECTURES.register("mlp", example_kwargs={"in_features": 8, "out_features": 2})
def mlp(in_features: int, out_features: int, hidden: tuple[int, ...] | list[int] = (64,)) -> nn.Module:
    """Fully connected ReLU network ``in -> hidden... -> out`` (logits or regression output)."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers).to(torch.float32)


class SmallCNN(nn.Module):
    """``blocks`` x (3x3 conv, BatchNorm, ReLU, 2x2 max-pool), channels ``width * 2**i``, then global
    average pooling to 2x2, a linear ``feature_dim`` layer with ReLU (the transferable representation,
    :meth:`features`) and a linear classifier to ``num_classes`` logits. Input ``(n, 3, 32, 32)``."""

    def __init__(self, width: int = 16, blocks: int = 2, feature_dim: int = 64, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for i in range(blocks):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            channels = out
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                   nn.Linear(4 * channels, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


@ARCHITECTURES.register("small_cnn")
def small_cnn(width: int = 16, blocks: int = 2, feature_dim: int = 64, num_classes: int = 10) -> nn.Module:
    """:class:`SmallCNN` for 32x32 RGB inputs (grey images repeated to 3 channels)."""
    return SmallCNN(int(width), int(blocks), int(feature_dim), int(num_classes))
