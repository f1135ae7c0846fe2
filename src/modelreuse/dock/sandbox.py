"""Run one function in a sandboxed child process tree whose limits the kernel enforces.

Process tree (Linux)::

    caller ── supervisor ── job
              (this file, run as a script with ``python -I``; own session; child subreaper)

* The **supervisor** is started with ``python -I`` (no cwd or script folder on ``sys.path``, no
  ``PYTHON*`` variables, no user site), a scrubbed environment, an empty private working and
  temporary directory, and its own session. It reads the request (including a per-run random
  nonce) from its stdin, so the nonce is never visible in ``/proc/*/cmdline`` or ``environ``.
  It is a child subreaper (``PR_SET_CHILD_SUBREAPER``): every orphaned descendant, including
  those that called ``setsid``, is re-parented to it, and it kills all of them when the job ends,
  when the caller sends SIGTERM (timeout) and when the caller dies (``PR_SET_PDEATHSIG``).
* The **job** is a fork of the supervisor that applies the resource limits (RLIMIT_AS, CPU,
  NOFILE, FSIZE and, for a non-root user, NPROC), imports the target module, reports "ready",
  runs the target and reports the outcome. It dies with SIGKILL if the supervisor dies.

Reports travel on a dedicated pipe, one JSON line each, every line carrying the nonce; stdout and
stderr are only kept (bounded) to explain a failure. The caller's time limit for the target
starts at "ready", so slow imports do not eat it (they have their own startup allowance).

RLIMIT_NPROC counts all processes of the real user and the kernel ignores it for root; it is
set only for a non-root user, as (processes the user has now + ``max_processes``). For root, the
subreaper's kill of all descendants is what bounds the lifetime of spawned processes.

This module imports only the standard library: it runs as the supervisor's ``__main__``.
"""

from __future__ import annotations

import ctypes
import hmac
import importlib
import json
import os
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MAX_REPORT_BYTES = 1 << 20
OUTPUT_TAIL_BYTES = 8 << 10
STOP_GRACE_S = 10.0
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class ValidationLimits:
    """Limits of one sandboxed validation.

    Attributes:
        timeout_s: wall-clock seconds for the check itself, counted from the child's "ready"
            report (after its imports).
        memory_bytes: address-space limit (RLIMIT_AS) of the child; allocations beyond it fail
            with MemoryError.
        cpu_s: CPU seconds for the check (RLIMIT_CPU, counted after the imports); SIGXCPU then
            SIGKILL beyond it.
        max_open_files: RLIMIT_NOFILE of the child.
        max_file_bytes: largest file the child may write (RLIMIT_FSIZE).
        startup_timeout_s: wall-clock seconds allowed for the child's interpreter start and
            imports, before the check begins.
        max_processes: processes the child may add for a non-root user (RLIMIT_NPROC); not
            enforceable for root, where all descendants are killed when the check ends.
    """

    timeout_s: float = 120.0
    memory_bytes: int = 8 * 1024**3
    cpu_s: int = 120
    max_open_files: int = 256
    max_file_bytes: int = 64 * 1024**2
    startup_timeout_s: float = 120.0
    max_processes: int = 64

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < float("inf"):
                from modelreuse.errors import InvalidLimitError

                raise InvalidLimitError(f"ValidationLimits.{name} must be a positive finite number, got {value!r}")


@dataclass
class SandboxOutcome:
    """What the caller learned from one sandboxed run.

    ``status`` is ``"done"`` (the target returned ``result`` or raised ``error_type``/``error``),
    ``"startup-timeout"``, ``"timeout"``, ``"crashed"`` (no verdict; ``exit`` says how the job
    ended) or ``"forged"`` (a report line without the nonce reached the pipe).
    """

    status: str
    ok: bool = False
    result: Any = None
    error_type: str | None = None
    error: str = ""
    exit: str = ""
    stdout: str = ""
    stderr: str = ""
    startup_s: float | None = None  # start until "ready"
    run_s: float | None = None  # "ready" until the verdict (or the end)


@dataclass
class _Collector:
    nonce: str
    outcome: SandboxOutcome = field(default_factory=lambda: SandboxOutcome("crashed"))
    report: bytes = b""
    ready_at: float | None = None
    verdict_at: float | None = None
    verdict: bool = False  # a verdict (or the timeout) has been recorded
    forged: bool = False


