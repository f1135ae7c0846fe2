"""Tables: the schema a learnware declares for its raw columns, and the one encoding both sides
compute from it.

A :class:`TableSchema` lists a table's columns by name, each with a type:

* ``numeric``: a number (``unit`` optional); blank or unparseable cells are missing;
* ``categorical``: one of ``categories``; other values and missing cells are "none of them";
* ``text``: free text, embedded by the schema's ``encoder`` (a text schema has exactly one
  column).

**Schema encoding (v1)** (:meth:`TableSchema.encode`), computed identically by the developer and
the user: columns are looked up *by name* (order-free; a missing column, or one neither in the
schema nor in its ``ignored`` list, is a :class:`SchemaError` naming it); numeric columns in schema
order as floats, NaN where missing; then one 0/1 indicator per category of each categorical
column, named ``"col=value"`` (all zeros when missing or unseen). A text column becomes its
encoder's embedding. :attr:`TableSchema.feature_names` lists the encoded columns; it and the
width make the learnware's feature space (:func:`modelreuse.task.feature_space_key`).

Specifications (RKME) are built on ``impute_means(encode(rows))``: each side fills missing cells
with *its own* column means (0 for a column missing entirely). Both sides apply the same rule to
their own rows, so a user from a docked site and that site's developer sketch the same
distribution whatever imputer the developer's model pipeline uses inside.

:meth:`TableSchema.infer` learns a schema from column names and value vocabularies (no statistics
that would leak data): numeric when at least 90% of present cells parse as numbers, else
categorical with its (at most 50) most frequent values. Skipped (listed in ``ignored``, so a user
table may still hold them): the target, row counters (integers strictly increasing down the
table, or whose sorted values step by exactly 1) and columns constant within every table (e.g. a
site name in a per-site table), which carry no information inside a site and would make
identification trivial. Learnwares are compared only when their encodings have the same feature
names, so developers of one market should share a schema: infer it over several sites' tables,
or pass the same ``schema`` to each build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelreuse._fields import Label, Line, Title, unique
from modelreuse.errors import InvalidTaskDataError, SchemaError

if TYPE_CHECKING:  # pandas loads when a table is encoded, not when a manifest is read
    import pandas as pd

NUMERIC_FRACTION = 0.9
MAX_CATEGORIES = 50
MAX_COLUMNS = 4096
DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"
MISSING = "\x00missing"  # never equal to a category: categories are printable text


class Column(BaseModel):
    """One column of a table schema."""

    model_config = ConfigDict(extra="forbid")
    name: Label
    type: Literal["numeric", "categorical", "text"]
    categories: Annotated[list[Label], Field(min_length=1, max_length=1000), AfterValidator(unique)] | None = None
    unit: Line | None = None
    description: Line = ""

    @model_validator(mode="after")
    def _categories_for_categorical(self) -> Column:
        if (self.type == "categorical") != (self.categories is not None):
            raise ValueError(f"column {self.name!r}: categories are listed for categorical columns, and only for them")
        return self


class TableSchema(BaseModel):
    """The raw columns a learnware's model (or a user's table) has; see the module docstring."""

    model_config = ConfigDict(extra="forbid")
    columns: Annotated[list[Column], Field(min_length=1, max_length=MAX_COLUMNS)]
    ignored: Annotated[list[Label], Field(max_length=MAX_COLUMNS), AfterValidator(unique)] = Field(default_factory=list)
    encoder: Title | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TableSchema:
        unique([c.name for c in self.columns])
        clash = set(self.ignored) & {c.name for c in self.columns}
        if clash:
            raise ValueError(f"columns {sorted(clash)} are both used and ignored")
        texts = [c.name for c in self.columns if c.type == "text"]
        if texts and (len(self.columns) != 1 or self.encoder is None):
            raise ValueError("a text schema has exactly one (text) column and names its encoder")
        if not texts and self.encoder is not None:
            raise ValueError("an encoder is named only for a text column")
        return self

    # ------------------------------------------------------------------ learn
    @classmethod
    def infer(cls, tables: pd.DataFrame | Sequence[pd.DataFrame], *, target: str | None = None,
              text_column: str | None = None, columns: Sequence[str] | None = None,
              encoder: str = DEFAULT_TEXT_ENCODER) -> TableSchema:
        """The schema of one table or of several tables with the same columns (module docstring).

        Args:
            target: the label column (left out, listed in ``ignored``).
            text_column: make a text schema of this one column, embedded by ``encoder``.
            columns: use exactly these columns (e.g. a fitted pipeline's ``feature_names_in_``)
                instead of choosing informative ones.
        """
        tables = _as_tables(tables)
        names = [str(c) for c in tables[0].columns]
        for name in [n for n in (target, text_column, *(columns or ())) if n is not None]:
            if name not in names:
                raise SchemaError(f"column {name!r} is not in the table; its columns are {names}")
        if text_column is not None:
            return cls(columns=[Column(name=text_column, type="text")], encoder=encoder,
                       ignored=[n for n in names if n != text_column])
        used = list(columns) if columns is not None else [
            n for n in names if n != target and not _uninformative(n, tables)]
        return cls(columns=[_infer_column(n, tables) for n in used], ignored=[n for n in names if n not in used])

    # ------------------------------------------------------------------ encode
    @property
    def feature_names(self) -> list[str] | None:
        """The encoded columns' names (``None`` for a text schema: the encoder's dimensions)."""
        if self.encoder is not None:
            return None
        numeric = [c.name for c in self.columns if c.type == "numeric"]
        return numeric + [f"{c.name}={v}" for c in self.columns if c.type == "categorical" for v in c.categories]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def check_columns(self, table: pd.DataFrame) -> None:
        """:class:`SchemaError` naming the schema's columns the table lacks and the table's columns
        the schema neither uses nor ignores."""
        have = [str(c) for c in table.columns]
        missing = [n for n in self.column_names if n not in have]
        extra = [n for n in have if n not in self.column_names and n not in self.ignored]
        if missing or extra:
            parts = ([f"missing column(s) {missing}"] if missing else []) + (
                [f"unexpected column(s) {extra} (drop them: table.drop(columns=[...]))"] if extra else [])
            raise SchemaError(f"the table does not match the schema ({self.column_names}): " + "; ".join(parts))

    def encode(self, table: pd.DataFrame) -> np.ndarray:
        """The schema encoding (module docstring): ``(n, n_features)`` floats, NaN where a numeric
        cell is missing."""
        import pandas as pd

        if not isinstance(table, pd.DataFrame):
            raise InvalidTaskDataError(f"a table schema encodes a pandas DataFrame, got {type(table).__name__}")
        self.check_columns(table)
        if self.encoder is not None:
            from modelreuse.models.encoders import encode

            return encode(self.encoder, table[self.columns[0].name].fillna("").astype(str).tolist())
        numeric = [c.name for c in self.columns if c.type == "numeric"]
        parts = [table[numeric].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)]
        for c in self.columns:
            if c.type == "categorical":
                values = table[c.name].astype("string").str.strip().fillna(MISSING).to_numpy(dtype=object)
                parts.append((values[:, None] == np.asarray(c.categories, dtype=object)[None, :]).astype(np.float64))
        return np.hstack(parts)

    def decode(self, X: np.ndarray) -> pd.DataFrame:
        """Rows of the schema encoding back as a table of the schema's columns, for a model that
        takes raw columns: numeric columns as they are (NaN stays missing), each categorical
        column the category whose indicator is largest if it is at least 0.5, else missing.
        (Not defined for text schemas: their embedding cannot be turned back into text.)"""
        import pandas as pd

        if self.encoder is not None:
            raise SchemaError("a text learnware's model takes its encoder's features, not raw text rows")
        X = np.asarray(X, dtype=np.float64)
        numeric = [c.name for c in self.columns if c.type == "numeric"]
        data, start = {}, len(numeric)
        for j, name in enumerate(numeric):
            data[name] = X[:, j]
        for c in self.columns:
            if c.type == "categorical":
                block = X[:, start:start + len(c.categories)]
                start += len(c.categories)
                best = block.argmax(axis=1)
                labels = np.asarray(c.categories, dtype=object)[best]
                data[c.name] = np.where(block.max(axis=1) >= 0.5, labels, None)
        return pd.DataFrame({name: data[name] for name in self.column_names})

    @classmethod
    def parse(cls, data: object) -> TableSchema:
        """Validate ``data`` (a dict) or raise :class:`SchemaError` listing the problems."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors(include_url=False, include_input=False)[:10])
            raise SchemaError(f"invalid table schema: {problems}") from None


