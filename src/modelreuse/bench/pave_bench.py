"""``modelreuse bench pave``: the identification protocol of the PAVE paper on real data.

Paper: Tan et al., "A Study on PAVE Specification for Learnware" (seed ``002_d24d7a0b2bfb49e5``):
section 4 and appendices C-D (Tables A5/A6 and Figures A7/A8, Table 1, Figure 3 / Table A9).

Protocol (``--modality text|image``; datasets and splits in :mod:`modelreuse.bench._pave_data`):

* **Learnware set.** For every dataset, the developer's rows (the train split minus the user's
  shots, at most ``max_developer``) train two learnwares with the same hyper-parameters: a
  well-trained one and a corrupted twin (``noise`` of the labels replaced at random), both heads on
  the frozen encoder (:mod:`modelreuse.bench._pave_models`). Each is built with the public API,
  ``Learnware.build(..., X=<encoder features>, specs=[PAVESpec.fit_model(...)])`` (so it carries an
  RKME over the encoder's features and a PAVE model vector on the dock's shared base), and
  submitted to one dock; model vectors are fitted once per learnware and kept in the work folder.
* **User tasks.** Each dataset's user holds ``shots`` labelled rows per class of its train split
  (k = 16 for text, 2 for images: the paper's appendix C.3) and is scored on the test split.
  Searches go through the dock: ``Dock.search(task vector, method="parameter")`` (PAVE) and
  ``Dock.search(Task(encoder features), method="statistical")`` (RKME).
* **Columns** (Tables A5/A6): ``finetune_base``, the base pre-trained model fine-tuned on the shots
  (:mod:`modelreuse.bench._pave_finetune`); ``head_base``, a new head on the frozen encoder trained
  on the shots; ``random``, the mean over all learnwares; ``rkme`` and ``pave``, the top-1
  learnware of each search; ``oracle``, the best learnware. A learnware is scored *as is* through
  the label map of its classes to the user's learnt on the shots
  (:func:`~modelreuse.bench._pave_models.as_is_accuracy`).
* **Beyond the original functionality** (Table 1): the user's own dataset's learnwares are
  excluded from the searches; each pick is scored as is and after fine-tuning on the shots (its
  hidden layer kept, a new output layer: :func:`~modelreuse.bench._pave_models.finetune_head`);
  Random and Oracle are the mean and best over the remaining learnwares, fine-tuned likewise.
* **Approximation check** (Figure 3 / Table A9; :mod:`modelreuse.bench._pave_approx`): on the
  first ``approx`` datasets, the task vectors' pairwise ``cos(B)``, ``cos(BA)`` and the cosines of
  a full-rank fine-tune's change of the same weight matrices, with Spearman correlations.
* **Speed**: seconds per model and task vector, search milliseconds, vector length and bytes per spec.

``checkpoint``: a JSON file updated after every dataset's learnwares, every user task and every
approximation entry; a rerun with the same protocol resumes from it. Its work folder
``<checkpoint>.work`` keeps the dock and the learnware packages (so model vectors are never
refitted); without a checkpoint a temporary folder is used and removed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelreuse.bench import _pave_models as heads
from modelreuse.bench._pave_data import DATASETS, Corpus, UserSplit, load_corpus, split_users, take
from modelreuse.bench._pave_report import PAPER, PAVEReport, goals, speed, summarise
from modelreuse.config import Progress, write_cache_file
from modelreuse.dock import Dock
from modelreuse.errors import InvalidTaskDataError
from modelreuse.learnware import Learnware
from modelreuse.models.encoders import IMAGE_ENCODER, TEXT_ENCODER
from modelreuse.specs.pave import PAVESpec
from modelreuse.task import Task

SHOTS = {"text": 16, "image": 2}
ENCODERS = {"text": TEXT_ENCODER, "image": IMAGE_ENCODER}
TWINS = ("good", "corrupted")
CHECKPOINT_VERSION = 2
TIE = 1e-9


@dataclass
class PAVEBenchConfig:
    """The protocol (module doc); a checkpoint is resumed only under an equal one.

    ``datasets`` default to every dataset of the modality, ``shots`` to the paper's k;
    ``finetune_steps`` replaces the base fine-tune's default steps; ``model_fit`` and
    ``task_fit`` are extra keyword arguments of :meth:`PAVESpec.fit_model` / ``fit_task``
    (e.g. ``steps`` for a quick run).
    """

    modality: str = "text"
    datasets: list[str] = field(default_factory=list)
    shots: int = 0
    seed: int = 0
    noise: float = 0.8
    max_developer: int = 2000
    max_test: int = 1000
    approx: int = 6
    finetune_base: bool = True
    finetune_steps: int | None = None
    model_fit: dict[str, Any] = field(default_factory=dict)
    task_fit: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.modality not in DATASETS:
            raise InvalidTaskDataError(f"--modality must be one of {', '.join(DATASETS)}, got {self.modality!r}")
        self.datasets = list(self.datasets or DATASETS[self.modality])
        unknown = [d for d in self.datasets if d not in DATASETS[self.modality]]
        if unknown or len(self.datasets) < 2 or len(set(self.datasets)) != len(self.datasets):
            raise InvalidTaskDataError(f"--datasets needs at least 2 distinct {self.modality} datasets of "
                                       f"{', '.join(DATASETS[self.modality])}; got {self.datasets}")
        self.shots = int(self.shots or SHOTS[self.modality])
        if self.shots < 1 or not 0.0 <= self.noise <= 1.0:
            raise InvalidTaskDataError(f"--shots must be >= 1 and noise in [0, 1]; got {self.shots}, {self.noise}")


@dataclass
class _Dataset:
    """One dataset's corpus, split and encoder features of its three parts."""

    corpus: Corpus
    split: UserSplit
    features: dict[str, np.ndarray]

    def raw(self, part: str) -> Any:
        X = self.corpus.X_test if part == "test" else self.corpus.X_train
        return take(X, getattr(self.split, part))

    def labels(self, part: str) -> np.ndarray:
        y = self.corpus.y_test if part == "test" else self.corpus.y_train
        return y[getattr(self.split, part)]