# ------------------------------------------------------------------ caller side
def run_sandboxed(target: str, kwargs: dict, limits: ValidationLimits,
                  extra_sys_path: tuple[str, ...] = ()) -> SandboxOutcome:
    """Run ``module:function`` with JSON ``kwargs`` in a sandboxed child; never raises for what
    the child does (see :class:`SandboxOutcome`). If the module defines ``SANDBOX_PRELOAD(**kwargs)``,
    the modules it names are imported before "ready", outside the time limit. ``extra_sys_path`` is appended to the child's
    ``sys.path`` (absolute folders only)."""
    private = Path(tempfile.mkdtemp(prefix="modelreuse-sandbox-"))
    nonce = secrets.token_hex(32)
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-I", str(Path(__file__).resolve())], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=private,
                                env=_scrubbed_env(private), pass_fds=(write_fd,), start_new_session=True)
    except BaseException:
        os.close(read_fd)
        shutil.rmtree(private, ignore_errors=True)
        raise
    finally:
        os.close(write_fd)
    try:
        request = {"nonce": nonce, "report_fd": write_fd, "parent_pid": os.getpid(), "target": target,
                   "kwargs": kwargs, "limits": asdict(limits), "sys_path": [p for p in extra_sys_path if os.path.isabs(p)]}
        _send_request(proc, request)
        return _collect(proc, read_fd, _Collector(nonce), limits)
    finally:
        _stop(proc)
        os.close(read_fd)
        shutil.rmtree(private, ignore_errors=True)


def _scrubbed_env(private: Path) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(private), "TMPDIR": str(private),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.update({k: os.environ[k] for k in ("LANG", "LC_ALL") if k in os.environ})
    return env


def _send_request(proc: subprocess.Popen, request: dict) -> None:
    try:
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.close()
    except BrokenPipeError:  # the supervisor died at once; _collect reports it as crashed
        pass


def _collect(proc: subprocess.Popen, read_fd: int, col: _Collector, limits: ValidationLimits) -> SandboxOutcome:
    """Read reports and bounded output until every pipe closes; on a deadline or a forged
    report, ask the supervisor to kill the tree and read on for at most STOP_GRACE_S."""
    started = time.monotonic()
    deadline, stop_by = started + limits.startup_timeout_s, None
    tails = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    with selectors.DefaultSelector() as sel:
        for fd in (read_fd, *tails):
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            now = time.monotonic()
            if stop_by is None and (now >= deadline or col.forged):
                if not col.verdict:
                    col.outcome.status = "timeout" if col.ready_at is not None else "startup-timeout"
                    col.verdict = True  # a verdict arriving after the deadline is ignored
                _signal(proc, signal.SIGTERM)
                stop_by = now + STOP_GRACE_S
            if stop_by is not None and now >= stop_by:
                break
            for key, _ in sel.select(timeout=(stop_by or deadline) - now):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                elif key.fd == read_fd:
                    was_ready = col.ready_at is not None
                    _take_report(col, chunk)
                    if col.ready_at is not None and not was_ready:
                        deadline = col.ready_at + limits.timeout_s
                    if col.verdict and stop_by is None:
                        stop_by = time.monotonic() + STOP_GRACE_S
                else:
                    tails[key.fd] = (tails[key.fd] + chunk)[-OUTPUT_TAIL_BYTES:]
    return _finish(col, tails, started)


def _finish(col: _Collector, tails: dict[int, bytearray], started: float) -> SandboxOutcome:
    out = col.outcome
    out.stdout, out.stderr = (bytes(t).decode(errors="replace") for t in tails.values())
    if col.ready_at is not None:
        out.startup_s = col.ready_at - started
        out.run_s = (col.verdict_at or time.monotonic()) - col.ready_at
    if col.forged:
        out.status, out.ok = "forged", False
    return out


def _take_report(col: _Collector, chunk: bytes) -> None:
    col.report += chunk
    if len(col.report) > MAX_REPORT_BYTES:
        col.forged = True
        return
    *lines, col.report = col.report.split(b"\n")
    for line in lines:
        msg = _parse_line(line, col.nonce)
        if msg is None:
            col.forged = True
        elif msg.get("ready"):
            col.ready_at = col.ready_at or time.monotonic()
        elif "exit" in msg:
            col.outcome.exit = str(msg["exit"])[:200]
        elif not col.verdict:
            col.verdict, col.verdict_at = True, time.monotonic()
            col.outcome.status = "done"
            col.outcome.ok = msg.get("ok") is True
            col.outcome.result = msg.get("result")
            col.outcome.error_type = msg.get("error_type") if isinstance(msg.get("error_type"), str) else None
            col.outcome.error = str(msg.get("error", ""))[:MAX_ERROR_CHARS]


