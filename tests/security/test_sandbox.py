"""The validation sandbox (issue 13, items 1, 10, 17): nothing from a package runs without trust,
the verdict cannot be forged, and no process of the validation outlives its limits or its caller.

Each hostile package is built here from a valid one. Shadow modules write the canary, print the old
validator's success JSON and exit 0: before the sandbox, a pickle package carrying one was accepted
without trust. Process checks record every descendant of the caller while validation runs (via
``/proc``) and assert each one is gone (or a zombie) afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelreuse.dock import Dock
from modelreuse.dock.sandbox import descendants
from modelreuse.dock.validation import ValidationLimits, parse_size, validate_in_subprocess
from modelreuse.errors import InvalidLimitError, ModelPredictError, UntrustedArtifactError
from modelreuse.learnware import Learnware
from tests.security.conftest import assert_cli_rejects, cli, dock_state

SHADOWS = ["modelreuse/__init__.py", "numpy.py", "sitecustomize.py", "usercustomize.py", "x.pth",
           "sklearn/__init__.py"]
HANG_LIMITS = ValidationLimits(timeout_s=3)
ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- builders
def _forger(canary: Path) -> str:
    """One line that is valid as a module and as a ``.pth`` import line: write the canary, print
    a success verdict in the old format and exit 0."""
    verdict = json.dumps({"ok": True, "error": "", "error_type": ""})
    return f"import os; open({str(canary)!r}, 'w').write('ran'); print({verdict!r}, flush=True); os._exit(0)\n"


def _build(fitted, directory: Path, model, **kwargs) -> Path:
    Learnware.build(directory, model, fitted.rkme, name="sandboxed", task_type="regression", target="PM2.5",
                    feature_names=fitted.feature_names, **kwargs)
    return directory


def _add_shadows(package: Path, names: list[str], canary: Path) -> Path:
    for name in names:
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_forger(canary))
    return package


def _looping_onnx(n_features: int):
    """An ONNX graph whose Loop has a constant true condition and a 2**62 trip count."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["x_in"], ["x_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trip", "cond", "X"], ["Y"], body=body)], "spin",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, n_features])],
        initializer=[numpy_helper.from_array(np.array(2**62, np.int64), "trip"),
                     numpy_helper.from_array(np.array(True), "cond")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


class Hanger:
    """A trusted model that never answers."""

    def predict(self, X):
        time.sleep(600)


def _spawn_then_hang(pid_file: str) -> Hanger:
    """Run at unpickling: start ``sleep 600`` in a new session (escaping the process group)."""
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    Path(pid_file).write_text(str(sleeper.pid))
    return Hanger()


class SpawningModel:
    def __init__(self, pid_file: Path):
        self.pid_file = str(pid_file)

    def __reduce__(self):
        return _spawn_then_hang, (self.pid_file,)


def _forge_on_stdout() -> None:
    for nonce in ("", "0" * 64):
        print(json.dumps({"nonce": nonce, "ok": True, "result": None}))
    print(json.dumps({"ok": True, "error": "", "error_type": ""}), flush=True)
    os._exit(0)


class StdoutForger:
    """A trusted model that tries to pass by printing verdicts and exiting 0 while unpickled."""

    def __reduce__(self):
        return _forge_on_stdout, ()


# ---------------------------------------------------------------- process watching
def _descendants(root: int) -> set[int]:
    return set(descendants(root))


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _survivors(pids: set[int], wait_s: float = 0.0) -> set[int]:
    end = time.monotonic() + wait_s
    while True:
        alive = {p for p in pids if _alive(p)}
        if not alive or time.monotonic() >= end:
            return alive
        time.sleep(0.1)


@contextmanager
def _watch_descendants(root: int | None = None):
    """Collect every descendant of ``root`` (default: this process) seen while the block runs."""
    seen: set[int] = set()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            seen.update(_descendants(root or os.getpid()))
            time.sleep(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join()


# ---------------------------------------------------------------- shadowing
@pytest.mark.parametrize("shadow", SHADOWS)
def test_shadow_module_never_runs_and_cannot_pass_a_pickle(fitted, tmp_path, canary, shadow):
    """The sandbox itself, on the folder with the shadow in it (``Dock.submit`` would not even copy
    the unlisted file into the folder it validates: see the CLI test below)."""
    package = _add_shadows(_build(fitted, tmp_path / "pkg", fitted.regressor, fmt="pickle"), [shadow], canary)
    with pytest.raises(UntrustedArtifactError, match="trust"):
        validate_in_subprocess(package)


def test_cli_rejects_pickle_with_every_shadow_module(fitted, tmp_path, canary):
    package = _add_shadows(_build(fitted, tmp_path / "pkg", fitted.regressor, fmt="pickle"), SHADOWS, canary)
    dock = Dock(tmp_path / "dock")
    before = dock_state(dock)
    assert_cli_rejects(cli("dock", "submit", package, "--dock", dock.root), "UntrustedArtifactError")
    assert dock_state(dock) == before


def test_relative_path_validates_and_shadows_of_a_valid_package_stay_inert(fitted, tmp_path, canary, monkeypatch):
    _add_shadows(_build(fitted, tmp_path / "pkg", fitted.regressor), SHADOWS, canary)
    monkeypatch.chdir(tmp_path)
    dock = Dock("dock")
    learnware_id = dock.submit("pkg")
    assert [c["id"] for c in dock.list()] == [learnware_id]
    stored = {p.name for p in dock.get(learnware_id).root.rglob("*")}
    assert not stored & {"numpy.py", "sitecustomize.py", "usercustomize.py", "x.pth", "modelreuse"}, stored


# ---------------------------------------------------------------- forged verdicts
def test_verdict_printed_on_stdout_does_not_pass(fitted, tmp_path):
    package = _build(fitted, tmp_path / "pkg", StdoutForger(), fmt="pickle")
    with pytest.raises(ModelPredictError, match="without a verdict"):
        validate_in_subprocess(package, trust=True, limits=HANG_LIMITS)


# ---------------------------------------------------------------- limits and process lifetime
def test_onnx_infinite_loop_stopped_by_cli_timeout_and_no_process_survives(fitted, tmp_path, canary):
    package = _build(fitted, tmp_path / "pkg", _looping_onnx(fitted.X.shape[1]))
    dock = Dock(tmp_path / "dock")
    before = dock_state(dock)
    started = time.monotonic()
    with _watch_descendants() as seen:
        result = cli("dock", "submit", package, "--dock", dock.root, "--timeout", "3", "--memory", "4GiB",
                     "--cpu-seconds", "60")
    assert_cli_rejects(result, "ModelPredictError")
    assert "exceeded 3 s" in result.output
    assert time.monotonic() - started < 120
    assert seen and not _survivors(seen)
    assert dock_state(dock) == before


def test_trusted_model_cannot_leave_processes_behind(fitted, tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    package = _build(fitted, tmp_path / "pkg", SpawningModel(pid_file), fmt="pickle")
    with _watch_descendants() as seen, pytest.raises(ModelPredictError, match="exceeded"):
        validate_in_subprocess(package, trust=True, limits=HANG_LIMITS)
    sleeper = int(pid_file.read_text())
    assert sleeper in seen
    assert not _survivors(seen | {sleeper})


def test_killing_the_caller_kills_the_validation(fitted, tmp_path):
    package = _build(fitted, tmp_path / "pkg", _looping_onnx(fitted.X.shape[1]))
    code = ("from modelreuse.dock.validation import validate_in_subprocess\n"
            f"validate_in_subprocess({str(package)!r}, timeout_s=600)\n")
    caller = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        tree = _wait_for_job(caller.pid, deadline_s=180)
    finally:
        caller.kill()
        caller.wait()
    assert len(tree) >= 2  # supervisor and job
    assert not _survivors(tree, wait_s=15)


def _wait_for_job(caller: int, deadline_s: float) -> set[int]:
    """Descendants of ``caller`` once the sandbox supervisor has forked its job."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        tree = _descendants(caller)
        if any(_descendants(pid) for pid in tree):
            time.sleep(0.5)  # let the job get going
            return _descendants(caller)
        time.sleep(0.1)
    raise AssertionError("the validation child never started")


# ---------------------------------------------------------------- limit values
def test_limits_are_checked_and_sizes_parsed(fitted, tmp_path):
    assert parse_size("2GiB") == 2 * 1024**3
    assert parse_size("1500000") == 1500000
    for bad in ("", "2 parsecs", "-1", "0"):
        with pytest.raises(InvalidLimitError):
            parse_size(bad)
    with pytest.raises(InvalidLimitError, match="timeout_s"):
        ValidationLimits(timeout_s=0)
    with pytest.raises(InvalidLimitError, match="memory_bytes"):
        ValidationLimits(memory_bytes=float("inf"))
    dock = Dock(tmp_path / "dock")
    assert_cli_rejects(cli("dock", "submit", tmp_path, "--dock", dock.root, "--memory", "lots"), "InvalidLimitError")
