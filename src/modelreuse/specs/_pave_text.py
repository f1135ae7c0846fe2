"""Text rows for a PAVE fit: all-MiniLM-L6-v2 with LoRA on the attention projections of its top layers.

One frozen pass (no gradients) over the texts, sorted by length into batches, gives for each row
(a) its sentence embedding under the frozen base ``z0`` (mean pooling over tokens, unit norm: the
dock's text encoder output, up to float rounding) and (b) the hidden states entering the lowest
targeted layer, kept in float16. Training then runs only the layers from that one up, on the
cached states, so a step costs a fraction of a full forward/backward (speed goals of
:mod:`modelreuse.specs.pave`). Texts are truncated at the encoder's ``max_seq_length`` (256
tokens).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence

import numpy as np

from modelreuse.errors import InvalidTaskDataError
from modelreuse.specs._pave_fit import Prepared, inject_lora
from modelreuse.specs._pave_models import minilm

_TARGET = re.compile(r"encoder\.layer\.(\d+)\.(.+)")
FROZEN_BATCH = 64


def check_inputs(texts, what: str) -> list[str]:
    """``texts`` as a list of at least two strings, or :class:`InvalidTaskDataError`."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, (Sequence, np.ndarray)):
        raise InvalidTaskDataError(f"{what} must be a list of strings, got {type(texts).__name__}")
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise InvalidTaskDataError(f"{what}[{bad}] is {type(texts[bad]).__name__}, not a string; drop or fill missing texts")
    if len(texts) < 2:
        raise InvalidTaskDataError(f"{what} needs at least two texts, got {len(texts)}")
    return texts


def take(texts: list[str], rows: np.ndarray) -> list[str]:
    return [texts[i] for i in rows]


def encoder_features(texts: list[str], prepared: Prepared) -> np.ndarray:
    """The dock's text-encoder embeddings of ``texts``: the frozen base's, already computed."""
    return prepared.frozen.astype(np.float64)


def prepare(texts: Sequence[str], base) -> Prepared:
    """The :class:`Prepared` of ``texts`` on ``base`` (module doc)."""
    import torch

    model, tokenizer, max_len = minilm()
    lowest = min(int(_TARGET.fullmatch(t).group(1)) for t in base.targets)
    frozen, cached = _frozen_pass(model, tokenizer, max_len, list(texts), lowest)
    top = copy.deepcopy(model.encoder.layer[lowest:])
    names = {t: f"{int(m.group(1)) - lowest}.{m.group(2)}" for t in base.targets for m in [_TARGET.fullmatch(t)]}
    b_params = inject_lora(top, base, names)
    top.eval()

    def forward(rows):
        states, mask = _pad([cached[i] for i in rows.tolist()])
        additive = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
        for layer in top:
            states = _first(layer(states, additive))
        return _mean_pool(states, mask)

    return Prepared(frozen=frozen, forward=forward, b_params=b_params, lengths=np.array([len(c) for c in cached]))


def _frozen_pass(model, tokenizer, max_len: int, texts: list[str], lowest: int) -> tuple[np.ndarray, list]:
    """``(z0 (n, 384) float32, per-row float16 hidden states entering layer ``lowest``)``."""
    import torch
    import torch.nn.functional as F

    order = np.argsort([len(t) for t in texts], kind="stable")
    frozen = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    cached: list = [None] * len(texts)
    with torch.no_grad():
        for start in range(0, len(texts), FROZEN_BATCH):
            rows = order[start : start + FROZEN_BATCH]
            enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=max_len,
                            return_tensors="pt")
            out = model(**enc, output_hidden_states=True)
            frozen[rows] = F.normalize(_mean_pool(out.last_hidden_state, enc["attention_mask"]), dim=1).numpy()
            lengths = enc["attention_mask"].sum(dim=1).tolist()
            for row, state, length in zip(rows, out.hidden_states[lowest], lengths):
                cached[row] = state[:length].to(torch.float16)
    return frozen, cached


def _pad(states: list):
    """``(b, s, h)`` float32 states padded with zeros and the ``(b, s)`` float mask."""
    import torch

    longest = max(len(s) for s in states)
    batch = torch.zeros(len(states), longest, states[0].shape[1])
    mask = torch.zeros(len(states), longest)
    for i, s in enumerate(states):
        batch[i, : len(s)] = s.float()
        mask[i, : len(s)] = 1.0
    return batch, mask


def _mean_pool(states, mask):
    mask = mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def _first(output):
    """A layer's hidden states (older transformers return a tuple)."""
    return output[0] if isinstance(output, tuple) else output
