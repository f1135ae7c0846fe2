"""The one-call API: ``Client().fit(training_data=(X, y), model_zoo_path=...)``.

A thin facade over the parts: ``fit`` matches a table's columns to the dock's table schemas
(:func:`modelreuse.dock.tables.table_schemas`, :func:`search_table`), builds the task's RKME locally, searches the dock
(calibrated statistical ranking, then mixture search; for labelled raw texts or images, PAVE when
the dock's learnwares of that modality carry it, see :func:`search_pave`), loads the candidates safely (skipping, with
the reason, any learnware that cannot be loaded or does not predict on the task's rows), and fits
an :class:`~modelreuse.reuse.auto.AutoReuser`, which picks the reuser (see
:mod:`modelreuse.reuse.auto`). When calibrated search says nothing fits, ``on_nothing_fits``
decides: raise, train on the user's own rows, or reuse anyway.

A zoo of pre-trained models (a dock of feature-extraction learnwares, e.g. from ``modelreuse zoo
build``, or a folder or zip of such packages) with labelled raw texts or images goes another way
(:func:`fit_zoo`): the extractors of the rows' modality are ranked by transferability (LogME) on
the labelled rows through the dock's ``transferability`` selector; with ``reuser="auto"`` the
(model, adaptation) pair is then chosen by stratified cross-validation on the rows
(:mod:`modelreuse.reuse.coupled`: the probe on each of the top 3, the concatenated probe and the
probe ensemble of the top k), else the named reuser is fitted (``"linear_probe"``: the best;
``"concat_probe"`` / ``"probe_ensemble"``: the top k). A zoo on a dock server is downloaded into a
temporary local dock first (:func:`modelreuse.dock.packages.dock_of_remote_zoo`): the rows stay here.

The returned :class:`ReusedModel` is a scikit-learn estimator (``clone``, ``fit``, ``predict``,
``predict_proba`` for classification, ``classes_``, ``score``) that also says which learnwares it
chose and why (``explain()``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelreuse.errors import (
    EmptyDockError,
    InvalidTaskDataError,
    ModelLoadError,
    ModelPredictError,
    NothingFitsError,
    SchemaError,
    UnknownNameError,
    UntrustedArtifactError,
)
from modelreuse.selection.ranking import RankedLearnware, Ranking

if TYPE_CHECKING:  # imported when used, so that ``from modelreuse import Client`` stays fast
    from modelreuse.dock import Dock, RemoteDock
    from modelreuse.reuse.auto import Candidate
    from modelreuse.reuse.reused_model import ReusedModel
    from modelreuse.task import Task

UNUSABLE = (UntrustedArtifactError, ModelLoadError, ModelPredictError, SchemaError)
PROBE_ROWS = 8


def __getattr__(name: str) -> Any:
    if name == "ReusedModel":  # scikit-learn loads with it, not with ``from modelreuse import Client``
        from modelreuse.reuse.reused_model import ReusedModel

        return ReusedModel
    raise AttributeError(f"module 'modelreuse.client' has no attribute {name!r}")


class Client:
    """Entry point for users.

    Args:
        dock: a :class:`Dock` or :class:`RemoteDock`, a dock root directory, a dock server's URL
            (``http://host:8000``), or ``None`` for ``./modelreuse-dock``.
        trust: allow loading learnware artifacts that can run code (pickle/joblib).
        create: create an empty dock at ``dock`` when there is none there; by default a path
            holding no dock is a :class:`DockNotFoundError` (a mistyped path is never silently
            turned into an empty dock).
        token: API token for a dock server (default ``$MODELREUSE_TOKEN``).

    With a dock server, the task's spec is computed here and only it is sent to search; the
    chosen learnwares are downloaded and run here (:class:`~modelreuse.dock.remote.RemoteDock`).
    """

    def __init__(self, dock: Dock | RemoteDock | str | Path | None = None, trust: bool = False, create: bool = False,
                 token: str | None = None):
        self._dock = dock
        self.trust = trust
        self.create = create
        self.token = token

    @property
    def dock(self) -> Dock | RemoteDock:
        """The client's dock, opened on first use (default ``./modelreuse-dock``)."""
        from modelreuse.dock import open_dock

        self._dock = open_dock("modelreuse-dock" if self._dock is None else self._dock, self.token, create=self.create)
        return self._dock

    def fit(self, training_data, model_zoo_path: str | Path | Dock | RemoteDock | None = None, *, unlabelled_data=None,
            reuser: str = "auto", task_type: str | None = None, encoder: str | None = None,
            max_learnwares: int = 5, k: int = 5, seed: int = 0, on_nothing_fits: str = "raise",
            alpha: float | None = None, metric: str = "logme", time_budget_s: float | None = None,
            n_jobs: int = 1, ranker: tuple | None = None) -> ReusedModel:
        """Find learnwares that fit the task and reuse them.

        Args:
            training_data: ``(X, y)`` labelled rows, or ``X`` alone (unlabelled). ``X`` is a
                float matrix in the learnwares' feature space, raw texts/images with ``encoder``,
                or a pandas DataFrame of raw columns (see "Tables" below); with a DataFrame ``y``
                may name its label column, and rows whose label is missing are then used as
                unlabelled rows.
            model_zoo_path: an existing dock's root directory, a dock server's URL or a dock
                object (default: this client's dock), or a folder of learnware packages or a zip
                of them (validated into a temporary dock, :mod:`modelreuse.dock.packages`); a
                path holding none of these is a :class:`DockNotFoundError`.
            unlabelled_data: extra rows without labels (used for the task spec and job selection).
            reuser: ``"auto"``, ``"single"`` or a name in :data:`modelreuse.reuse.REUSERS`; on a zoo
                of feature extractors, ``"auto"`` (the coupled choice: pairs of extractor and reuser
                compared by stratified CV accuracy, :mod:`modelreuse.reuse.coupled`) or a name in
                :data:`modelreuse.reuse.EXTRACTOR_REUSERS`: ``"linear_probe"`` (the best extractor),
                ``"concat_probe"`` or ``"probe_ensemble"`` (the ``k`` best), fitted without CV.
            task_type: ``"classification"``/``"regression"``; inferred from ``y`` if omitted.
            encoder: encode raw text/images with this encoder first (e.g. ``"all-MiniLM-L6-v2"``).
            max_learnwares: size limit of the mixture.
            k: number of learnwares in the statistical ranking used by label-based reusers; on a
                zoo, the number of best extractors that ``concat_probe`` and ``probe_ensemble`` combine.
            on_nothing_fits: what to do when calibrated search finds no learnware whose
                distribution plausibly matches the task (every p-value < ``alpha``):
                ``"raise"`` a :class:`NothingFitsError` listing the closest candidates,
                ``"train"`` a random forest on the labelled rows only, or ``"reuse"`` anyway.
                The returned model's ``reuser`` and ``explain()`` say which happened.
            alpha: significance level of "nothing fits" (default
                :data:`modelreuse.selection.calibration.DEFAULT_ALPHA`, 0.01).
            metric: for a zoo of feature extractors, the transferability metric that ranks them
                (a name of :data:`modelreuse.selection.transferability.METRICS`; default LogME).
            time_budget_s: for a zoo, the seconds feature extraction and the coupled choice may take
                (``None``: no limit); extractors not reached are listed in ``explain()`` as not
                scored, pairs not reached as not tried.
            n_jobs: for a zoo, extractors run at a time (joblib, threads).
            ranker: for a zoo, a trained learned metric ensemble as ``(MetricEnsembleRanker fitted on
                past tasks, the metric names of its score columns in order)``; it then ranks the
                extractors instead of ``metric`` alone (none is shipped, so the default is LogME).

        Tables: the dock's learnwares that declare a table schema (of the task's type) are
        matched to the DataFrame's columns by name, in any order (:func:`~modelreuse.dock.tables.table_schemas`); the
        task spec is the RKME of ``impute_means(schema.encode(rows))`` in exactly that schema's
        feature space, and the learnwares are reused on ``schema.encode(rows)`` with missing
        cells kept (their adapters fill them). The returned model takes DataFrames of the same
        columns. When learnwares of several schemas match, each feature space is searched and
        the one whose best learnware has the highest calibrated p-value is used (ties: the
        first); ``explain()`` lists the others. Texts are encoded once per call.

        Texts and images (``encoder`` of modality text or image, labelled classification rows):
        when the dock's learnwares of that modality carry PAVE specs, the task is a PAVE task
        vector fitted here on the dock's base adapter and they are ranked by cosine
        (:func:`search_pave`); otherwise by RKME as above. ``explain()`` says which was used and
        why, and the model's ``ranking.method`` is ``parameter`` or ``statistical``.

        Classification: learnwares whose classes share none of your labels (compared as strings)
        are skipped with the reason; none left is a :class:`SchemaError` saying how to map your
        labels (:func:`modelreuse.reuse.auto.shared_label_space`).

        Zoos of pre-trained models: when the dock holds feature-extraction learnwares (e.g. built
        by ``modelreuse zoo build``) and ``X`` is raw texts (a list of strings) or images (a uint8
        array ``(n, H, W[, 3])``) with labels and no ``encoder``, the extractors of that modality
        are ranked on your labelled rows by the ``transferability`` selector (``metric``, default
        LogME; features extracted once per candidate with ``n_jobs`` joblib workers, within
        ``time_budget_s`` seconds); with ``reuser="auto"`` the (extractor, reuser) pair is chosen by
        stratified CV on your rows from those features and refitted on all rows, else the best is
        reused by the linear probe or the ``k`` best by ``reuser`` (:func:`fit_zoo`). On a dock server, its extractors of that modality are
        downloaded and validated into a temporary local dock first (the rows never leave this
        machine); a dock with no extractor is an :class:`EmptyDockError`.
        """
        from modelreuse.dock.tables import is_table
        from modelreuse.selection.calibration import DEFAULT_ALPHA

        if on_nothing_fits not in ("raise", "train", "reuse"):
            raise ValueError(f"on_nothing_fits must be 'raise', 'train' or 'reuse', got {on_nothing_fits!r}")
        alpha = DEFAULT_ALPHA if alpha is None else alpha
        dock = _open_zoo(model_zoo_path, self.token, self.trust) if model_zoo_path is not None else self.dock
        X_raw, y, unlabelled_data = _split_training_data(training_data, unlabelled_data)
        modality = raw_modality(X_raw) if encoder is None else None
        if modality is not None and not hasattr(dock, "count"):  # a RemoteDock: its zoo, made local
            from modelreuse.dock.packages import dock_of_remote_zoo

            dock = dock_of_remote_zoo(dock, modality, trust=self.trust)
        if modality is not None and not dock.count(task_type="feature_extraction"):
            raise EmptyDockError(
                f"raw {modality} rows without an encoder are reused from a zoo of feature extractors, and this dock has "
                f"none: pass model_zoo_path=a zoo (e.g. `modelreuse zoo build --preset {modality} --out ZOO`), or "
                "encoder=... (e.g. 'all-MiniLM-L6-v2') to search the dock's learnwares with embedded rows")
        if modality is not None:
            model = fit_zoo(dock, X_raw, y, modality, k=k, metric=metric, time_budget_s=time_budget_s, n_jobs=n_jobs,
                            trust=self.trust, task_type=task_type, ranker=ranker, reuser=reuser)
            model._zoo = dock  # a temporary dock of packages lives as long as the model (its packages are saved with it)
            return model
        task_type = task_type or (None if y is None else _infer_task_type(y))
        if task_type is None:
            raise InvalidTaskDataError("pass task_type='classification' or 'regression' when no labels are given")
        rows = X_raw if X_raw is not None else unlabelled_data  # what the returned model is fitted on
        if is_table(rows):
            found = search_table(dock, rows, y, unlabelled_data, task_type=task_type, k=k, alpha=alpha, seed=seed)
        else:
            found, note = search_pave(dock, X_raw, y, encoder, task_type=task_type, k=k, seed=seed)
            if found is None:
                found = _search_rows(dock, rows, y, unlabelled_data, encoder, task_type=task_type, k=k, alpha=alpha,
                                     seed=seed)
                found = replace(found, notes=(*found.notes, note)) if note else found
        task, ranking = found.task, found.ranking
        if ranking.details.get("nothing_fits") and on_nothing_fits != "reuse":
            best = ranking[0]
            if on_nothing_fits == "raise" or task.y is None:
                raise NothingFitsError(
                    f"no learnware fits this task: the closest, {best.name!r}, has p = {best.details['p_value']:.3g} "
                    f"< alpha = {alpha}. Pass on_nothing_fits='train' to fit on your labelled rows, or "
                    "'reuse' to reuse the closest learnwares anyway.", ranking)
            return train_on_own_rows(task, ranking, seed, rows=rows, model=found.model)
        mixture = found.mixture or dock.search(task, method="mixture", max_learnwares=max_learnwares)
        return reuse(dock, task, mixture, ranking, reuser=reuser, trust=self.trust, rows=rows, model=found.model,
                     notes=found.notes)


def _open_zoo(location, token: str | None, trust: bool):
    """The dock at ``location``, or a temporary one holding the packages of a folder or zip of learnware
    packages (:func:`modelreuse.dock.packages.dock_of_packages`)."""
    from modelreuse.dock import open_dock
    from modelreuse.dock.packages import dock_of_packages, is_package_folder

    if isinstance(location, (str, Path)) and not str(location).startswith(("http://", "https://")) \
            and is_package_folder(location):
        return dock_of_packages(location, trust=trust)
    return open_dock(location, token, create=False)


def raw_modality(X) -> str | None:
    """``"text"`` for a list/array of strings, ``"image"`` for an integer or float array of 3 or 4
    dimensions (images; their shape is checked by the extractor), else ``None`` (feature rows or
    a table)."""
    if isinstance(X, (list, tuple)) and X and all(isinstance(v, str) for v in X):
        return "text"
    if isinstance(X, np.ndarray):
        if X.dtype.kind in "UO" and X.ndim == 1 and all(isinstance(v, str) for v in X):
            return "text"
        if X.dtype.kind in "uif" and X.ndim in (3, 4):
            return "image"
    return None


def fit_zoo(dock: Dock, X, y, modality: str, *, k: int = 5, metric: str = "logme", time_budget_s: float | None = None,
            n_jobs: int = 1, trust: bool = False, task_type: str | None = None, ranker: tuple | None = None,
            reuser: str = "auto") -> ReusedModel:
    """Select a feature extractor of ``modality`` from ``dock`` on the labelled raw rows ``(X, y)`` and
    reuse it. ``reuser="auto"``: the coupled choice (:func:`modelreuse.reuse.coupled.choose_pair`): the
    linear probe on each of the top 3 extractors, ``concat_probe`` and ``probe_ensemble`` over the top
    ``k`` are compared by stratified CV accuracy on ``(X, y)`` from the features the ranking extracted
    (within what is left of ``time_budget_s``), and the winner is refitted on all rows; a class with
    fewer than 2 rows falls back to the top extractor's probe, with a note. Otherwise reuse the best
    with a linear probe (:class:`~modelreuse.reuse.linear_probe.LinearProbeReuser`), or
    the ``k`` best with ``reuser`` (a name in :data:`~modelreuse.reuse.base.EXTRACTOR_REUSERS` whose
    estimator takes ``extractors``: ``concat_probe``, ``probe_ensemble``). ``ranker``:
    ``(fitted MetricEnsembleRanker, its metric names)`` to rank by the learned ensemble instead.

    Selection is ``dock.search(query, method="transferability")`` (:mod:`modelreuse.selection.methods.transferability`):
    every extractor's features are extracted once (cached for this call; the winner's are reused by the
    probe, not extracted again). ``explain()`` of the returned model names the winner, lists the
    ranking with its scores, and says that it was probed. Errors: :class:`InvalidTaskDataError`
    without labels, for a single class or a regression task, or for images of the wrong shape;
    :class:`EmptyDockError` when the dock has no extractor of this modality;
    :class:`UnknownNameError` for a ``reuser`` that is not an extractor reuser.
    """
    from modelreuse.models.extractors import check_images, check_texts
    from modelreuse.reuse.base import EXTRACTOR_REUSERS
    from modelreuse.reuse.reused_model import ReusedModel
    from modelreuse.selection.methods.transferability import ExtractorQuery

    started = time.perf_counter()
    if reuser != "auto" and reuser not in EXTRACTOR_REUSERS:
        raise UnknownNameError(f"reuser {reuser!r} does not reuse a zoo of feature extractors; on a zoo pass reuser="
                               f"'auto' or one of {', '.join(EXTRACTOR_REUSERS.names())}")
    if not isinstance(k, int) or k < 1:
        raise InvalidTaskDataError(f"k (the number of best extractors to combine) must be an integer >= 1, got {k!r}")

    if y is None:
        raise InvalidTaskDataError("selecting from a zoo of feature extractors needs labelled rows: pass (X, y)")
    X = check_texts(X) if modality == "text" else check_images(X)
    y = np.asarray(y)
    if (task_type or _infer_task_type(y)) != "classification":
        raise InvalidTaskDataError("reusing a zoo of feature extractors (linear probe) is for classification; "
                                   "pass class labels (or task_type='classification')")
    if len(np.unique(y.astype(str))) < 2:
        raise InvalidTaskDataError(f"your labels have a single class ({y[0]!r}); a classifier needs rows of at least "
                                   "2 classes: add labelled rows of another class")
    if not dock.count(task_type="feature_extraction", modality=modality):
        others = sorted({c["modality"] for c in dock.list(task_type="feature_extraction")})
        raise EmptyDockError(f"the zoo has no {modality} feature extractor (it has {', '.join(others)} ones); build "
                             f"one with `modelreuse zoo build --preset {modality} --out DOCK` or pass {others[0]} rows")
    extractors: dict[str, Any] = {}

    def load(learnware_id: str):
        if learnware_id not in extractors:
            extractors[learnware_id] = dock.load_model(learnware_id, trust=trust)
        return extractors[learnware_id]

    query = ExtractorQuery(X, y, modality, load)
    pool = dock.count(task_type="feature_extraction", modality=modality)
    ensemble = {} if ranker is None else {"ranker": ranker[0], "ranker_metrics": tuple(ranker[1])}
    ranking = dock.search(query, method="transferability", k=max(k, pool), metric=metric, n_jobs=n_jobs,
                          time_budget_s=time_budget_s, task_type="feature_extraction", modality=modality, **ensemble)
    choice = None
    if reuser == "auto":  # the coupled choice of (model, adaptation) by CV on the rows (modelreuse.reuse.coupled)
        from modelreuse.reuse.coupled import choose_pair

        choice = choose_pair([(e.learnware_id, e.name) for e in ranking], query.features, y, k=k,
                             time_budget_s=time_budget_s, started=started)
        reuser, top = choice.pair.reuser, [next(e for e in ranking if e.learnware_id == i) for i in choice.pair.ids]
    best, cls = ranking[0], EXTRACTOR_REUSERS.get(reuser)
    if choice is None:
        top = list(ranking)[:k] if "extractors" in cls._get_param_names() else [best]
    for entry in top:  # the probe reuses the features selection extracted
        load(entry.learnware_id).remember(X, query.features[entry.learnware_id])
    if len(top) == 1 and "extractor" in cls._get_param_names():
        rank = [e.learnware_id for e in ranking].index(top[0].learnware_id) + 1
        why = (f"best of {ranking.details['candidates']} extractors by {top[0].reason}" if rank == 1 else
               f"rank {rank} of {ranking.details['candidates']} extractors by {top[0].reason}")
        probe = cls(load(top[0].learnware_id), reason=why + ("; its probe won the coupled choice" if choice else ""))
    else:
        probe = cls(extractors=tuple(load(e.learnware_id) for e in top),
                    reason=f"top {len(top)} of {ranking.details['candidates']} extractors by {ranking.method}"
                    + ("; won the coupled choice" if choice else ""))
    notes = (f"selection: {ranking.method} over the {modality} feature extractors of the zoo:",
             *(f"  {r}. {e.name} [{e.learnware_id}]: score {e.score:.4g} ({e.details['feature_size']}-d features, "
               f"{e.details['extract_seconds']:.2f} s to extract)" for r, e in enumerate(ranking, start=1)),
             *([f"  not scored (time budget of {time_budget_s} s spent): {', '.join(ranking.details['unscored'])}"]
               if ranking.details["unscored"] else []),
             *(choice.notes if choice else ()))
    return ReusedModel(estimator=probe, ranking=ranking, skipped=notes).fit(X, y)


@dataclass
class Found:
    """What search found for the user's rows: the ``task`` (spec side), its statistical
    ``ranking``, the unfitted :class:`ReusedModel` shell that encodes the rows (it holds their
    encoding, so fitting it does not encode them again), ``notes`` for ``explain()``, and the
    ``mixture`` to reuse when search already chose it (else mixture search runs)."""

    task: Task
    ranking: Ranking
    model: ReusedModel
    notes: tuple[str, ...] = ()
    mixture: Ranking | None = None


def search_pave(dock: Dock, rows, y, encoder: str | None, *, task_type: str, k: int,
                seed: int) -> tuple[Found | None, str]:
    """PAVE search for labelled raw texts or images (PAVE: Tan et al., "A Study on PAVE
    Specification for Learnware"): the task vector is fitted here on the dock's base adapter of
    the encoder's modality (:meth:`Dock.pave_base`; only the vector leaves the machine) from
    ``min(16, rows of the smallest class)`` rows per class (the paper's 16 shots, or all the user
    has), the learnwares of that modality with a PAVE spec are ranked by cosine
    (``method="parameter"``), and the best one is the mixture. ``(None, why)`` when PAVE does not apply: no labels, not
    classification, rows that are not raw texts/images, no such learnware in the dock, or a task
    vector that cannot be fitted on these rows (e.g. too few rows per class); the caller then
    searches by RKME and notes ``why``."""
    from modelreuse.models.encoders import ENCODERS

    modality = ENCODERS.metadata(encoder).get("modality") if encoder in ENCODERS else None
    if modality not in ("text", "image"):
        return None, ""
    why = "search: RKME (statistical, calibrated); PAVE not used: "
    if y is None or task_type != "classification":
        return None, why + "PAVE task vectors fit labelled classification rows"
    if not any("pave" in card["spec_kinds"] for card in dock.list(modality=modality)):
        return None, why + f"no {modality} learnware in the dock carries a PAVE spec"
    from modelreuse.reuse.reused_model import ReusedModel
    from modelreuse.specs.pave import DEFAULT_K, PAVESpec
    from modelreuse.task import Task

    base = dock.pave_base(modality)
    shots = int(min(DEFAULT_K, np.unique(np.asarray(y).astype(str), return_counts=True)[1].min()))
    try:
        spec = PAVESpec.fit_task(rows, y, base=base, k=shots, seed=seed)
    except InvalidTaskDataError as exc:
        return None, why + f"the task vector cannot be fitted on your rows ({exc})"
    ranking = dock.search(spec, method="parameter", k=k)
    model = ReusedModel(encoder=encoder)
    task = Task(X=model.features(rows), y=y, task_type=task_type, seed=seed, encoder=encoder, pave=spec)
    note = (f"search: PAVE (a task vector of {shots} of your labelled rows per class on the dock's {modality} base "
            f"adapter {base.id[:12]}; {ranking.details.get('candidates')} learnwares ranked by cosine)")
    mixture = replace(ranking, entries=[replace(ranking[0], weight=1.0)])
    return Found(task, ranking, model, (note,), mixture), ""


def _search_rows(dock: Dock, rows, y, unlabelled, encoder: str | None, *, task_type: str, k: int, alpha: float,
                 seed: int) -> Found:
    """Search with rows that are features already (NaN allowed), or raw texts/images with ``encoder``."""
    from modelreuse.reuse.reused_model import ReusedModel
    from modelreuse.task import Task

    model = ReusedModel(encoder=encoder)
    X = model.features(rows)
    if unlabelled is not None and unlabelled is not rows:
        X = np.concatenate([np.asarray(X, np.float64), np.asarray(ReusedModel(encoder=encoder).features(unlabelled),
                                                                  np.float64)])
    task = Task(X=_spec_rows(X), y=y, task_type=task_type, seed=seed, encoder=encoder)
    return Found(task, dock.search(task, method="statistical", k=k, alpha=alpha), model)


def _spec_rows(X) -> np.ndarray:
    """The rows the task spec is built on: missing cells (NaN) filled with the rows' own column
    means, as for tables (:meth:`Task.from_table`); inf is left for :class:`Task` to refuse."""
    from modelreuse.models.tabular import impute_means

    try:
        X = np.asarray(X, np.float64)
    except (TypeError, ValueError):
        return X  # not numbers: Task says what is wrong
    return impute_means(X) if np.isnan(X).any() and not np.isinf(X).any() else X


def search_table(dock: Dock, table, y=None, unlabelled=None, *, task_type: str | None = None, k: int = 5,
                 alpha: float | None = None, seed: int = 0) -> Found:
    """Calibrated statistical search for a table's rows (``table`` labelled by ``y``, plus
    ``unlabelled`` rows of the same columns): in the feature space of each dock schema the
    table's columns match (:func:`modelreuse.dock.tables.table_schemas`), the task is the RKME of
    ``impute_means(schema.encode(rows))``; the space whose best learnware has the highest p-value
    is kept (:func:`modelreuse.dock.tables.search_spaces`), the others are noted."""
    from modelreuse.dock.tables import search_spaces, table_schemas
    from modelreuse.reuse.reused_model import ReusedModel
    from modelreuse.selection.calibration import DEFAULT_ALPHA
    from modelreuse.task import Task

    models, tasks = [], []
    for schema in table_schemas(dock, table, task_type):
        models.append(ReusedModel(schema=schema))
        parts = [models[-1].features(table)] + ([] if unlabelled is None else [schema.encode(unlabelled)])
        tasks.append(Task.from_table(np.vstack(parts), schema, y, task_type=task_type, seed=seed))
    best, ranking, notes = search_spaces(dock, tasks, method="statistical", k=k,
                                         alpha=DEFAULT_ALPHA if alpha is None else alpha)
    return Found(tasks[best], ranking, models[best], notes)


def reuse(dock: Dock, task: Task, mixture: Ranking, ranking: Ranking, reuser: str = "auto",
          trust: bool = False, *, encoder: str | None = None, rows=None, model: ReusedModel | None = None,
          notes: tuple[str, ...] = ()) -> ReusedModel:
    """Fit an :class:`~modelreuse.reuse.auto.AutoReuser` over the usable learnwares of ``mixture``
    (label-free reusers) and ``ranking`` (label-using ones).

    A learnware that cannot be loaded safely, does not predict on the task's rows, or (with
    labels, classification) shares no class with them is skipped; the reason is kept in the
    model's ``explain()``. :class:`EmptyDockError` lists the reasons when no learnware is left.
    ``rows``: the rows to fit on (default: the task's labelled rows, or all its rows when it has no
    labels), as ``model`` takes them (an unfitted :class:`ReusedModel` whose ``schema`` or
    ``encoder`` encodes them; default ``ReusedModel(encoder=encoder)``). ``notes``: more lines for
    ``explain()``.
    """
    from modelreuse.reuse.auto import AutoReuser, shared_label_space
    from modelreuse.reuse.reused_model import ReusedModel

    model = ReusedModel(encoder=encoder) if model is None else model
    if rows is None:
        rows = task.X if task.y is None else task.X_labelled
    features = model.features(rows)
    candidates, skipped = load_candidates(dock, [*mixture, *ranking], features, trust)
    if task.task_type == "classification" and task.y is not None and candidates:
        kept, mismatched = shared_label_space(list(candidates.values()), task.y)
        candidates, skipped = {c.learnware_id: c for c in kept}, [*skipped, *mismatched]
    mixture, ranking = _without(mixture, candidates), _without(ranking, candidates)
    if not ranking.entries:
        raise EmptyDockError("no learnware found for this task could be used:\n" + "\n".join(skipped))
    if not mixture.entries:  # every mixture member was skipped: the best usable one of the ranking
        mixture = replace(mixture, entries=[replace(ranking[0], weight=1.0)])
    auto = AutoReuser(mixture=_as_candidates(mixture, candidates), ranking=_as_candidates(ranking, candidates),
                      task_type=task.task_type, reuser=reuser)
    model.set_params(estimator=auto, ranking=ranking, skipped=(*skipped, *notes))
    return model.fit(rows, task.y)


def load_candidates(dock: Dock, entries: list[RankedLearnware], X, trust: bool) -> tuple[dict[str, Candidate], list[str]]:
    """Load each learnware once and check it predicts one value per row on a few task rows
    (missing cells allowed: the learnware's adapter fills them); return the usable candidates by
    id and one ``skipped <name> [<id>]: <Type>: <reason>`` line for each of the others."""
    from modelreuse.reuse.auto import Candidate

    probe = np.asarray(X[:PROBE_ROWS], np.float64)
    names = {e.learnware_id: e.name for e in entries}  # from the ranking: a broken package is not reopened
    candidates, skipped = {}, []
    for i in names:
        try:
            model = dock.load_model(i, trust=trust)
            n = len(np.asarray(model.predict(probe)))
            if n != len(probe):
                raise SchemaError(f"model returned {n} predictions for {len(probe)} rows")
            record = dock.get(i)
            candidates[i] = Candidate(i, names[i], model, spec=record.rkme if "rkme" in record.spec_kinds else None)
        except UNUSABLE as exc:
            skipped.append(f"skipped {names[i]} [{i}]: {type(exc).__name__}: {exc}")
    return candidates, skipped


def _as_candidates(ranking: Ranking, loaded: dict[str, Candidate]) -> tuple[Candidate, ...]:
    """The ranking's entries as candidates, with the entry's reason and weight."""
    return tuple(replace(loaded[e.learnware_id], reason=e.reason, weight=e.weight) for e in ranking)


def _without(ranking: Ranking, usable: dict) -> Ranking:
    """``ranking`` restricted to the usable learnwares, mixture weights renormalised."""
    kept = [e for e in ranking if e.learnware_id in usable]
    total = sum(e.weight for e in kept if e.weight is not None)
    if total > 0 and len(kept) < len(ranking):
        kept = [replace(e, weight=e.weight / total) if e.weight is not None else e for e in kept]
    return replace(ranking, entries=kept)


def train_on_own_rows(task: Task, ranking: Ranking, seed: int = 0, *, encoder: str | None = None,
                      rows=None, model: ReusedModel | None = None) -> ReusedModel:
    """The fallback when nothing fits: the ``own_rows`` reuser (a random forest of 200 trees;
    missing cells allowed) on the labelled rows (``rows`` as ``model`` takes them, default: the
    task's labelled rows; ``model``: an unfitted :class:`ReusedModel` that encodes them, default
    ``ReusedModel(encoder=encoder)``)."""
    from modelreuse.reuse.own_rows import OwnRowsReuser
    from modelreuse.reuse.reused_model import ReusedModel

    model = ReusedModel(encoder=encoder) if model is None else model
    forest = OwnRowsReuser(task_type=task.task_type, n_estimators=200, random_state=seed)
    model.set_params(estimator=forest, ranking=ranking)
    return model.fit(task.X_labelled if rows is None else rows, task.y)


def _split_training_data(training_data, unlabelled=None) -> tuple[Any, np.ndarray | None, Any]:
    """``(X, y, unlabelled)``; ``y`` may name a column of a DataFrame ``X``: it is taken out of
    ``X``, and the rows where it is missing join the unlabelled rows."""
    if not isinstance(training_data, tuple):
        return training_data, None, unlabelled
    if len(training_data) != 2:
        raise InvalidTaskDataError("training_data must be (X, y) or X")
    X, y = training_data
    from modelreuse.dock.tables import is_table

    if isinstance(y, str) and is_table(X):
        if y not in X.columns:
            raise SchemaError(f"the label column {y!r} is not in your table; its columns are {list(map(str, X.columns))}")
        X, y, unlabelled = _labelled_part(X.drop(columns=[y]), X[y], unlabelled)
    y = np.asarray(y)
    if len(y) != len(X):
        raise InvalidTaskDataError(f"X has {len(X)} rows but y has {len(y)} labels")
    return X, y, unlabelled


def _labelled_part(X, y, unlabelled):
    """Rows with a label, their labels, and the unlabelled rows (those without, then ``unlabelled``)."""
    import pandas as pd

    has = y.notna().to_numpy()
    if has.all():
        return X, y, unlabelled
    rest = [X[~has]] + ([] if unlabelled is None else [unlabelled])
    return X[has].reset_index(drop=True), y[has].reset_index(drop=True), pd.concat(rest, ignore_index=True)


def _infer_task_type(y) -> str:
    from modelreuse.task import infer_task_type

    return infer_task_type(np.asarray(y))