def _parse_line(line: bytes, nonce: str) -> dict | None:
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("nonce"), str):
        return None
    return msg if hmac.compare_digest(msg["nonce"], nonce) else None


def _signal(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def _stop(proc: subprocess.Popen) -> None:
    """Let the supervisor finish its clean-up (bounded), then kill its whole process group
    before reaping it, so the group id cannot have been reused."""
    end = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < end and not _exited(proc.pid):
        time.sleep(0.02)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None and not stream.closed:
            stream.close()
    proc.wait()


def _exited(pid: int) -> bool:
    """True once ``pid`` (our child) has exited, without reaping it."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


# ------------------------------------------------------------------ child side
def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _send(fd: int, nonce: str, payload: dict) -> None:
    data = (json.dumps({"nonce": nonce, **payload}, default=str) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _supervise() -> None:
    """Supervisor main: read the request, fork the job, reap everything, kill stragglers."""
    request = json.loads(sys.stdin.buffer.readline(MAX_REPORT_BYTES))
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != request["parent_pid"]:  # the caller died before prctl took effect
        os._exit(1)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGTERM, _terminate)
    job = os.fork()
    if job == 0:
        _job(request, supervisor=os.getppid())
    status = _reap_until(job)
    _kill_descendants()
    _send(request["report_fd"], request["nonce"], {"exit": _describe(status)})
    os._exit(0)


def _terminate(signum: int, frame: Any) -> None:
    _kill_descendants()
    os._exit(0)


def _reap_until(job: int) -> int:
    """Reap children (orphans are re-parented here) until the job itself has exited."""
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == job:
            return status


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"killed by {signal.Signals(sig).name}" if sig in signal.Signals._value2member_map_ else f"killed by signal {sig}"
    return f"exit code {os.WEXITSTATUS(status)}"


def descendants(root: int) -> list[int]:
    """Pids of every live descendant of ``root``, read from ``/proc`` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(b")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _kill_descendants() -> None:
    """SIGKILL every descendant (orphans come here as we are a subreaper) and reap them."""
    for _ in range(500):
        pids = descendants(os.getpid())
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.005)


def _job(request: dict, supervisor: int) -> None:
    """The job process: limits, imports, "ready", target, verdict; never returns."""
    fd, nonce = request["report_fd"], request["nonce"]
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != supervisor:
            os._exit(1)
        os.set_inheritable(fd, False)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        limits = request["limits"]
        _apply_limits(limits)
        sys.path += request["sys_path"]
        module, _, name = request["target"].partition(":")
        target = importlib.import_module(module)
        function = getattr(target, name)
        for library in getattr(target, "SANDBOX_PRELOAD", lambda **kw: ())(**request["kwargs"]):
            importlib.import_module(library)
        _send(fd, nonce, {"ready": True})
        _limit_cpu(limits["cpu_s"])
        payload = {"ok": True, "result": function(**request["kwargs"])}
    except BaseException as exc:  # anything the target (or foreign code it runs) raises
        name = _library_error_name(exc)
        payload = {"ok": False, "error_type": name,
                   "error": (str(exc) if name else f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]}
    try:
        _send(fd, nonce, payload)
    finally:
        os._exit(0)


def _library_error_name(exc: BaseException) -> str | None:
    """Name of the first class in the exception's MRO defined by ``modelreuse.errors``."""
    return next((c.__name__ for c in type(exc).__mro__ if c.__module__ == "modelreuse.errors"), None)


def _apply_limits(limits: dict) -> None:
    startup_cpu = int(limits["startup_timeout_s"]) + 1
    cpu = startup_cpu + int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_CPU, (startup_cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["max_open_files"], limits["max_open_files"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["max_file_bytes"], limits["max_file_bytes"]))
    if os.getuid() != 0:
        nproc = _user_processes(os.getuid()) + int(limits["max_processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _limit_cpu(cpu_s: int) -> None:
    """After the imports: allow ``cpu_s`` more CPU seconds (soft limit; SIGXCPU beyond)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = min(int(used.ru_utime + used.ru_stime) + 1 + int(cpu_s), hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _user_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        try:
            count += entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid
        except OSError:
            pass
    return count


if __name__ == "__main__":
    _supervise()
