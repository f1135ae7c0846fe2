"""Sandboxed check of a submitted learnware: load the model in a separate, isolated process tree
with kernel-enforced limits (see :mod:`modelreuse.dock.sandbox`), and check it predicts as declared
on its RKME reduced-set points (or on probe rows, for a learnware without an RKME).

:func:`validate_in_subprocess` runs :func:`check_package` there and re-raises its error here,
typed. Without ``trust`` no code from the package runs at all (the child imports nothing from
the package folder and refuses pickle/joblib), so its verdict cannot be forged; with ``trust``
the author's code runs but cannot outlive or exceed the limits.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from modelreuse.dock.sandbox import SandboxOutcome, ValidationLimits, run_sandboxed
from modelreuse.errors import InvalidLimitError, ModelPredictError, ModelReuseError, SchemaError

DEFAULT_LIMITS = ValidationLimits()
DEFAULT_TIMEOUT_S = DEFAULT_LIMITS.timeout_s
DEFAULT_MEMORY_BYTES = DEFAULT_LIMITS.memory_bytes

__all__ = ["DEFAULT_LIMITS", "ValidationLimits", "check_package", "parse_size", "validate_in_subprocess"]


#: Rows a learnware without an RKME spec is checked on: seeded standard-normal rows of its width.
PROBE_ROWS = 16


def probe_rows(lw) -> np.ndarray:
    """The rows a model is checked on: its RKME's reduced set (points of its own training
    distribution) or, without an RKME spec, :data:`PROBE_ROWS` seeded standard-normal rows of the
    declared width (shape, declared classes and finiteness are checked, not accuracy)."""
    if "rkme" in lw.spec_kinds:
        return lw.rkme.Z
    return np.random.default_rng(0).standard_normal((PROBE_ROWS, lw.manifest.input_schema.n_features))


def check_package(package_dir: Path, trust: bool = False) -> None:
    """Load the learnware's specs and model and check its predictions on :func:`probe_rows`.

    Raises a :class:`ModelReuseError` subclass describing the first problem found.
    """
    from modelreuse.learnware import Learnware

    lw = Learnware.open(package_dir)
    m = lw.manifest
    lw.load_specs()
    model = lw.load_model(trust=trust)
    if m.task_type == "feature_extraction":
        return check_extractor(model, m)
    X = probe_rows(lw)
    pred = model.predict(X)
    if pred.shape[0] != len(X):
        raise SchemaError(f"model returned {pred.shape[0]} predictions for {len(X)} rows")
    if m.task_type == "classification":
        declared = {str(c) for c in m.output.classes}
        unknown = {str(v) for v in np.unique(pred)} - declared
        if unknown:
            raise SchemaError(f"model predicts classes {sorted(unknown)} not declared in output.classes")
        proba = model.predict_proba(X)
        if proba.shape != (len(X), len(m.output.classes)):
            raise SchemaError(f"predict_proba shape {proba.shape} != ({len(X)}, {len(m.output.classes)})")
    else:
        pred = np.asarray(pred, dtype=np.float64)
        if not np.isfinite(pred).all():
            raise ModelPredictError("model predicts NaN or inf on its probe rows")


def check_extractor(extractor, manifest) -> None:
    """A feature extractor must give finite ``(n, feature_size)`` features and, with a source head,
    ``(n, len(classes))`` probabilities on fixed probe inputs of its modality
    (:func:`modelreuse.models.extractors.probe_inputs`)."""
    from modelreuse.models.extractors import probe_inputs

    rows = probe_inputs(manifest.modality, manifest.input_schema.image_size)
    extractor.features(rows)  # SchemaError on a wrong shape or non-finite values
    if extractor.has_head:
        proba = extractor.source_proba(rows)
        if not np.isfinite(proba).all():
            raise ModelPredictError("the source head gives NaN or inf probabilities on its probe rows")


def validate_in_subprocess(package_dir: str | Path, trust: bool = False, timeout_s: float | None = None,
                           memory_bytes: int | None = None, limits: ValidationLimits | None = None) -> None:
    """Run :func:`check_package` in a sandboxed child; re-raise its error here, typed.

    ``limits`` defaults to :data:`DEFAULT_LIMITS`; ``timeout_s`` and ``memory_bytes``, when given,
    override its fields. A relative ``package_dir`` is resolved against the current directory.
    Raises :class:`ModelPredictError` on a timeout, a crash or a report that is not the child's.
    """
    limits = _with_overrides(limits or DEFAULT_LIMITS, timeout_s=timeout_s, memory_bytes=memory_bytes)
    package = Path(package_dir).resolve()
    extra = _trusted_sys_path(package) if trust else ()
    outcome = run_sandboxed("modelreuse.dock.validation:_check_in_child",
                            {"package_dir": str(package), "trust": bool(trust)}, limits, extra)
    _raise_for(outcome, limits)


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> int:
    """Bytes from ``"2147483648"``, ``"2GiB"``, ``"512 MiB"`` or ``"1.5GB"``; raises
    :class:`InvalidLimitError` otherwise."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if unit not in _UNITS:
        raise InvalidLimitError(f"cannot read size {text!r}; give bytes or a number with a unit such as 2GiB or 512MiB")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise InvalidLimitError(f"size {text!r} must be positive")
    return size


