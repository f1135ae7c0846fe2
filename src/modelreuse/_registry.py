"""One registry idiom for every pluggable kind (spec kinds, selectors, reusers, routers,
recommenders, transferability metrics, encoders, architectures).

A :class:`Registry` maps a name to an object (usually a class) plus free-form metadata. Entries
register themselves with a decorator in their own module::

    SELECTORS = Registry("selector", package="modelreuse.selection.methods")

    @SELECTORS.register("statistical", spec_kinds=("rkme",))
    class StatisticalSelector: ...

``package`` names the package whose modules hold the entries: they are imported on the first
lookup (``get``, ``names``, iteration), so adding an entry is one new file with one decorator
line and no list to edit, and importing the registry stays cheap. Modules whose name starts with
``_`` are not imported. Duplicate names raise :class:`~modelreuse.errors.RegistryError`; unknown
names raise :class:`~modelreuse.errors.UnknownNameError` listing :meth:`Registry.names`, which also
feeds CLI help and validation.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from modelreuse.errors import RegistryError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object and its metadata."""

    name: str
    obj: T
    metadata: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name -> object (+ metadata) for one pluggable kind; see the module docstring."""

    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self.package = package
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = package is None

    def register(self, name: str, **metadata: Any) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` with ``metadata``."""

        def decorate(obj: T) -> T:
            self.add(name, obj, **metadata)
            return obj

        return decorate

    def add(self, name: str, obj: T, **metadata: Any) -> None:
        """Register ``obj`` under ``name`` (the decorator's non-decorator form)."""
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        existing = self._entries.get(name)
        if existing is not None and existing.obj is not obj:
            raise RegistryError(f"{self.kind} {name!r} is already registered (by {_origin(existing.obj)})")
        self._entries[name] = Entry(name, obj, dict(metadata))

    def get(self, name: str) -> T:
        """The object registered under ``name``."""
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        """The entry (object and metadata) registered under ``name``."""
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}") from None

    def metadata(self, name: str) -> dict[str, Any]:
        """The metadata registered with ``name``."""
        return self.entry(name).metadata

    def names(self, **where: Any) -> list[str]:
        """Registered names, sorted; ``where`` keeps entries whose metadata has those values."""
        self._load()
        return sorted(n for n, e in self._entries.items() if all(e.metadata.get(k) == v for k, v in where.items()))

    def entries(self) -> list[Entry[T]]:
        """Every entry, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")


def _origin(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
