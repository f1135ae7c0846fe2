"""The dock: where learnwares are submitted, listed, fetched, removed and searched.

Embedded default: ``<root>/dock.sqlite`` plus content-addressed zips under ``<root>/objects``.
Pass ``url="postgresql+psycopg://..."`` to keep the metadata in PostgreSQL instead (artifacts
stay under ``root``). Every change is all-or-nothing: a failed submit leaves no row and no file.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelreuse.dock.artifacts import ArtifactStore, sha256_of
from modelreuse.dock.locking import DockLock, staging_folder
from modelreuse.dock.store import LearnwareRecord, bump_revision, current_revision, make_engine
from modelreuse.dock.validation import ValidationLimits, validate_in_subprocess
from modelreuse.errors import (
    DuplicateLearnwareError,
    EmptyDockError,
    LearnwareNotFoundError,
    SchemaError,
)
from modelreuse.learnware import Learnware, Manifest
from modelreuse.models.adapters import ModelAdapter
from modelreuse.selection.calibration import DEFAULT_ALPHA, null_model
from modelreuse.selection.ranking import Ranking
from modelreuse.selection.semantic import semantic_search
from modelreuse.selection.statistical import mixture_search, statistical_search
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import RKMEIndex
from modelreuse.task import Task

if TYPE_CHECKING:  # pandas and the recommender load only when used
    import pandas as pd

    from modelreuse.dock.check import CheckReport
    from modelreuse.records.leaderboard import LeaderboardRecords
    from modelreuse.selection.learned.modellens import ModelLens

CARD_FILTERS = ("task_type", "modality", "owner", "licence", "n_features")


def feature_space_key(manifest: Manifest) -> str:
    """Learnwares are comparable by RKME only within one feature space: same width, names, encoder."""
    schema = manifest.input_schema
    raw = json.dumps([schema.n_features, schema.feature_names, schema.encoder])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class Dock:
    """A learnware store.

    Args:
        root: directory for the SQLite file and artifacts (created).
        url: SQLAlchemy URL of the metadata database (default: SQLite in ``root``).
    """

    def __init__(self, root: str | Path, url: str | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = url or f"sqlite:///{(self.root / 'dock.sqlite').resolve()}"
        self._lock = DockLock(self.root)
        self.engine = make_engine(self.url, self._lock)
        self.artifacts = ArtifactStore(self.root)
        self._indexes: dict[str, tuple[int, RKMEIndex, dict[str, str]]] = {}
        self._models: dict[tuple[str, bool], ModelAdapter] = {}

    # ---------------------------------------------------------------- submit
    def submit(self, package: str | Path | Learnware, *, trust: bool = False, validate: bool = True,
               timeout_s: float | None = None, memory_bytes: int | None = None,
               limits: ValidationLimits | None = None) -> str:
        """Validate and store a learnware (directory, zip or :class:`Learnware`); return its id.

        The package is first copied into a private staging folder as a canonical zip (only the
        files its manifest lists) and unpacked from it, so validation, the stored object and every
        later load see the same bytes. The id is
        the first 16 hex digits of that zip's SHA-256: equal content gives an equal id, and a second
        submit of it raises :class:`DuplicateLearnwareError` whatever the race. The model is checked
        in a sandboxed process under ``limits`` (default :class:`ValidationLimits`; ``timeout_s`` and
        ``memory_bytes`` override its fields), unless ``validate=False`` (for packages this process
        just built). All or nothing:
        on any error no row, object or staging file is left.
        """
        with staging_folder(self.root) as staging:
            lw = self._stage(package, staging)
            if validate:
                validate_in_subprocess(lw.root, trust=trust, timeout_s=timeout_s, memory_bytes=memory_bytes,
                                       limits=limits)
            return self._store(staging / "package.zip", lw.manifest)

    def submit_many(self, packages: list[str | Path | Learnware], *, trust: bool = False, n_jobs: int = 2,
                    timeout_s: float | None = None, limits: ValidationLimits | None = None) -> list[str]:
        """Submit several learnwares: each is staged, the sandboxed validations run ``n_jobs`` at a
        time (threads driving child processes), then each is stored as by :meth:`submit`. Stops at
        the first invalid package, before storing any; staging folders are always removed."""
        from concurrent.futures import ThreadPoolExecutor

        with ExitStack() as stack:
            staged = [self._stage(p, stack.enter_context(staging_folder(self.root))) for p in packages]
            with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
                list(pool.map(lambda lw: validate_in_subprocess(lw.root, trust=trust, timeout_s=timeout_s,
                                                            limits=limits), staged))
            return [self._store(lw.root.parent / "package.zip", lw.manifest) for lw in staged]

    def _stage(self, package: str | Path | Learnware, staging: Path) -> Learnware:
        """Copy ``package`` into ``staging`` as its canonical zip (only the files its manifest lists,
        see :meth:`Learnware.to_zip`), unpacked to ``pkg/``, with every spec checked: this copy is
        what gets validated and stored."""
        source = package.root if isinstance(package, Learnware) else Path(package)
        with Learnware.open(source, extract_to=None if source.is_dir() else staging / "raw") as given:
            given.to_zip(staging / "package.zip")
        lw = Learnware.open(staging / "package.zip", extract_to=staging / "pkg")
        lw.load_specs()
        if lw.rkme.n_features != lw.manifest.input_schema.n_features:
            raise SchemaError(f"RKME has {lw.rkme.n_features} features; input_schema declares "
                              f"{lw.manifest.input_schema.n_features}")
        return lw

    def _store(self, zip_path: Path, manifest: Manifest) -> str:
        """Put the object, its unpacked copy and its row in place under the dock lock; files are
        complete before the row commits, and are deleted on failure only if this call made them."""
        sha = sha256_of(zip_path)
        learnware_id = sha[:16]
        with self._lock, Session(self.engine) as session:
            if session.get(LearnwareRecord, learnware_id) is not None:
                raise DuplicateLearnwareError(f"learnware {learnware_id} ({manifest.name!r}) is already in the dock")
            created = self.artifacts.put(zip_path, sha)
            try:
                self.artifacts.unpacked(learnware_id, sha)
                session.add(_record(learnware_id, sha, manifest))
                bump_revision(session)
                session.commit()
            except IntegrityError:
                session.rollback()
                raise DuplicateLearnwareError(
                    f"learnware {learnware_id} ({manifest.name!r}) is already in the dock") from None
            except BaseException:
                if created:
                    self.artifacts.delete(learnware_id, sha)
                raise
        return learnware_id

    # ---------------------------------------------------------------- read
    def list(self, **filters: Any) -> list[dict]:
        """Cards of all learnwares matching exact-value filters on card fields and ``tag``."""
        tag = filters.pop("tag", None)
        unknown = set(filters) - set(CARD_FILTERS)
        if unknown:
            raise ValueError(f"unknown filter(s) {sorted(unknown)}; use {CARD_FILTERS} or tag")
        stmt = select(LearnwareRecord).order_by(LearnwareRecord.created_at, LearnwareRecord.id)
        for key, value in filters.items():
            if value is not None:
                stmt = stmt.where(getattr(LearnwareRecord, key) == value)
        with Session(self.engine) as session:
            cards = [r.card() for r in session.scalars(stmt)]
        return [c for c in cards if tag is None or tag in c["tags"]]

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
                sha = self._record(session, learnware_id).package_sha256
                session.execute(delete(LearnwareRecord).where(LearnwareRecord.id == learnware_id))
                bump_revision(session)
                session.commit()
                referenced = session.scalar(select(LearnwareRecord.id).where(LearnwareRecord.package_sha256 == sha))
            if referenced is None:
                self.artifacts.delete(learnware_id, sha)
        self._models = {k: v for k, v in self._models.items() if k[0] != learnware_id}

    def check(self, repair: bool = False) -> CheckReport:
        """Compare rows with files and report what a crash left (see :mod:`modelreuse.dock.check`);
        with ``repair=True`` also fix it."""
        from modelreuse.dock.check import check_dock

        return check_dock(self, repair=repair)

    # ---------------------------------------------------------------- search
    def search(self, task: Task | RKMESpec | str, *, method: str = "statistical", k: int = 10,
               max_learnwares: int = 5, calibrate: bool = True, alpha: float = DEFAULT_ALPHA,
               exclude: tuple[str, ...] = (), **filters: Any) -> Ranking:
        """Search the dock.

        Args:
            task: a :class:`Task` (its RKME is used; only the spec is needed), an
                :class:`RKMESpec`, or query text for ``method="semantic"``.
            method: ``"semantic"`` (card filters + text match), ``"statistical"`` (MMD ranking)
                or ``"mixture"`` (non-negative mixture of learnware RKMEs).
            k: number of results (statistical, semantic).
            max_learnwares: mixture size limit.
            calibrate: for statistical search, add a p-value per entry and answer
                ``details["nothing_fits"]`` (see modelreuse.selection.calibration); from the
                user's rows when the task has them, else from the task RKME alone.
            alpha: significance level of "nothing fits".
            exclude: learnware ids left out of the search.
            filters: card-field filters, e.g. ``task_type="regression"``.
        """
        if method == "semantic":
            query = task if isinstance(task, str) else getattr(task, "description", "")
            cards = self.list(**filters)
            if not cards:
                raise EmptyDockError(f"no learnware in the dock matches the filters {filters or ''}")
            return semantic_search(cards, query, k=k)
        if method not in ("statistical", "mixture"):
            raise ValueError(f"unknown search method {method!r}; use semantic, statistical or mixture")
        spec = task.rkme if isinstance(task, Task) else task
        if not isinstance(spec, RKMESpec):
            raise TypeError("statistical search needs a Task with data or an RKMESpec")
        if isinstance(task, Task) and task.task_type and "task_type" not in filters:
            filters["task_type"] = task.task_type
        index, names = self.index_for(spec.n_features, **filters)
        if exclude:
            index = index.without(set(exclude))
        null = None
        if calibrate:
            rows = task.X if isinstance(task, Task) else None
            null = null_model(rows, spec, seed=task.seed if isinstance(task, Task) else 0)
        if method == "mixture":
            return mixture_search(index, spec, names, max_learnwares=max_learnwares, null=null, alpha=alpha)
        return statistical_search(index, spec, names, k=k, null=null, alpha=alpha)

    def catalogue(self, **filters: Any) -> pd.DataFrame:
        """The learnwares matching ``filters`` as a recommender's models table.

        Columns ``model, family, params, release_date, description, learnware_id``: ``model`` is
        the learnware's name (with ``[id]`` appended when two learnwares share a name),
        ``description`` its card text, the rest from its ``records`` spec (empty without one).
        """
        return self._catalogue_and_records(filters)[0]

    def leaderboard(self, **filters: Any) -> LeaderboardRecords:
        """The leaderboard records of every learnware (matching ``filters``) with a ``records`` spec,
        with model names as in :meth:`catalogue`; train a recommender on it with
        ``ModelLens().fit(dock.leaderboard())``."""
        import pandas as pd

        from modelreuse.records.leaderboard import LeaderboardRecords

        catalogue, specs = self._catalogue_and_records(filters)
        frames = [spec.to_frame(model) for model, spec in zip(catalogue["model"], specs) if spec is not None]
        if not frames:
            raise EmptyDockError("no learnware in the dock has a records spec" + (f" matching {filters}" if filters else ""))
        records = pd.concat(frames, ignore_index=True)
        datasets = records[["dataset", "task"]].drop_duplicates("dataset")
        return LeaderboardRecords(records, catalogue[catalogue["model"].isin(records["model"])], datasets)

    def _catalogue_and_records(self, filters: dict) -> tuple[pd.DataFrame, list[RecordsSpec | None]]:
        import pandas as pd

        cards = self.list(**filters)
        repeated = pd.Series([c["name"] for c in cards], dtype="string").duplicated(keep=False).to_numpy()
        rows, specs = [], []
        for card, shared_name in zip(cards, repeated):
            records = self.get(card["id"]).records
            specs.append(records)
            rows.append({"model": f"{card['name']} [{card['id']}]" if shared_name else card["name"],
                         "family": records.family if records else "",
                         "params": records.params if records else None,
                         "release_date": records.release_date if records else "",
                         "description": card["description"] or card["name"], "learnware_id": card["id"]})
        columns = ["model", "family", "params", "release_date", "description", "learnware_id"]
        return pd.DataFrame(rows, columns=columns), specs

    def recommend(self, description: str, recommender: ModelLens | str | Path, *, task: str = "", metric: str = "",
                  k: int = 10, **filters: Any) -> Ranking:
        """Rank the learnwares (matching card ``filters``) for a dataset described in words.

        ``recommender`` is a fitted :class:`~modelreuse.selection.learned.ModelLens` or the folder
        ``modelreuse recommend train`` saved one in; ``task`` and ``metric`` name what will be
        measured (e.g. ``Retrieval``, ``ndcg_at_10``). Each entry's details hold the recommender's
        ``prior`` and ``interaction`` parts; see :mod:`modelreuse.selection.learned.dock_search`.
        """
        from modelreuse.selection.learned.dock_search import as_recommender, recommend_learnwares

        return recommend_learnwares(as_recommender(recommender), self.catalogue(**filters), description,
                                    task, metric, k)

    def index_for(self, n_features: int, **filters: Any) -> tuple[RKMEIndex, dict[str, str]]:
        """The RKME index of the learnwares with ``n_features`` inputs matching ``filters``.

        Cached per dock object and rebuilt only when the dock's revision changes, so a search
        on an unchanged dock costs one tiny query plus the index lookup.
        """
        with Session(self.engine) as session:
            revision = current_revision(session)
        key = json.dumps([n_features, sorted(filters.items())], default=str)
        cached = self._indexes.get(key)
        if cached is None or cached[0] != revision:
            cards = self.list(n_features=n_features, **filters)
            if not cards:
                raise EmptyDockError(
                    f"the dock has no learnware with {n_features} input features"
                    + (f" matching {filters}" if filters else "") + "; submit some or relax the filters")
            cards, specs = self._rkme_specs(cards)
            index = RKMEIndex.build([c["id"] for c in cards], specs)
            self._indexes[key] = (revision, index, {c["id"]: c["name"] for c in cards})
        return self._indexes[key][1], self._indexes[key][2]

    def _rkme_specs(self, cards: list[dict]) -> tuple[list[dict], list[RKMESpec]]:
        """The RKME of each card, leaving out learnwares removed since the cards were listed."""
        kept, specs = [], []
        for card in cards:
            try:
                specs.append(self.get(card["id"]).rkme)
            except LearnwareNotFoundError:
                continue
            kept.append(card)
        if not kept:
            raise EmptyDockError("every matching learnware was removed while the search ran; try again")
        return kept, specs

    def _record(self, session: Session, learnware_id: str) -> LearnwareRecord:
        rec = session.get(LearnwareRecord, learnware_id)
        if rec is None:
            raise LearnwareNotFoundError(f"no learnware with id {learnware_id!r} in the dock at {self.root}")
        return rec


def _record(learnware_id: str, sha: str, m: Manifest) -> LearnwareRecord:
    return LearnwareRecord(
        id=learnware_id, name=m.name, description=m.description, tags=list(m.tags), task_type=m.task_type,
        modality=m.modality, owner=m.owner, licence=m.licence, feature_space=feature_space_key(m),
        n_features=m.input_schema.n_features, package_sha256=sha, manifest=json.loads(m.model_dump_json()),
    )
