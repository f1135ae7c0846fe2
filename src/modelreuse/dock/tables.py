"""Searching a dock with a table: which of the dock's table schemas a DataFrame's columns match,
and the search of each matching feature space (see :mod:`modelreuse.models.table_schema` for the
schema encoding both sides compute)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from modelreuse.errors import SchemaError
from modelreuse.models.table_schema import TableSchema

if TYPE_CHECKING:
    from modelreuse.dock.dock import Dock
    from modelreuse.dock.remote import RemoteDock
    from modelreuse.selection.ranking import Ranking
    from modelreuse.task import Task


def is_table(rows: Any) -> bool:
    """Whether ``rows`` is a pandas DataFrame (checked without importing pandas)."""
    return type(rows).__name__ == "DataFrame" and type(rows).__module__.startswith("pandas")


def table_schemas(dock: Dock | RemoteDock, table: Any, task_type: str | None = None) -> list[TableSchema]:
    """The table schemas of the dock's learnwares (of ``task_type``) whose columns the table has,
    by name and in any order (the schema's ``ignored`` columns may be there too; those of every
    learnware of one feature space count), one per feature space, in dock order; one grouped SQL
    query on a local dock (``dock.table_schema_rows``), no manifest decoded.
    :class:`SchemaError` when none matches, naming the missing and extra columns against the
    closest schema(s)."""
    spaces: dict[str, tuple[TableSchema, set[str], str, int]] = {}
    for space, raw, count, name in dock.table_schema_rows(task_type):
        schema = TableSchema.parse(json.loads(raw))
        first, ignored, example, total = spaces.get(space, (schema, set(), name, 0))
        spaces[space] = (first, ignored | set(schema.ignored), example, total + count)
    if not spaces:
        kind = f"{task_type} " if task_type else ""
        raise SchemaError(f"no {kind}learnware in the dock at {dock.root} declares a table schema, so a DataFrame "
                          "cannot be matched to its inputs; pass a float matrix in the learnwares' feature order "
                          "instead (X = table[feature_names].to_numpy())")
    have = [str(c) for c in table.columns]
    mismatches = []
    for schema, ignored, example, total in spaces.values():
        missing = [c for c in schema.column_names if c not in have]
        extra = [c for c in have if c not in schema.column_names and c not in ignored]
        mismatches.append((len(missing) + len(extra), schema, missing, extra, (example, total)))
    matched = [m[1] for m in mismatches if m[0] == 0]
    if matched:
        return matched
    closest = sorted(mismatches, key=lambda m: m[0])[:3]
    raise SchemaError("your table's columns match no learnware's table schema. Closest: " + "; ".join(
        f"{example!r}{f' and {total - 1} more' if total > 1 else ''}: missing column(s) {missing}, "
        f"extra column(s) {extra}" for _, _, missing, extra, (example, total) in closest)
        + ". Add or rename the missing columns and drop the extra ones (table.drop(columns=[...])).")


def search_spaces(dock: Dock, tasks: list[Task], **search: Any) -> tuple[int, Ranking, tuple[str, ...]]:
    """Search the dock with each task (one per matching schema; ``search``: :meth:`Dock.search`'s
    arguments) and keep the space whose best learnware has the highest calibrated p-value (ties
    and uncalibrated rankings: the first). Returns its index, its ranking and one note per other
    space searched."""
    rankings = [dock.search(task, **search) for task in tasks]
    best = max(range(len(rankings)), key=lambda i: rankings[i][0].details.get("p_value", 0.0))
    notes = tuple(f"also searched the schema of {r[0].name!r} ({tasks[i].feature_space}): its best learnware has "
                  f"p = {r[0].details.get('p_value', float('nan')):.3g}" for i, r in enumerate(rankings) if i != best)
    return best, rankings[best], notes


def search_table(dock: Dock, table: Any, *, task_type: str | None = None, seed: int = 0, **search: Any) -> Ranking:
    """:meth:`Dock.search` for a DataFrame of raw columns: the task of each matching schema
    (:meth:`Task.from_table` of ``schema.encode(table)``) is searched and the best space kept
    (:func:`search_spaces`); its schema's columns and the notes are in ``ranking.details``."""
    from modelreuse.task import Task

    schemas = table_schemas(dock, table, task_type)
    tasks = [Task.from_table(s.encode(table), s, task_type=task_type, seed=seed) for s in schemas]
    best, ranking, notes = search_spaces(dock, tasks, **search)
    ranking.details.update(table_schema=schemas[best].column_names, notes=list(notes))
    return ranking