def _as_tables(tables) -> list[pd.DataFrame]:
    import pandas as pd

    tables = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
    if not tables or not all(isinstance(t, pd.DataFrame) for t in tables):
        raise InvalidTaskDataError("pass a pandas DataFrame (or a list of DataFrames with the same columns)")
    columns = list(tables[0].columns)
    if any(sorted(map(str, t.columns)) != sorted(map(str, columns)) for t in tables[1:]):
        raise SchemaError("all tables must have the same columns")
    return tables


def _infer_column(name: str, tables: list[pd.DataFrame]) -> Column:
    import pandas as pd

    values = pd.concat([t[name] for t in tables], ignore_index=True)
    if _numeric_fraction(values) >= NUMERIC_FRACTION:
        return Column(name=name, type="numeric")
    top = values.dropna().astype(str).str.strip()
    top = top[top != ""].value_counts().index[:MAX_CATEGORIES]
    if len(top) == 0:
        raise SchemaError(f"column {name!r} holds no values; drop it or give it a value")
    return Column(name=name, type="categorical", categories=sorted(top))


def _numeric_fraction(values: pd.Series) -> float:
    """Fraction of the present, non-blank values that parse as numbers (1.0 for a numeric or
    boolean dtype, without parsing)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values.dtype):
        return 1.0
    present = values.dropna()
    present = present[present.astype(str).str.strip() != ""]
    if present.empty:
        return 1.0
    return float(pd.to_numeric(present, errors="coerce").notna().mean())


def _uninformative(col: str, tables: list[pd.DataFrame]) -> bool:
    """Constant within every table, or a row counter: integers strictly increasing down the first
    table, or whose sorted values step by exactly 1."""
    import pandas as pd

    if all(t[col].nunique(dropna=False) <= 1 for t in tables):
        return True
    first = pd.to_numeric(tables[0][col], errors="coerce")
    if not (first.notna().all() and len(first) > 2 and (first % 1 == 0).all()):
        return False
    return bool((first.diff().iloc[1:] > 0).all() or (first.sort_values().diff().iloc[1:] == 1).all())
