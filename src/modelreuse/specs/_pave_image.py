"""Image rows for a PAVE fit: EfficientNet-Lite0 with LoRA on the 1x1 convolutions of its top blocks.

Images (uint8 ``(n, H, W)`` or ``(n, H, W, 3)``; grey is repeated to three channels) are resized
bilinearly to ``SIZE`` pixels, not the network's native 224, and scaled to ``[-1, 1]`` (the
preprocessing of :func:`modelreuse.models.encoders.efficientnet_outputs`): at 96 px a forward pass
costs about a fifth of one at 224, which is what lets a model vector over 2,000 images fit the
speed goal on two CPU cores. One frozen pass (no gradients, batch norm on its running statistics)
caches the activations entering the lowest targeted block (float16) and the features ``z0``;
training runs only the blocks from there up.

Features the head compares with the class prototypes: the ImageNet logits ``_fc(pool(x))`` when
the classifier ``_fc`` is a target (the default base), otherwise the 1280-d pooled features.

peft cannot put LoRA on the package's ``Conv2dStaticSamePadding`` (it rebuilds ``lora_B`` with
the layer's own class, whose constructor needs an image size); the trained copy therefore swaps
each targeted 1x1 convolution (whose padding is the identity) for a plain ``nn.Conv2d`` with the
same weights, which computes the same function. (torch is imported with this module: it is
loaded only when an image vector is fitted.)
"""

from __future__ import annotations

import copy
import re

import numpy as np
import torch
import torch.nn.functional as F

from modelreuse.errors import InvalidTaskDataError
from modelreuse.specs._pave_fit import Prepared, inject_lora
from modelreuse.specs._pave_models import efficientnet_lite0

SIZE = 96
ENCODER_SIZE = 224
FROZEN_BATCH = 64
MAX_SIDE = 4096
_BLOCK = re.compile(r"_blocks\.(\d+)\.(.+)")


def check_inputs(images, what: str) -> np.ndarray:
    """``images`` as a uint8 ``(n, H, W, 3)`` array of at least two images, or :class:`InvalidTaskDataError`."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise InvalidTaskDataError(f"{what} must be a uint8 numpy array of images, got "
                                   f"{getattr(images, 'dtype', type(images).__name__)}")
    if images.ndim == 3:
        images = np.repeat(images[..., None], 3, axis=-1)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) < 2 \
            or not 1 <= min(images.shape[1:3]) <= max(images.shape[1:3]) <= MAX_SIDE:
        raise InvalidTaskDataError(f"{what} must be (n >= 2, H, W) or (n >= 2, H, W, 3) with sides up to "
                                   f"{MAX_SIDE}, got shape {images.shape}")
    return images


def take(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return images[rows]


def encoder_features(images: np.ndarray, prepared: Prepared) -> np.ndarray:
    """The dock's image-encoder features: 1280-d pooled features at 224 px under the frozen base."""
    import torch

    model = efficientnet_lite0()
    with torch.no_grad():
        return np.concatenate([model.extract_features(_pixels(images[s : s + FROZEN_BATCH], ENCODER_SIZE))
                               .mean(dim=(2, 3)).double().numpy() for s in range(0, len(images), FROZEN_BATCH)])


def prepare(images: np.ndarray, base) -> Prepared:
    """The :class:`Prepared` of ``images`` on ``base`` (module doc)."""
    model = efficientnet_lite0()
    first = min((int(m.group(1)) for t in base.targets if (m := _BLOCK.fullmatch(t))), default=len(model._blocks))
    use_fc = "_fc" in base.targets
    top = _Top(model, first, use_fc)
    with torch.no_grad():
        cached, frozen = [], []
        for start in range(0, len(images), FROZEN_BATCH):
            x = _below(model, _pixels(images[start : start + FROZEN_BATCH], SIZE), first)
            cached.append(x.to(torch.float16))
            frozen.append(top(x).numpy())
    cached = torch.cat(cached)
    names = {t: f"blocks.{int(m.group(1)) - first}.{m.group(2)}" if (m := _BLOCK.fullmatch(t)) else t.lstrip("_")
             for t in base.targets}
    _plain_convs(top, names.values())
    b_params = inject_lora(top, base, names)
    top.eval()
    return Prepared(frozen=np.concatenate(frozen), forward=lambda rows: top(cached[rows].float()), b_params=b_params)


def _pixels(images: np.ndarray, size: int):
    x = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x - 127.5) / 128.0


def _below(model, x, first: int):
    """The activations entering block ``first`` (stem and the blocks below it, frozen)."""
    x = model._swish(model._bn0(model._conv_stem(x)))
    for block in model._blocks[:first]:
        x = block(x)
    return x


class _Top(torch.nn.Module):
    """A copy of the blocks from ``first`` up, the head convolution and (``use_fc``) the
    classifier: cached activations -> the head's features."""

    def __init__(self, model, first: int, use_fc: bool):
        super().__init__()
        self.blocks = copy.deepcopy(model._blocks[first:])
        self.conv_head, self.bn1, self.swish = (copy.deepcopy(m) for m in (model._conv_head, model._bn1, model._swish))
        self.fc = copy.deepcopy(model._fc) if use_fc else None
        self.eval()

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        pooled = self.swish(self.bn1(self.conv_head(x))).mean(dim=(2, 3))
        return self.fc(pooled) if self.fc is not None else pooled


def _plain_convs(top, names) -> None:
    """Replace each named 1x1 static-padding convolution by an ``nn.Conv2d`` with its weights (module doc)."""
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = top.get_submodule(parent_name) if parent_name else top
        conv = getattr(parent, child)
        if isinstance(conv, torch.nn.Conv2d) and type(conv) is not torch.nn.Conv2d:
            plain = torch.nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None)
            plain.load_state_dict(conv.state_dict())
            setattr(parent, child, plain.eval())