class _Run:
    """The state of one benchmark run: config, folders, dock, base, checkpoint."""

    def __init__(self, config: PAVEBenchConfig, data_root: Path, cache: Path, work: Path,
                 checkpoint: Path | None, progress: Progress):
        self.config, self.data_root, self.cache, self.work = config, data_root, cache, work
        self.checkpoint, self.progress = checkpoint, progress
        self.state = self._resumed()
        self.dock = Dock(work / "dock")
        self.base = self.dock.pave_base(config.modality)
        self.state["base_id"] = self.base.id
        self._data: dict[str, _Dataset] = {}

    @property
    def protocol(self) -> dict[str, Any]:
        return asdict(self.config) | {"version": CHECKPOINT_VERSION}

    def _resumed(self) -> dict[str, Any]:
        """The checkpoint's state if it was saved under this protocol, else a fresh one (and a
        fresh work folder). Datasets whose packages are gone from the work folder are redone."""
        saved = {}
        if self.checkpoint is not None and self.checkpoint.is_file():
            from modelreuse._safeio import read_json

            saved = read_json(self.checkpoint, InvalidTaskDataError, max_bytes=256 * 1024 * 1024)
        if not isinstance(saved, dict) or saved.get("protocol") != self.protocol:
            shutil.rmtree(self.work, ignore_errors=True)
            return {"protocol": self.protocol, "datasets": {}, "tasks": {}, "approximation": {}}
        saved["datasets"] = {name: info for name, info in saved["datasets"].items()
                             if all((self.package(name, twin) / "manifest.json").is_file() for twin in TWINS)}
        return saved

    def package(self, dataset: str, twin: str) -> Path:
        """The work folder's package of a learnware."""
        return self.work / "packages" / learnware_name(dataset, twin)

    def task_vector_path(self, dataset: str) -> Path:
        """Where the user task's PAVE task vector of ``dataset`` is kept."""
        path = self.work / "task_vectors" / f"{dataset}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save(self) -> None:
        if self.checkpoint is not None:
            text = json.dumps(self.state)
            write_cache_file(self.checkpoint, lambda tmp: tmp.write_text(text))

    def data(self, name: str) -> _Dataset:
        """The dataset ``name`` with its split and features (loaded once per run)."""
        if name not in self._data:
            config = self.config
            corpus = load_corpus(config.modality, name, self.data_root, config.seed)
            data = _Dataset(corpus, split_users(corpus, config.shots, config.seed, config.max_developer,
                                                config.max_test), {})
            data.features = {p: encoder_features(config.modality, data.raw(p), self.cache)
                             for p in ("user", "developer", "test")}
            self._data[name] = data
        return self._data[name]


