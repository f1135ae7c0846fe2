"""Sandboxed check of a submitted learnware: load the model in a separate process, with time
and memory limits, and check it predicts on the RKME reduced-set points as declared.

Run as ``python -m modelreuse.dock.validation PACKAGE_DIR [--trust]``; prints one JSON line
``{"ok": bool, "error": str, "error_type": str}``. :func:`validate_in_subprocess` wraps it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from modelreuse.errors import ModelLoadError, ModelPredictError, ModelReuseError, SchemaError

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MEMORY_BYTES = 8 * 1024**3


def check_package(package_dir: Path, trust: bool = False) -> None:
    """Load the learnware's model and check its predictions on its own reduced set.

    Raises a :class:`ModelReuseError` subclass describing the first problem found.
    """
    from modelreuse.learnware import Learnware

    lw = Learnware.open(package_dir)
    m = lw.manifest
    rkme = lw.rkme
    if rkme.n_features != m.input_schema.n_features:
        raise SchemaError(f"RKME has {rkme.n_features} features, input_schema declares {m.input_schema.n_features}")
    model = lw.load_model(trust=trust)
    X = rkme.Z
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
            raise ModelPredictError("model predicts NaN or inf on its own reduced set")


def validate_in_subprocess(package_dir: Path, trust: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S,
                           memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
    """Run :func:`check_package` in a child process; re-raise its error here, typed."""
    cmd = [sys.executable, "-m", "modelreuse.dock.validation", str(package_dir)] + (["--trust"] if trust else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": _package_parent() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env,
                              preexec_fn=_limit_memory(memory_bytes), cwd=str(package_dir))
    except subprocess.TimeoutExpired:
        raise ModelPredictError(f"model validation exceeded {timeout_s:.0f} s and was stopped") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        reason = "ran out of memory" if proc.returncode < 0 or "MemoryError" in proc.stderr else "crashed"
        raise ModelPredictError(f"model validation process {reason} (exit {proc.returncode}): {' | '.join(tail)}")
    result = json.loads(lines[-1])
    if not result["ok"]:
        raise _ERRORS.get(result["error_type"], ModelLoadError)(result["error"])


def _package_parent() -> str:
    return str(Path(__file__).resolve().parents[2])


def _limit_memory(memory_bytes: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return apply


def _error_types() -> dict[str, type]:
    from modelreuse import errors

    return {name: obj for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, ModelReuseError)}


_ERRORS = _error_types()


def main(argv: list[str]) -> int:
    package_dir = Path(argv[0])
    try:
        check_package(package_dir, trust="--trust" in argv)
        print(json.dumps({"ok": True, "error": "", "error_type": ""}))
    except ModelReuseError as exc:
        print(json.dumps({"ok": False, "error": str(exc), "error_type": type(exc).__name__}))
    except Exception as exc:  # anything the foreign model raises
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}", "error_type": "ModelPredictError"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
