"""``modelreuse learnware build``: a developer's saved model and table become a learnware package.

The model file is read by its suffix: ``.skops`` (scikit-learn, ``Pipeline``/``ColumnTransformer``
included; loaded with the safe skops allowlist of :mod:`modelreuse.models.persistence`, other
types only with ``--trust``), ``.onnx`` (an ONNX graph) or ``.safetensors`` (torch weights of the
architecture registered as ``--architecture``, built with ``--kwargs``; the header is checked
before anything is allocated). ONNX and torch models take the schema encoding as float rows; for
classification their output columns are the target's sorted distinct values. The
table's schema is inferred (a pipeline fitted on a DataFrame: its own columns) and the package is
written by :meth:`modelreuse.learnware.Learnware.build`, which checks the model predicts on the
table's rows and builds the specs. Paths may be relative (to the current directory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from modelreuse.cli._common import JsonOpt, console, emit, plain

app = typer.Typer(help="Build learnware packages (for developers).", no_args_is_help=True)
MODEL_SUFFIXES = {".skops": "skops", ".onnx": "onnx", ".safetensors": "safetensors"}


@app.command("build")
def learnware_build(
        model: Path = typer.Option(..., help="The fitted model: a .skops file (scikit-learn), an .onnx file or a "
                                             ".safetensors file (with --architecture)."),
        data: Path = typer.Option(..., help="The developer's table (csv/tsv/parquet), target column included."),
        target: str = typer.Option(..., help="The label column of --data."),
        name: str = typer.Option(..., help="The learnware's name."),
        out: Path = typer.Option(..., help="Package folder to create (new or empty)."),
        task: str | None = typer.Option(None, help="classification | regression (default: inferred from --target)."),
        text_column: str | None = typer.Option(None, help="Make a text learnware of this column (embedded by the "
                                                          "default text encoder)."),
        description: str = typer.Option("", help="What the model does, for the learnware's card."),
        tag: list[str] = typer.Option([], help="A tag for the card (repeatable)."),
        trust: bool = typer.Option(False, help="Load skops types outside the allowlist (only for your own file)."),
        architecture: str | None = typer.Option(None, help="For .safetensors: the registered torch architecture "
                                                           "(modelreuse.models.architectures)."),
        kwargs: str = typer.Option("{}", help="For .safetensors: the architecture's arguments as a JSON object."),
        as_json: bool = JsonOpt) -> None:
    """Build a learnware package from a saved model and the table it was trained on: the table
    schema, the specs (RKME of the schema encoding) and the card."""
    from modelreuse.learnware import Learnware
    from modelreuse.models.tabular import read_table

    table = read_table(data)
    task_type = task or _infer_task(table, target)
    arch = _architecture(model, architecture, kwargs)
    fitted, fmt = _load(model, trust, table, target, task_type, arch)
    classes = _classes(table, target, task_type) if fmt == "safetensors" else None
    lw = Learnware.build(out, fitted, table=table, target=target, name=name, task_type=task_type,
                         text_column=text_column, description=description, tags=list(tag), fmt=fmt,
                         architecture=arch, classes=classes)
    schema = lw.manifest.input_schema
    report = {"package": str(out), "name": name, "task_type": task_type, "format": lw.manifest.artifact.format,
              "takes": schema.takes, "columns": schema.table.column_names, "ignored": schema.table.ignored,
              "n_features": schema.n_features, "classes": lw.manifest.output.classes, "specs": lw.spec_kinds}
    emit(report, as_json, _render)


def _infer_task(table, target: str) -> str:
    from modelreuse.errors import SchemaError
    from modelreuse.task import infer_task_type

    if target not in table.columns:
        raise SchemaError(f"--target {target!r} is not a column of the table; its columns: "
                          f"{', '.join(map(str, table.columns))}")
    return infer_task_type(table[target].dropna().to_numpy())


def _architecture(path: Path, name: str | None, kwargs: str) -> dict | None:
    """``{"name", "kwargs"}`` for a .safetensors model (a typed error when it is missing or the
    kwargs are not a JSON object); ``None`` for other formats."""
    from modelreuse._safeio import parse_json
    from modelreuse.errors import UnsupportedModelError

    if path.suffix.lower() != ".safetensors":
        return None
    if not name:
        raise UnsupportedModelError(f"{path.name} holds torch weights: name their registered architecture with "
                                    "--architecture (and its arguments with --kwargs '{...}')")
    args = parse_json(kwargs, UnsupportedModelError, what="--kwargs", max_depth=3)
    if not isinstance(args, dict):
        raise UnsupportedModelError(f"--kwargs must be a JSON object, got {kwargs!r}")
    return {"name": name, "kwargs": args}


def _classes(table, target: str, task_type: str) -> list | None:
    """The target's sorted distinct values: the output columns of an ONNX or torch classifier."""
    return sorted(table[target].dropna().unique().tolist()) if task_type == "classification" else None


def _load(path: Path, trust: bool, table, target: str, task_type: str, arch: dict | None) -> tuple[Any, str]:
    """The model in ``path`` as :meth:`Learnware.build` takes it, and its artifact format."""
    from modelreuse.errors import UnsupportedModelError
    from modelreuse.models.persistence import load_model

    fmt = MODEL_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UnsupportedModelError(f"{path.name}: --model must be a .skops file (scikit-learn, saved with "
                                    "skops.io.dump), an .onnx file or a .safetensors file (torch weights of a "
                                    "registered architecture); convert a pickled model with skops.io.dump")
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if fmt in ("skops", "safetensors"):
        return load_model(path.parent, {"format": fmt, "file": path.name, "architecture": arch}, trust=trust), fmt
    classes = _classes(table, target, task_type)
    return OnnxModel(path.read_bytes(), load_model(path.parent, {"format": "onnx", "file": path.name}),
                     task_type, classes), fmt


class OnnxModel:
    """An ONNX graph as :meth:`Learnware.build` takes it: ``predict`` (through
    :class:`~modelreuse.models.ModelAdapter`, so the build can check it on the table's rows),
    ``classes_`` and ``SerializeToString`` (the bytes written as the artifact)."""

    def __init__(self, data: bytes, session: Any, task_type: str, classes: list | None):
        from modelreuse.models import ModelAdapter

        self._data = data
        self._adapter = ModelAdapter(session, task_type, classes)
        if classes is not None:
            self.classes_ = self._adapter.classes_

    def predict(self, X) -> Any:
        return self._adapter.predict(X)

    def SerializeToString(self) -> bytes:  # the name save_model calls on ONNX models
        return self._data


def _render(r: dict) -> None:
    console.print(plain(f"built {r['package']}: {r['name']} ({r['task_type']}, {r['format']}, takes {r['takes']})"))
    console.print(plain(f"  columns: {', '.join(r['columns'])}"))
    if r["ignored"]:
        console.print(plain(f"  ignored columns: {', '.join(r['ignored'])}"))
    console.print(plain(f"  {r['n_features']} encoded features; specs: {', '.join(r['specs'])}"))
    if r["classes"]:
        console.print(plain(f"  classes: {r['classes']}"))