def encoder_features(modality: str, X: Any, cache: Path) -> np.ndarray:
    """The dock encoder's features of texts or images, cached under ``cache``."""
    from modelreuse.models.encoders import encode_images, encode_text_cached

    if modality == "text":
        return encode_text_cached(X, cache)
    import hashlib

    key = hashlib.sha256(np.ascontiguousarray(X).tobytes() + str(X.shape).encode()).hexdigest()[:24]
    path = cache / f"efficientnet-lite0-{key}.npy"
    if path.is_file():
        return np.load(path)
    F = encode_images(X)
    write_cache_file(path, lambda tmp: np.save(tmp, F))
    return F


# ---------------------------------------------------------------------------- learnware set
def learnware_name(dataset: str, twin: str) -> str:
    return f"{dataset}-{twin}"


def build_learnwares(run: _Run, name: str) -> dict[str, Any]:
    """Train the dataset's two learnwares, fit their model vectors and build their packages
    (module doc); returns what the report shows of them."""
    data, config = run.data(name), run.config
    y_dev, n_classes = data.labels("developer"), data.corpus.n_classes
    info: dict[str, Any] = {"n_classes": n_classes, "split": data.corpus.split,
                            "rows": {p: int(len(getattr(data.split, p))) for p in ("user", "developer", "test")},
                            "learnwares": {}, "load_average": list(os.getloadavg())}
    for twin in TWINS:
        labels = y_dev if twin == "good" else heads.noisy_labels(y_dev, n_classes, config.noise, config.seed + 1)
        module = heads.train_learnware_head(data.features["developer"], labels, n_classes, config.seed)
        start = time.perf_counter()
        spec = _model_vector(module, data, run)
        seconds = time.perf_counter() - start
        _build_package(run, name, twin, module, spec)
        info["learnwares"][twin] = {"test_accuracy": _accuracy(module, data), "model_vector_s": seconds}
    info["spec"] = _spec_size(run.package(name, "good"))
    return info


def _model_vector(module: Any, data: _Dataset, run: _Run) -> PAVESpec:
    """The learnware's PAVE model vector: the base fitted to its soft predictions on the developer's inputs."""
    from modelreuse.models.adapters import as_model

    model = as_model(module, "classification", list(range(data.corpus.n_classes)))
    return PAVESpec.fit_model(model, data.raw("developer"), run.base, encoder=run.base.base_model,
                              seed=run.config.seed, **run.config.model_fit)


def _build_package(run: _Run, name: str, twin: str, module: Any, spec: PAVESpec) -> None:
    """The learnware's package in the work folder, with the public API (RKME over the encoder's features)."""
    data, modality = run.data(name), run.config.modality
    folder = run.package(name, twin)
    shutil.rmtree(folder, ignore_errors=True)
    Learnware.build(folder, module, X=data.features["developer"], specs=[spec], name=learnware_name(name, twin),
                    task_type="classification", modality=modality, encoder=ENCODERS[modality],
                    classes=data.corpus.classes, fmt="safetensors",
                    architecture=heads.architecture(data.features["developer"].shape[1], data.corpus.n_classes),
                    description=f"{twin} head on {ENCODERS[modality]} for {name}", tags=["pave-bench", twin])


def _spec_size(package: Path) -> dict[str, Any]:
    lw = Learnware.open(package)
    entry = next(s for s in lw.manifest.specs if s.kind == "pave")
    spec = lw.spec("pave")
    return {"vector_length": int(spec.vector.shape[0]), "dtype": str(spec.vector.dtype),
            "file_bytes": (package / entry.file).stat().st_size}


def submit_all(run: _Run) -> dict[str, str]:
    """Submit every built package not yet in the dock; learnware name -> id."""
    present = {card["name"]: card["id"] for card in run.dock.list()}
    wanted = [(d, t) for d in run.config.datasets for t in TWINS]
    missing = [run.package(d, t) for d, t in wanted if learnware_name(d, t) not in present]
    if missing:  # packages this process built and checked itself: not sandboxed again
        ids = run.dock.submit_many(missing, validate=False)
        present.update({p.name: i for p, i in zip(missing, ids)})
    return {learnware_name(d, t): present[learnware_name(d, t)] for d, t in wanted}


# ---------------------------------------------------------------------------- user tasks
@dataclass
class _Searches:
    """The four searches of one user task (learnware name -> score, best first) and timings."""

    pave: dict[str, float]
    rkme: dict[str, float]
    pave_out: dict[str, float]
    rkme_out: dict[str, float]
    pave_ms: float
    rkme_ms: float


