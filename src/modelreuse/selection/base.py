"""One selection surface: the :class:`Selector` protocol and the registry :data:`SELECTORS`.

A selector ranks a dock's learnwares for a query. It lives in its own module of
:mod:`modelreuse.selection.methods` and registers itself with one decorator line::

    @SELECTORS.register("statistical", spec_kinds=("rkme",), feature_space=True,
                        help="MMD between the task's RKME and each learnware's")
    @dataclass
    class StatisticalSelector:
        alpha: float = 0.01
        def select(self, query, candidates, k): ...

Metadata (the direction of the link between spec kinds and selectors is this one: a selector
declares the spec kinds it reads; spec kinds know nothing of selectors, so a new selector for an
existing kind is one new file):

* ``spec_kinds``: the spec kinds every candidate must have; learnwares without one of them are not
  candidates for this selector;
* ``feature_space``: ``True`` when the selector compares specs of the query's rows, so candidates
  come from the query's feature space only (:meth:`modelreuse.dock.Dock.search` says how it is
  chosen); ``False`` for selectors of text or records, which rank across feature spaces;
* ``help``: one line for CLI help.

A selector is a dataclass whose fields are its parameters (stored verbatim, defaults for all but
what it cannot do without); ``Dock.search(query, method=name, **kwargs)`` passes the keyword
arguments that name a field to the selector and treats the rest as card filters. ``select``
returns a :class:`~modelreuse.selection.ranking.Ranking`, best first, of at most ``k`` entries
drawn from ``candidates``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from modelreuse._registry import Registry
from modelreuse.errors import EmptyDockError, LearnwareNotFoundError
from modelreuse.selection.ranking import Ranking
from modelreuse.specs.base import Specification

if TYPE_CHECKING:
    from modelreuse.specs.rkme_index import RKMEIndex

T = TypeVar("T")


@dataclass
class Candidates:
    """The learnwares a selector may rank, as the dock hands them over.

    Attributes:
        cards: the dock's cards (:meth:`modelreuse.dock.Dock.list`) of every learnware that passed
            the filters, has the selector's spec kinds and (for ``feature_space`` selectors) is in
            the query's feature space; includes the excluded ones (see :meth:`kept`).
        exclude: ids the caller left out of the search.
        load: ``load(learnware_id, kind)`` -> that learnware's spec; raises
            :class:`LearnwareNotFoundError` for a learnware removed since the cards were listed.
        cache: the dock's memo for :meth:`shared` (kept while the dock object lives).
        rkme_index: ``rkme_index()`` -> the dock's persisted RKME index of the searched feature
            space (:mod:`modelreuse.dock.index`): every learnware there with an RKME, so a superset
            of :attr:`cards` (selectors take the cards' rows); ``None`` when the dock gives none
            and selectors build one from the specs (:meth:`specs`).
    """

    cards: list[dict]
    exclude: frozenset[str] = frozenset()
    load: Callable[[str, str], Specification] | None = None
    cache: dict = field(default_factory=dict, repr=False)
    rkme_index: Callable[[], RKMEIndex | None] | None = field(default=None, repr=False)

    def kept(self) -> list[dict]:
        """The cards not excluded."""
        return [c for c in self.cards if c["id"] not in self.exclude]

    def specs(self, kind: str, cards: list[dict] | None = None) -> tuple[list[dict], list[Specification]]:
        """The ``kind`` spec of each card (default: every card), leaving out learnwares removed
        since the cards were listed; :class:`EmptyDockError` when none is left."""
        kept, specs = [], []
        for card in self.cards if cards is None else cards:
            try:
                specs.append(self.load(card["id"], kind))
            except LearnwareNotFoundError:
                continue
            kept.append(card)
        if not kept:
            raise EmptyDockError("every matching learnware was removed while the search ran; try again")
        return kept, specs

    def shared(self, name: str, build: Callable[[list[dict]], T]) -> T:
        """``build(cards)`` for all of :attr:`cards` (excluded ones too), memoised per ``name`` and
        set of learnware ids: a learnware id names fixed content, so the result stays valid."""
        key = (name, tuple(sorted(c["id"] for c in self.cards)))
        if key not in self.cache:
            if len(self.cache) >= MAX_SHARED:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = build(self.cards)
        return self.cache[key]


#: How many shared structures (e.g. RKME indexes) a dock keeps; the oldest goes first.
MAX_SHARED = 16


@runtime_checkable
class Selector(Protocol):
    """What every selector provides (see the module doc)."""

    def select(self, query: Any, candidates: Candidates, k: int) -> Ranking:
        """The at most ``k`` best of ``candidates`` for ``query``, best first."""


SELECTORS: Registry[type] = Registry("selector", package="modelreuse.selection.methods")


def selectors_for(spec_kind: str) -> list[str]:
    """The selectors that can use a spec kind (those that declare it in ``spec_kinds``)."""
    return [name for name in SELECTORS.names() if spec_kind in SELECTORS.metadata(name)["spec_kinds"]]
