"""The result of every selector: an ordered list of candidates with scores and reasons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field


@dataclass
class RankedLearnware:
    """One candidate. ``score`` is higher-is-better; ``details`` holds raw quantities
    (e.g. ``mmd2``) and ``weight`` the mixture weight when the ranking is a mixture."""

    learnware_id: str
    name: str
    score: float
    reason: str
    weight: float | None = None
    details: dict = field(default_factory=dict)


@dataclass
class Ranking:
    """Candidates ordered best first, plus how the ranking was made."""

    entries: list[RankedLearnware]
    method: str
    details: dict = field(default_factory=dict)

    def __iter__(self) -> Iterator[RankedLearnware]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> RankedLearnware:
        return self.entries[i]

    @property
    def ids(self) -> list[str]:
        return [e.learnware_id for e in self.entries]

    def to_dict(self) -> dict:
        return {"method": self.method, "details": self.details, "entries": [asdict(e) for e in self.entries]}