def evaluate_task(run: _Run, name: str, ids: dict[str, str]) -> dict[str, Any]:
    """One user task: searches, scores of every column, twin preferences, timings (module doc)."""
    data, config = run.data(name), run.config
    start = time.perf_counter()
    task_vector = PAVESpec.fit_task(data.raw("user"), data.labels("user"), run.base, k=config.shots,
                                    seed=config.seed, **config.task_fit)
    task_vector_s = time.perf_counter() - start
    task_vector.save(run.task_vector_path(name))
    own = tuple(ids[learnware_name(name, t)] for t in TWINS)
    found = _search(run.dock, task_vector, Task(X=data.features["user"], y=data.labels("user"),
                                                task_type="classification", encoder=ENCODERS[config.modality],
                                                seed=config.seed), len(ids), own)
    models = {n: run.dock.load_model(i) for n, i in ids.items()}
    as_is = {n: _as_is(m, data) for n, m in models.items()}
    others = [n for n in ids if ids[n] not in own]
    tuned = {n: _accuracy(heads.finetune_head(models[n].model, data.features["user"], data.labels("user"),
                                              data.corpus.n_classes, config.seed), data) for n in others}
    start = time.perf_counter()
    fixed = {"finetune_base": _finetune_base(run, data) if config.finetune_base else None,
             "head_base": _accuracy(heads.fresh_head(data.features["user"], data.labels("user"),
                                                     data.corpus.n_classes, config.seed), data)}
    timing = {"task_vector_s": task_vector_s, "pave_search_ms": found.pave_ms, "rkme_search_ms": found.rkme_ms,
              "baselines_s": time.perf_counter() - start}
    return {
        "main": fixed | _picked(found.pave, found.rkme, as_is),
        "beyond": {"as_is": fixed | _picked(found.pave_out, found.rkme_out, {n: as_is[n] for n in others}),
                   "finetuned": fixed | _picked(found.pave_out, found.rkme_out, tuned)},
        "picks": {"pave": _best(found.pave), "rkme": _best(found.rkme), "oracle": _best(as_is),
                  "beyond_pave": _best(found.pave_out), "beyond_rkme": _best(found.rkme_out),
                  "beyond_oracle": _best(tuned)},
        "rankings": {"pave": found.pave, "rkme": found.rkme},
        "as_is": as_is, "finetuned": tuned,
        "twins": {"pave": _twin_preferences(found.pave, name, config.datasets),
                  "rkme": _twin_preferences(found.rkme, name, config.datasets)},
        "rows": {"user": int(len(data.split.user)), "test": int(len(data.split.test))},
        "timing": timing,
    }


def _search(dock: Dock, task_vector: PAVESpec, task: Task, n: int, own: tuple[str, ...]) -> _Searches:
    """Full rankings of PAVE and RKME through the dock, with and without the user's own learnwares."""
    start = time.perf_counter()
    pave = dock.search(task_vector, method="parameter", k=n)
    pave_ms = 1000 * (time.perf_counter() - start)
    start = time.perf_counter()
    rkme = dock.search(task, method="statistical", k=n, calibrate=False)
    rkme_ms = 1000 * (time.perf_counter() - start)
    pave_out = dock.search(task_vector, method="parameter", k=n, exclude=own)
    rkme_out = dock.search(task, method="statistical", k=n, exclude=own, calibrate=False)
    scored = [{e.name: float(e.score) for e in r} for r in (pave, rkme, pave_out, rkme_out)]
    return _Searches(*scored, pave_ms=pave_ms, rkme_ms=rkme_ms)


def _best(scores: dict[str, float]) -> list[str]:
    """The names with the top score: a search's pick, several when the top is tied (twins with the
    same RKME); scores of a pick are their mean, the expectation over random tie-breaking."""
    top = max(scores.values())
    return sorted(n for n, s in scores.items() if s >= top - TIE * max(1.0, abs(top)))


def _as_is(model: Any, data: _Dataset) -> float:
    """A learnware's test accuracy through the shots' label map (:func:`heads.as_is_accuracy`)."""
    proba_user = model.predict_proba(data.features["user"])
    proba_test = model.predict_proba(data.features["test"])
    return heads.as_is_accuracy(proba_user.argmax(1), data.labels("user"), proba_test.argmax(1), data.labels("test"),
                                proba_user.shape[1], data.corpus.n_classes)