def _with_overrides(limits: ValidationLimits, **overrides: float | int | None) -> ValidationLimits:
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(limits, **given) if given else limits


def _trusted_sys_path(package: Path) -> tuple[str, ...]:
    """With trust, the child may import what this process can (e.g. the module defining a
    pickled class), except anything inside the package folder."""
    paths = []
    for entry in sys.path:
        if not entry or not Path(entry).is_absolute():
            continue
        resolved = Path(entry).resolve()
        if resolved != package and package not in resolved.parents:
            paths.append(str(resolved))
    return tuple(paths)


_LIBRARIES = {"skops": ("skops.io", "sklearn.base"), "onnx": ("onnxruntime",), "safetensors": ("torch", "safetensors"),
              "joblib": ("joblib", "sklearn.base"), "pickle": ("sklearn.base",)}


def SANDBOX_PRELOAD(package_dir: str, trust: bool) -> tuple[str, ...]:
    """Libraries the artifact's format needs, imported before the time limit starts. Reads the
    manifest as data only; a bad manifest preloads nothing and fails in the check itself."""
    from modelreuse.learnware import Learnware

    try:
        return _LIBRARIES.get(Learnware.open(package_dir).manifest.artifact.format, ())
    except ModelReuseError:
        return ()


def _check_in_child(package_dir: str, trust: bool) -> None:
    check_package(Path(package_dir), trust=trust)


def _raise_for(outcome: SandboxOutcome, limits: ValidationLimits) -> None:
    if outcome.status == "done":
        if not outcome.ok:
            raise _ERRORS.get(outcome.error_type or "", ModelPredictError)(outcome.error)
        return
    raise ModelPredictError(_failure_message(outcome, limits))


def _failure_message(outcome: SandboxOutcome, limits: ValidationLimits) -> str:
    if outcome.status == "timeout":
        return (f"model validation exceeded {limits.timeout_s:g} s and was stopped; raise the limit "
                "(ValidationLimits.timeout_s, CLI --timeout) if the model is just slow")
    if outcome.status == "startup-timeout":
        return (f"the validation process did not start within {limits.startup_timeout_s:g} s "
                "(ValidationLimits.startup_timeout_s); the machine may be overloaded")
    if outcome.status == "forged":
        return "the validation process wrote a report that is not its own; the package is rejected"
    tail = " | ".join(outcome.stderr.strip().splitlines()[-3:])
    if "SIGXCPU" in outcome.exit:
        return f"model validation used more than {limits.cpu_s} CPU seconds and was stopped (--cpu-seconds)"
    return (f"model validation process ended without a verdict ({outcome.exit or 'no exit status'}); "
            f"it may have run out of memory (limit {limits.memory_bytes} bytes, --memory): {tail}")


def _error_types() -> dict[str, type]:
    from modelreuse import errors

    return {name: obj for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, ModelReuseError)}


_ERRORS = _error_types()
