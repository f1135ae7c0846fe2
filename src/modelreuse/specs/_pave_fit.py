"""The modality-free part of a PAVE fit: a prototype head and B-only training.

A modality (:mod:`modelreuse.specs._pave_text`, :mod:`modelreuse.specs._pave_image`) hands over a
:class:`Prepared`: the frozen base's features ``z0`` of every row, the rows' cached inputs to the
trainable top of the network (the layers below the lowest LoRA target ran once, without
gradients), and that top with peft LoRA injected (``A`` from the shared base, frozen; ``B = 0``,
trained). :func:`fit_vector` then fits the targets ``P`` (soft labels for a model vector, one-hot
for a task vector) and returns the trained ``B`` flattened in the base's ``targets`` order.

Head (no trained head, so every party's vector lives in the same space): logits are
``TEMPERATURE * cos(z(x), mu_c)`` with class prototypes ``mu_c`` = the ``P``-weighted mean of the
party's own frozen features ``z0``. It works for any label set and is invariant to the order of
the classes. Loss: cross-entropy to ``P`` (equation 1 of the paper with ``L`` = cross-entropy),
plus optionally the reference implementation's L1 penalty on the change of ``B``
(``l1 / n_targets * ||B||_1``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelreuse._torch import shuffled_batches

TEMPERATURE = 5.0
LENGTH_JITTER = 8.0


@dataclass
class Prepared:
    """What a modality prepares for :func:`fit_vector`.

    Attributes:
        frozen: ``(n, d)`` float32 features of the rows under the frozen base (``B = 0``).
        forward: batch of row indices (a ``LongTensor``) -> ``(b, d)`` features through the LoRA top.
        b_params: the trainable ``B`` parameters, in the base's ``targets`` order.
        lengths: per-row cost (tokens) for length-bucketed batches, or ``None`` (plain shuffles).
    """

    frozen: np.ndarray
    forward: Callable[[Any], Any]
    b_params: list
    lengths: np.ndarray | None = None


def prototypes(frozen: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Unit-norm ``(C, d)`` class prototypes: ``P``-weighted means of the unit-norm frozen features."""
    z = frozen / np.maximum(np.linalg.norm(frozen, axis=1, keepdims=True), 1e-12)
    mu = P.T @ z / np.maximum(P.sum(axis=0)[:, None], 1e-12)
    return mu / np.maximum(np.linalg.norm(mu, axis=1, keepdims=True), 1e-12)


def fit_vector(prepared: Prepared, P: np.ndarray, *, steps: int, batch_size: int, lr: float, seed: int,
               l1: float = 0.0) -> np.ndarray:
    """Train the ``B`` of ``prepared`` from zero for ``steps`` SGD steps to fit ``P``; the flattened ``B``."""
    import torch
    import torch.nn.functional as F

    for b in prepared.b_params:
        b.data.zero_()
    mu = torch.as_tensor(prototypes(prepared.frozen, P), dtype=torch.float32)
    targets = torch.as_tensor(P, dtype=torch.float32)
    n = len(P)

    def loss_of(rows):
        z = F.normalize(prepared.forward(rows), dim=1)
        log_p = torch.log_softmax(TEMPERATURE * z @ mu.T, dim=1)
        loss = -(targets[rows] * log_p).sum(dim=1).mean()
        if l1:
            loss = loss + l1 / len(prepared.b_params) * sum(b.abs().sum() for b in prepared.b_params)
        return loss

    optimiser = torch.optim.SGD(prepared.b_params, lr=lr)
    for rows in itertools.islice(batches(n, batch_size, seed, prepared.lengths), steps):
        optimiser.zero_grad()
        loss_of(rows).backward()
        optimiser.step()
    return torch.cat([b.detach().reshape(-1) for b in prepared.b_params]).double().numpy()


def batches(n: int, batch_size: int, seed: int, lengths: np.ndarray | None) -> Iterator[Any]:
    """Endless seeded epochs of row-index batches. With ``lengths``, each epoch sorts the rows by
    length plus a seeded jitter of up to ``LENGTH_JITTER`` before cutting batches and shuffles the
    batch order, so a batch pads to little more than its rows' own lengths."""
    import torch

    size = min(batch_size, n)
    if lengths is None:
        while True:
            yield from shuffled_batches(n, size, 1, seed)
            seed += 1
    rng = np.random.default_rng(seed)
    while True:
        order = np.argsort(lengths + rng.uniform(0, LENGTH_JITTER, n), kind="stable")
        chunks = [order[i : i + size] for i in range(0, n, size)]
        for j in rng.permutation(len(chunks)):
            yield torch.as_tensor(chunks[j])


def inject_lora(module, base, names: dict[str, str]):
    """Put peft LoRA layers on ``module``'s submodules (``names``: base target -> name in
    ``module``), set their ``A`` to the base's, freeze everything but ``B``; the ``B``
    parameters in the base's target order."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=base.rank, lora_alpha=base.alpha, lora_dropout=0.0, bias="none",
                        target_modules=list(names.values()))
    with torch.random.fork_rng():  # peft's own init draws from the global generator; ours replaces it
        inject_adapter_in_model(config, module)
    for p in module.parameters():
        p.requires_grad_(False)
    layers = dict(module.named_modules())
    b_params = []
    for target, name in names.items():
        layer = layers[name]
        layer.lora_A["default"].weight.data.copy_(torch.from_numpy(base.lora_A[target]))
        b = layer.lora_B["default"].weight
        b.data.zero_()
        b.requires_grad_(True)
        b_params.append(b)
    return b_params