def _accuracy(module: Any, data: _Dataset) -> float:
    return float(np.mean(heads.predict(module, data.features["test"]) == data.labels("test")))


def _finetune_base(run: _Run, data: _Dataset) -> float:
    from modelreuse.bench._pave_finetune import finetune_base

    predicted = finetune_base(run.config.modality, data.raw("user"), data.labels("user"), data.corpus.n_classes,
                              data.raw("test"), run.config.seed, steps=run.config.finetune_steps)
    return float(np.mean(predicted == data.labels("test")))


def _picked(pave: dict[str, float], rkme: dict[str, float], scores: dict[str, float]) -> dict[str, float]:
    """Random (mean), RKME's and PAVE's picks (:func:`_best`) and Oracle (best) among the
    learnwares of ``scores``."""
    return {"random": float(np.mean(list(scores.values()))),
            "rkme": float(np.mean([scores[n] for n in _best(rkme)])),
            "pave": float(np.mean([scores[n] for n in _best(pave)])), "oracle": max(scores.values())}


def _twin_preferences(scores: dict[str, float], own: str, datasets: list[str]) -> dict[str, Any]:
    """How much a search prefers corrupted twins, as expectations over random tie-breaking: the
    user's own dataset's corrupted twin scored above its good twin (1; a tie counts 1/2), the same
    over every dataset's pair, and the share of corrupted learnwares in the pick."""
    def inverted(dataset: str) -> float:
        good, bad = scores[learnware_name(dataset, "good")], scores[learnware_name(dataset, "corrupted")]
        return 0.5 if abs(bad - good) <= TIE * max(1.0, abs(good)) else float(bad > good)

    pick = _best(scores)
    return {"own_inverted": inverted(own), "pairs_inverted": float(np.mean([inverted(d) for d in datasets])),
            "top1_corrupted": float(np.mean([n.endswith("-corrupted") for n in pick]))}


# ---------------------------------------------------------------------------- the run
def run_pave_bench(config: PAVEBenchConfig, data_root: str | Path, cache: str | Path,
                   checkpoint: str | Path | None = None, progress: Progress | None = None,
                   threads: int | None = None) -> PAVEReport:
    """Run the benchmark (module doc) and return its report; ``threads``: torch's intra-op threads
    for the run (default: the caller's setting)."""
    work = Path(f"{checkpoint}.work") if checkpoint else Path(tempfile.mkdtemp(prefix="pave-bench-"))
    try:
        with heads.torch_threads(threads):
            return _run(config, data_root, cache, work, checkpoint, progress)
    finally:
        if checkpoint is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(config: PAVEBenchConfig, data_root: str | Path, cache: str | Path, work: Path,
         checkpoint: str | Path | None, progress: Progress | None) -> PAVEReport:
    run = _Run(config, Path(data_root), Path(cache), work, Path(checkpoint) if checkpoint else None,
               progress or (lambda _: None))
    _each(run, "datasets", "training and specifying the learnwares of", build_learnwares)
    ids = submit_all(run)
    _each(run, "tasks", "evaluating the user task of", lambda r, name: evaluate_task(r, name, ids))
    return _report(run, _approximation(run))


def _each(run: _Run, part: str, label: str, step: Any) -> None:
    """Do ``step`` for every dataset not yet in the checkpoint's ``part``, saving after each."""
    names = run.config.datasets
    for i, name in enumerate(names, 1):
        if name in run.state[part]:
            run.progress(f"{label} {name} ({i}/{len(names)}): from the checkpoint")
            continue
        run.progress(f"{label} {name} ({i}/{len(names)})")
        run.state[part][name] = step(run, name)
        run.save()


def _approximation(run: _Run) -> dict[str, Any] | None:
    """The approximation check on the first ``approx`` datasets (module doc), or None."""
    if run.config.approx < 2:
        return None
    from modelreuse.bench._pave_approx import approximation_check

    return approximation_check(run, run.config.datasets[: run.config.approx])


def _report(run: _Run, approximation: dict[str, Any] | None) -> PAVEReport:
    datasets, tasks = run.state["datasets"], run.state["tasks"]
    summary = summarise(tasks, datasets)
    speeds = speed(datasets, tasks)
    return PAVEReport(modality=run.config.modality, protocol=run.protocol, datasets=datasets, tasks=tasks,
                      summary=summary, approximation=approximation, speed=speeds,
                      goals=goals(run.config.modality, summary, approximation, speeds), paper=PAPER[run.config.modality])
