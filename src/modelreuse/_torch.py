"""The one small torch training helper every neural part of modelreuse uses.

:func:`minimise` runs Adam (or AdamW, ``decoupled=True``) over an iterable of batches: for each
batch it zeroes the gradients, calls ``loss_of(batch)``, back-propagates and steps. Where the
batches come from is the caller's choice: :func:`shuffled_batches` gives seeded epochs of
shuffled mini-batch indices, ``itertools.repeat(None, steps)`` gives full-batch steps, and any
generator of sampled groups works the same way. Setting ``module.train()``/``eval()`` stays with
the caller (some callers train bare parameters). torch is imported when these run, never at
import of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from modelreuse.config import Progress


def minimise(parameters: Iterable[Any], loss_of: Callable[[Any], Any], batches: Iterable[Any], *, lr: float,
             weight_decay: float = 0.0, decoupled: bool = False, progress: Progress | None = None,
             report_every: int = 0, label: str = "training") -> float:
    """Minimise ``loss_of(batch)`` over ``batches`` with Adam(W); returns the last batch's loss.

    ``weight_decay`` is Adam's L2 term (``decoupled=False``) or AdamW's decoupled decay. With
    ``progress`` and ``report_every > 0``, every ``report_every``-th step reports the loss.
    """
    import torch

    optimiser_class = torch.optim.AdamW if decoupled else torch.optim.Adam
    optimiser = optimiser_class(list(parameters), lr=lr, weight_decay=weight_decay)
    last = float("nan")
    for step, batch in enumerate(batches, start=1):
        optimiser.zero_grad()
        loss = loss_of(batch)
        loss.backward()
        optimiser.step()
        last = float(loss.detach())
        if progress is not None and report_every and step % report_every == 0:
            progress(f"{label} step {step}: loss {last:.4f}")
    return last


def shuffled_batches(n: int, batch_size: int, epochs: int, seed: int) -> Iterator[Any]:
    """``epochs`` seeded shuffles of ``range(n)``, each split into index tensors of ``batch_size``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        yield from torch.randperm(n, generator=generator).split(batch_size)
