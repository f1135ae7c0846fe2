"""The dock: where learnwares are submitted, listed, fetched, removed and searched.

Embedded default: ``<root>/dock.sqlite`` plus content-addressed zips under ``<root>/objects``.
Pass ``url="postgresql+psycopg://..."`` to keep the metadata in PostgreSQL instead (artifacts
stay under ``root``). Every change is all-or-nothing: a failed submit leaves no row and no file.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, String, cast, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from modelreuse.dock.artifacts import ArtifactStore, sha256_of
from modelreuse.dock.index import DockIndex
from modelreuse.dock.locking import DockLock, staging_folder
from modelreuse.dock.pave_index import PAVEDockIndex, check_package, published_base
from modelreuse.dock.store import (
    CARD_COLUMNS,
    LearnwareRecord,
    bump_revision,
    card_of,
    current_revision,
    derived_columns,
    make_engine,
    table_schema_rows,
)
from modelreuse.dock.tables import is_table
from modelreuse.dock.validation import ValidationLimits, validate_in_subprocess
from modelreuse.errors import (
    DockNotFoundError,
    DuplicateLearnwareError,
    EmptyDockError,
    InvalidTaskDataError,
    LearnwareNotFoundError,
    SchemaError,
    UnknownNameError,
)
from modelreuse.learnware import Learnware, Manifest
from modelreuse.models.adapters import ModelAdapter
from modelreuse.selection.base import SELECTORS, Candidates
from modelreuse.selection.methods.parameter import ParameterCandidates
from modelreuse.selection.ranking import Ranking
from modelreuse.specs.base import Specification
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task

if TYPE_CHECKING:  # pandas and the recommender load only when used
    import pandas as pd

    from modelreuse.dock.check import CheckReport
    from modelreuse.records.leaderboard import LeaderboardRecords
    from modelreuse.selection.learned.modellens import ModelLens
    from modelreuse.specs.pave import PAVESpec
    from modelreuse.specs.pave_base import PAVEBase

CARD_FILTERS = ("task_type", "modality", "owner", "licence", "n_features", "feature_space")


DOCK_FILE = "dock.sqlite"


class Dock:
    """A learnware store.

    Args:
        root: directory for the SQLite file and artifacts, relative to the current directory or
            absolute; kept resolved (``self.root`` is absolute), so a later ``chdir`` or a
            validation process in another directory sees the same dock.
        url: SQLAlchemy URL of the metadata database (default: SQLite ``root/dock.sqlite``).
        create: make the folder and an empty dock if there is none (default). With
            ``create=False`` a missing folder, or one without ``dock.sqlite`` (when ``url`` is not
            given), raises :class:`DockNotFoundError` instead. A ``root`` that is a file raises it
            in both modes.
    """

    def __init__(self, root: str | Path, url: str | None = None, *, create: bool = True):
        if str(root).lower().startswith(("http://", "https://")):
            raise DockNotFoundError(f"{root} is a dock server's URL, not a folder: use "
                                    "modelreuse.dock.open_dock(url, token) or RemoteDock(url, token)")
        self.root = _dock_root(Path(root), create=create, own_database=url is None)
        self.url = url or f"sqlite:///{self.root / DOCK_FILE}"
        self._lock = DockLock(self.root)
        self.engine = make_engine(self.url, self._lock)
        self.artifacts = ArtifactStore(self.root)
        self._listings: dict[str, _Listing] = {}
        self._shared: dict = {}
        self._models: dict[tuple[str, bool], ModelAdapter] = {}
        self.index = DockIndex(self.root, self._lock, self._rkme_members, partial(self._load_specs, "rkme"))
        self.pave_index = PAVEDockIndex(self.root, self._lock, self._pave_members, partial(self._load_specs, "pave"))
        self._pave_bases: dict[str, PAVEBase] = {}

    # ---------------------------------------------------------------- submit
    def submit(self, package: str | Path | Learnware, *, trust: bool = False, validate: bool = True,
               timeout_s: float | None = None, memory_bytes: int | None = None,
               limits: ValidationLimits | None = None) -> str:
        """Validate and store a learnware (directory, zip or :class:`Learnware`); return its id.

        The package is first copied into a private staging folder as a canonical zip (only the
        files its manifest lists) and unpacked from it, so validation, the stored object and every
        later load see the same bytes. The id is the first 16 hex digits of that zip's SHA-256:
        equal content gives an equal id, and a second submit of it raises
        :class:`DuplicateLearnwareError` before any validation (and again at store time, whatever
        the race). Relative paths are read from the current directory. The model is checked
        in a sandboxed process under ``limits`` (default :class:`ValidationLimits`; ``timeout_s`` and
        ``memory_bytes`` override its fields), unless ``validate=False`` (for packages this process
        just built). All or nothing:
        on any error no row, object or staging file is left.
        """
        with staging_folder(self.root) as staging:
            staged = self._stage(package, staging)
            self._refuse_duplicates([staged])
            if validate:
                validate_in_subprocess(staged.lw.root, trust=trust, timeout_s=timeout_s, memory_bytes=memory_bytes,
                                       limits=limits)
            learnware_id = self._store(staged)
        self._refresh_indexes([staged.lw.manifest])
        return learnware_id

    def submit_many(self, packages: list[str | Path | Learnware], *, trust: bool = False, n_jobs: int = 2,
                    validate: bool = True, timeout_s: float | None = None,
                    limits: ValidationLimits | None = None) -> list[str]:
        """Submit several learnwares: each is staged, duplicates (of the dock or within the batch)
        are refused before any validation, the sandboxed validations run ``n_jobs`` at a time
        (threads driving child processes; none with ``validate=False``), then each is stored as by
        :meth:`submit` and the persisted index is updated once for the batch. Stops at the first
        invalid package, before storing any; staging folders are always removed."""
        from concurrent.futures import ThreadPoolExecutor

        with ExitStack() as stack:
            staged = [self._stage(p, stack.enter_context(staging_folder(self.root))) for p in packages]
            self._refuse_duplicates(staged)
            if validate:
                with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
                    list(pool.map(lambda s: validate_in_subprocess(s.lw.root, trust=trust, timeout_s=timeout_s,
                                                                   limits=limits), staged))
            ids = [self._store(s) for s in staged]
        self._refresh_indexes([s.lw.manifest for s in staged])
        return ids

    def _stage(self, package: str | Path | Learnware, staging: Path) -> _Staged:
        """Copy ``package`` into ``staging`` as its canonical zip (only the files its manifest lists,
        see :meth:`Learnware.to_zip`), unpacked to ``pkg/``, with every spec checked: this copy is
        what gets validated and stored, under the id its SHA-256 gives."""
        source = package.root if isinstance(package, Learnware) else Path(package)
        with Learnware.open(source, extract_to=None if source.is_dir() else staging / "raw") as given:
            given.to_zip(staging / "package.zip")
        lw = Learnware.open(staging / "package.zip", extract_to=staging / "pkg")
        lw.load_specs()
        check_package(lw, self.pave_base)
        sha = sha256_of(staging / "package.zip")
        return _Staged(lw, staging / "package.zip", sha, sha[:16])

    def _refuse_duplicates(self, staged: list[_Staged]) -> None:
        """Raise :class:`DuplicateLearnwareError` if a staged package is already in the dock or
        appears twice among ``staged`` (cheap, so it runs before validation; :meth:`_store`
        checks again under the lock)."""
        first: dict[str, int] = {}
        for i, s in enumerate(staged):
            if s.id in first:
                raise DuplicateLearnwareError(f"packages {first[s.id]} and {i} of the batch are the same learnware "
                                              f"{s.id} ({s.lw.manifest.name!r}); submit it once")
            first[s.id] = i
        with Session(self.engine) as session:
            present = set(session.scalars(select(LearnwareRecord.id).where(LearnwareRecord.id.in_(list(first)))))
        for s in staged:
            if s.id in present:
                raise _duplicate(s.id, s.lw.manifest)

    def _store(self, staged: _Staged) -> str:
        """Put the object, its unpacked copy and its row in place under the dock lock; files are
        complete before the row commits, and are deleted on failure only if this call made them."""
        learnware_id, sha, manifest = staged.id, staged.sha, staged.lw.manifest
        with self._lock, Session(self.engine) as session:
            if session.get(LearnwareRecord, learnware_id) is not None:
                raise _duplicate(learnware_id, manifest)
            created = self.artifacts.put(staged.zip_path, sha)
            try:
                self.artifacts.unpacked(learnware_id, sha)
                session.add(_record(learnware_id, sha, manifest))
                bump_revision(session)
                session.commit()
            except IntegrityError:
                session.rollback()
                raise _duplicate(learnware_id, manifest) from None
            except BaseException:
                if created:
                    self.artifacts.delete(learnware_id, sha)
                raise
        return learnware_id

    # ---------------------------------------------------------------- read
    def list(self, *, manifests: bool = False, limit: int | None = None, offset: int = 0,
             where: tuple[ColumnElement[bool], ...] = (), **filters: Any) -> list[dict]:
        """Cards of the learnwares matching exact-value filters on card fields and ``tag``, in dock
        order (``created_at``, then id), from one SQL statement; with ``manifests=True`` each card
        also holds its ``manifest`` (as :meth:`card` gives it, without a query per learnware).

        ``limit`` and ``offset`` page in SQL (:meth:`count` gives the total); ``where`` adds SQL
        conditions on :class:`~modelreuse.dock.store.LearnwareRecord`, e.g. a subquery over
        another table of the same database (the server's ownership table).
        """
        columns = (*CARD_COLUMNS, LearnwareRecord.manifest) if manifests else CARD_COLUMNS
        stmt = self._filtered(select(*columns), filters, where)
        stmt = stmt.order_by(LearnwareRecord.created_at, LearnwareRecord.id).offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [{**card_of(r), "manifest": r.manifest} if manifests else card_of(r) for r in conn.execute(stmt)]

    def table_schema_rows(self, task_type: str | None = None) -> list[tuple[str, str, int, str]]:
        """``(feature_space, table schema JSON, learnwares, one name)`` per distinct table schema
        (of ``task_type``), first-submitted first: :func:`~modelreuse.dock.store.table_schema_rows`."""
        return table_schema_rows(self.engine, task_type)

    def count(self, *, where: tuple[ColumnElement[bool], ...] = (), **filters: Any) -> int:
        """How many learnwares :meth:`list` with the same filters gives without a limit (one SQL count)."""
        stmt = self._filtered(select(func.count()).select_from(LearnwareRecord), filters, where)
        with Session(self.engine) as session:
            return int(session.scalar(stmt) or 0)

    @staticmethod
    def _filtered(stmt: Select, filters: dict[str, Any], where: tuple[ColumnElement[bool], ...]) -> Select:
        """``stmt`` restricted to the card ``filters`` (see :meth:`list`) and ``where``."""
        tag = filters.pop("tag", None)
        unknown = set(filters) - set(CARD_FILTERS)
        if unknown:
            raise UnknownNameError(f"unknown filter(s) {sorted(unknown)}; use {', '.join(CARD_FILTERS)} or tag "
                                   "(or a parameter of the search method)")
        conditions = [getattr(LearnwareRecord, key) == value for key, value in filters.items() if value is not None]
        if tag is not None:
            conditions.append(_has_tag(tag))
        return stmt.where(*conditions, *where)

    def __len__(self) -> int:
        with Session(self.engine) as session:
            return session.query(LearnwareRecord).count()

    def card(self, learnware_id: str) -> dict:
        with Session(self.engine) as session:
            rec = self._record(session, learnware_id)
            return {**rec.card(), "manifest": rec.manifest}

    def get(self, learnware_id: str) -> Learnware:
        """The stored learnware (unpacked on local disk); load its model with ``.load_model()``."""
        with Session(self.engine) as session:
            rec = self._record(session, learnware_id)
            sha = rec.package_sha256
        try:
            lw = Learnware.open(self.artifacts.unpacked(learnware_id, sha))
        except FileNotFoundError:  # removed by another process since the row was read
            raise LearnwareNotFoundError(f"learnware {learnware_id!r} was removed from the dock at {self.root}") from None
        lw.id = learnware_id
        return lw

    def load_model(self, learnware_id: str, trust: bool = False) -> ModelAdapter:
        """The learnware's model behind the prediction protocol, loaded once per dock object."""
        key = (learnware_id, trust)
        if key not in self._models:
            self._models[key] = self.get(learnware_id).load_model(trust=trust)
        return self._models[key]

    def remove(self, learnware_id: str) -> None:
        """Delete a learnware's row, then its files (under the dock lock, so a concurrent submit of
        the same content can never be left with a row and no files)."""
        with self._lock:
            with Session(self.engine) as session:
                record = self._record(session, learnware_id)
                sha, space, modality = record.package_sha256, record.feature_space, record.modality
                has_pave = "pave" in [s.get("kind") for s in record.manifest.get("specs", []) if isinstance(s, dict)]
                session.execute(delete(LearnwareRecord).where(LearnwareRecord.id == learnware_id))
                bump_revision(session)
                session.commit()
                referenced = session.scalar(select(LearnwareRecord.id).where(LearnwareRecord.package_sha256 == sha))
            if referenced is None:
                self.artifacts.delete(learnware_id, sha)
        self._models = {k: v for k, v in self._models.items() if k[0] != learnware_id}
        self.index.refresh({space})
        if has_pave:
            self.pave_index.refresh({modality})

    def _refresh_indexes(self, manifests: list[Manifest]) -> None:
        """Bring the persisted indexes up to date after storing learnwares of ``manifests``."""
        self.index.refresh({m.feature_space for m in manifests})
        self.pave_index.refresh({m.modality for m in manifests if any(s.kind == "pave" for s in m.specs)})

    def check(self, repair: bool = False) -> CheckReport:
        """Compare rows with files and report what a crash left (see :mod:`modelreuse.dock.check`);
        with ``repair=True`` also fix it."""
        from modelreuse.dock.check import check_dock

        return check_dock(self, repair=repair)

    # ---------------------------------------------------------------- search
    def search(self, task: Task | RKMESpec | PAVESpec | str | pd.DataFrame, *, method: str = "statistical", k: int = 10,
               exclude: tuple[str, ...] = (), **kwargs: Any) -> Ranking:
        """Search the dock with the selector registered as ``method``
        (:data:`modelreuse.selection.base.SELECTORS`; e.g. ``statistical``, ``mixture``, ``semantic``,
        ``records``).

        Args:
            task: what the selector reads: a :class:`Task` (only its RKME leaves the task) or an
                :class:`RKMESpec` for the statistical selectors, a PAVE task vector
                (:class:`~modelreuse.specs.pave.PAVESpec` or a Task carrying one as ``pave``) for
                ``parameter``, query text (or a task's ``description``) for ``semantic`` and
                ``records``.
            method: the selector's name; unknown names raise :class:`UnknownNameError` listing them.
            k: at most this many results.
            exclude: learnware ids left out of the search.
            kwargs: keyword arguments naming a parameter of the selector go to it (``calibrate``,
                ``alpha``, ``max_learnwares``, ``recommender``, ...); the rest are card filters
                (:data:`CARD_FILTERS` or ``tag``), e.g. ``task_type="regression"``.

        Selectors of RKME specs in one feature space read the dock's persisted index of that space
        (:mod:`modelreuse.dock.index`; built or brought up to date on first use), so no package is
        opened for them; ``parameter`` reads the persisted PAVE index of the query's modality
        (:mod:`modelreuse.dock.pave_index`) the same way. Candidates: the learnwares that pass the filters and have every spec kind the selector
        declares (a learnware with only a card is found by ``semantic``, never by
        ``statistical``). Selectors that compare the task's rows (``feature_space=True``) see one
        feature space only (:meth:`feature_space_of`), and for a :class:`Task` with a
        ``task_type`` only learnwares of that type. The ranking's ``details["feature_space"]``
        names the space searched.

        A pandas DataFrame of raw columns is searched in the feature space of each table schema
        its columns match, by name (:func:`modelreuse.dock.tables.search_table`; pass
        ``task_type=`` to compare only learnwares of that type).
        """
        if is_table(task):
            from modelreuse.dock.tables import search_table

            return search_table(self, task, method=method, k=k, exclude=exclude, **kwargs)
        entry = SELECTORS.entry(method)
        params = {f.name for f in fields(entry.obj)}
        options = {name: value for name, value in kwargs.items() if name in params}
        filters = {name: value for name, value in kwargs.items() if name not in params}
        cards, space = self._candidate_cards(task, entry.name, entry.metadata, filters)
        persisted = space is not None and "rkme" in entry.metadata["spec_kinds"]
        pave = {"pave_index": self.pave_index.get} if "pave" in entry.metadata["spec_kinds"] else {}
        candidates = (ParameterCandidates if pave else Candidates)(
            cards, frozenset(exclude), self._load_spec, self._shared,
            rkme_index=(lambda: self.index.get(space)) if persisted else None, **pave)
        ranking = entry.obj(**options).select(task, candidates, k)
        if space is not None:
            ranking.details["feature_space"] = space
        return ranking

    def feature_space_of(self, task: Task | RKMESpec, cards: list[dict] | None = None) -> str:
        """The feature space a task is compared in: specs are compared only within one.

        A task with ``feature_names`` or an ``encoder`` is in exactly the space they and its width
        name (:func:`modelreuse.task.feature_space_key`). A plain task (numpy rows or an RKME
        without names) is in the space of its width without names or encoder; if no learnware of
        ``cards`` (default: the whole dock) is there but exactly one space of that width is, the
        task is taken to be in that one; if several are, :class:`SchemaError` asks for the task's
        ``feature_names`` or ``encoder`` instead of comparing across them.
        """
        task = _searched_task(task)
        if task.feature_names is not None or task.encoder is not None:
            return task.feature_space  # no listing needed
        return _space_in(task, _CardView.of(self.list() if cards is None else cards))

    def _candidate_cards(self, task: Any, method: str, needs: dict, filters: dict) -> tuple[list[dict], str | None]:
        """The cards a selector may rank, and the feature space searched (None if it ranks across);
        from the listing's views, derived once per dock revision (:class:`_Listing`)."""
        if needs["feature_space"] and isinstance(task, Task) and task.task_type and "task_type" not in filters:
            filters = {**filters, "task_type": task.task_type}
        kinds = frozenset(needs["spec_kinds"])
        view = self._revision_and_listing(filters).having(kinds)
        cards, space = view.cards, None
        if needs["feature_space"]:
            space = _space_in(_searched_task(task), view)
            cards = view.by_space.get(space, [])
        if not cards:
            where = f" in feature space {space}" if space else ""
            raise EmptyDockError(
                f"no learnware for {method} search{where}: it needs spec kind(s) {sorted(kinds)}"
                + (f" and the filters {filters}" if filters else "") + "; submit some or relax the filters")
        return cards, space

    def _revision_and_listing(self, filters: dict) -> _Listing:
        """:meth:`list` with ``filters`` at the dock's current revision (read first, in one light
        query), cached per dock object until the revision changes."""
        with self.engine.connect() as conn:
            revision = current_revision(conn)
        key = json.dumps(sorted(filters.items()), default=str)
        cached = self._listings.get(key)
        if cached is None or cached.revision != revision:
            cached = self._listings[key] = _Listing(revision, self.list(**filters))
        return cached

    def _rkme_members(self) -> tuple[int, dict[str, list[str]]]:
        """The revision and, per feature space, the ids of the learnwares with an RKME spec in
        dock order: what :class:`DockIndex` indexes (derived once per revision)."""
        listing = self._revision_and_listing({})
        return listing.revision, listing.having(frozenset({"rkme"})).ids_by_space

    def _pave_members(self) -> tuple[int, dict[str, list[str]]]:
        """The revision and, per modality, the ids of the learnwares with a PAVE spec in dock
        order: what :class:`PAVEDockIndex` indexes (derived once per revision)."""
        listing = self._revision_and_listing({})
        return listing.revision, listing.having(frozenset({"pave"})).ids_by_modality

    def pave_base(self, modality: str) -> PAVEBase:
        """The shared PAVE base adapter of this dock for ``modality`` (``"text"`` or ``"image"``):
        fit every PAVE spec meant for this dock on it (:mod:`modelreuse.dock.pave_index`; made on
        first use, the same for every party of the dock)."""
        if modality not in self._pave_bases:
            def fitted_on() -> str | None:
                index = self.pave_index.get(modality)
                return None if index is None else index.base_id

            self._pave_bases[modality] = published_base(self.root, self._lock, modality, fitted_on)
        return self._pave_bases[modality]

    def _load_specs(self, kind: str, learnware_ids: list[str]) -> list[Specification]:
        """The ``kind`` specs of ``learnware_ids`` (their package digests in one query per 500 ids)."""
        shas: dict[str, str] = {}
        with Session(self.engine) as session:
            for lo in range(0, len(learnware_ids), 500):
                chunk = learnware_ids[lo:lo + 500]
                shas.update(session.execute(select(LearnwareRecord.id, LearnwareRecord.package_sha256)
                                            .where(LearnwareRecord.id.in_(chunk))).all())
        missing = [i for i in learnware_ids if i not in shas]
        if missing:
            raise LearnwareNotFoundError(f"learnware(s) {missing[:5]} were removed from the dock at {self.root} "
                                         "while its index was updated; search again")
        return [Learnware.open(self.artifacts.unpacked(i, shas[i])).spec(kind) for i in learnware_ids]

    def _load_spec(self, learnware_id: str, kind: str) -> Specification:
        return self.get(learnware_id).spec(kind)

    def catalogue(self, **filters: Any) -> pd.DataFrame:
        """The learnwares matching ``filters`` as a recommender's models table
        (:func:`modelreuse.selection.learned.dock_search.catalogue`)."""
        from modelreuse.selection.learned.dock_search import catalogue

        return catalogue(self.list(**filters), self._load_spec)[0]

    def leaderboard(self, **filters: Any) -> LeaderboardRecords:
        """The leaderboard records of every learnware (matching ``filters``) with a ``records`` spec,
        with model names as in :meth:`catalogue`; train a recommender on it with
        ``ModelLens().fit(dock.leaderboard())``."""
        import pandas as pd

        from modelreuse.records.leaderboard import LeaderboardRecords
        from modelreuse.selection.learned.dock_search import catalogue

        table, specs = catalogue(self.list(**filters), self._load_spec)
        frames = [spec.to_frame(model) for model, spec in zip(table["model"], specs) if spec is not None]
        if not frames:
            raise EmptyDockError("no learnware in the dock has a records spec" + (f" matching {filters}" if filters else ""))
        records = pd.concat(frames, ignore_index=True)
        datasets = records[["dataset", "task"]].drop_duplicates("dataset")
        return LeaderboardRecords(records, table[table["model"].isin(records["model"])], datasets)

    def recommend(self, description: str, recommender: ModelLens | str | Path, *, task: str = "", metric: str = "",
                  k: int = 10, **filters: Any) -> Ranking:
        """Rank the learnwares (matching card ``filters``) for a dataset described in words: the
        ``records`` selector, ``search(description, method="records", recommender=...,
        leaderboard_task=task, metric=metric)``.

        ``recommender`` is a fitted :class:`~modelreuse.selection.learned.ModelLens` or the folder
        ``modelreuse recommend train`` saved one in; ``task`` and ``metric`` name what will be
        measured (e.g. ``Retrieval``, ``ndcg_at_10``). Each entry's details hold the recommender's
        ``prior`` and ``interaction`` parts; see :mod:`modelreuse.selection.learned.dock_search`.
        """
        return self.search(description, method="records", k=k, recommender=recommender, leaderboard_task=task,
                           metric=metric, **filters)

    def _record(self, session: Session, learnware_id: str) -> LearnwareRecord:
        rec = session.get(LearnwareRecord, learnware_id)
        if rec is None:
            raise LearnwareNotFoundError(f"no learnware with id {learnware_id!r} in the dock at {self.root}")
        return rec


@dataclass
class _CardView:
    """Cards (in dock order) grouped by feature space; every card of a space has its width."""

    cards: list[dict]
    by_space: dict[str, list[dict]]

    @classmethod
    def of(cls, cards: list[dict]) -> _CardView:
        by_space: dict[str, list[dict]] = {}
        for card in cards:
            by_space.setdefault(card["feature_space"], []).append(card)
        return cls(cards, by_space)

    def spaces_of_width(self, n_features: int) -> dict[str, dict]:
        """The spaces of ``n_features`` features, each with its last card (for messages)."""
        return {space: cards[-1] for space, cards in self.by_space.items() if cards[-1]["n_features"] == n_features}

    @cached_property
    def ids_by_space(self) -> dict[str, list[str]]:
        return {space: [card["id"] for card in cards] for space, cards in self.by_space.items()}

    @cached_property
    def ids_by_modality(self) -> dict[str, list[str]]:
        by_modality: dict[str, list[str]] = {}
        for card in self.cards:
            by_modality.setdefault(card["modality"], []).append(card["id"])
        return by_modality


@dataclass
class _Listing:
    """One :meth:`Dock.list` result at a dock revision, and its views per set of spec kinds, each
    derived once (a search on an unchanged dock then costs one query and no pass over the cards)."""

    revision: int
    cards: list[dict]
    views: dict[frozenset[str], _CardView] = field(default_factory=dict)

    def having(self, kinds: frozenset[str]) -> _CardView:
        """The view of the cards that have every spec kind in ``kinds``."""
        view = self.views.get(kinds)
        if view is None:
            view = self.views[kinds] = _CardView.of([c for c in self.cards if kinds <= set(c["spec_kinds"])])
        return view


def _searched_task(task: Task | RKMESpec) -> Task:
    """The task whose rows are compared (an RKME stands for a task); :class:`InvalidTaskDataError` else."""
    task = task if isinstance(task, Task) else Task.from_spec(task) if isinstance(task, RKMESpec) else None
    if task is None or task.n_features is None:
        raise InvalidTaskDataError("searching by the task's rows needs a Task with data or an RKMESpec")
    return task


def _space_in(task: Task, view: _CardView) -> str:
    """The feature space ``task`` is compared in, among the cards of ``view`` (the rules of
    :meth:`Dock.feature_space_of`)."""
    if task.feature_names is not None or task.encoder is not None:
        return task.feature_space
    spaces = view.spaces_of_width(task.n_features)
    if task.feature_space in spaces or len(spaces) != 1:
        if len(spaces) > 1 and task.feature_space not in spaces:
            shown = "; ".join(f"{key} (encoder {c['encoder']}, e.g. {c['name']!r})" for key, c in spaces.items())
            raise SchemaError(f"the dock holds {len(spaces)} feature spaces of width {task.n_features} ({shown}); "
                              "say which one your rows are in: Task(..., feature_names=[...], encoder=...)")
        return task.feature_space
    return next(iter(spaces))


@dataclass(frozen=True)
class _Staged:
    """A package copied into a staging folder: its unpacked learnware, canonical zip, and id."""

    lw: Learnware
    zip_path: Path
    sha: str
    id: str


def _duplicate(learnware_id: str, manifest: Manifest) -> DuplicateLearnwareError:
    return DuplicateLearnwareError(f"learnware {learnware_id} ({manifest.name!r}) is already in the dock; "
                                   "nothing was changed (equal content gives an equal id)")


def _has_tag(tag: str) -> ColumnElement[bool]:
    """SQL: the ``tags`` JSON array holds ``tag``. The column is the text ``json.dumps`` wrote (on
    SQLite and PostgreSQL's ``json``), where the element is ``"<escaped tag>"`` between ``[`` or
    ``, `` and ``,`` or ``]``; an escaped JSON string holds no bare quote, so this matches whole
    elements only."""
    element = json.dumps(tag).replace("!", "!!").replace("%", "!%").replace("_", "!_")
    text = cast(LearnwareRecord.tags, String)
    return or_(*(text.like(f"%{before}{element}{after}%", escape="!")
                 for before in ("[", ", ") for after in (",", "]")))


def _dock_root(root: Path, *, create: bool, own_database: bool) -> Path:
    """``root`` resolved, after checking it is (or, with ``create``, has been made) a dock folder;
    :class:`DockNotFoundError` otherwise (see :class:`Dock`)."""
    root = root.resolve()
    how = f"create one with `modelreuse dock init {root}` or Dock({str(root)!r}, create=True)"
    if root.exists() and not root.is_dir():
        raise DockNotFoundError(f"{root} is a file, not a dock folder; give the dock's folder (or a new path)")
    if create:
        root.mkdir(parents=True, exist_ok=True)
    elif not root.is_dir():
        raise DockNotFoundError(f"no dock at {root}: the folder does not exist; {how}")
    elif own_database and not (root / DOCK_FILE).is_file():
        raise DockNotFoundError(f"no dock at {root}: the folder holds no {DOCK_FILE}; {how}")
    return root


def _record(learnware_id: str, sha: str, m: Manifest) -> LearnwareRecord:
    manifest = json.loads(m.model_dump_json())
    return LearnwareRecord(
        id=learnware_id, name=m.name, description=m.description, tags=list(m.tags), task_type=m.task_type,
        modality=m.modality, owner=m.owner, licence=m.licence, n_features=m.input_schema.n_features,
        package_sha256=sha, manifest=manifest, **derived_columns(manifest),
    )
