"""``modelreuse fit`` and ``modelreuse predict``: what ``Client.fit`` and ``predict`` do, from files.

``fit`` reads the user's table, finds and reuses the dock's learnwares whose table schema the
table's columns match (by name, any order), prints what was chosen and why (``explain()``) and
saves the fitted model (:mod:`modelreuse.reuse.saving`: JSON, skops and the learnware packages it
uses; never pickle). With ``--text-column`` the rows are that column's texts, embedded with the
default text encoder. ``predict`` loads a saved model (every file checked) and writes one
prediction per row of a table (and, for classification, one probability column per class).
Paths may be relative (to the current directory).

With ``--zoo ZOO`` (a dock of feature-extraction learnwares, a folder of their packages or a zip of
them, e.g. from ``modelreuse zoo build``) ``fit`` reuses pre-trained models instead
(``Client.fit(..., model_zoo_path=ZOO)``): the rows are the raw texts of ``--text-column`` or the
images of ``--image-column`` (each cell the path of an image file relative to the table's folder,
:mod:`modelreuse.datasets.image_files`), only the labelled rows are used, the extractors are ranked
by transferability and the (extractor, reuser) pair is chosen by cross-validation on the rows
(:mod:`modelreuse.reuse.coupled`), or the named ``--reuser`` is fitted (``linear_probe``: the best;
``concat_probe`` / ``probe_ensemble``: the ``--top-k`` best). ``predict`` on such a model takes the same ``--text-column`` or
``--image-column`` (images relative to the folder of ``--data``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from modelreuse.cli._common import DockOpt, JsonOpt, TokenOpt, console, emit, err_console, plain, read_table_without

DropOpt = typer.Option([], "--drop", help="A column of --data to leave out (repeatable), e.g. a row id the "
                                          "learnwares' table schemas do not list.")
TextColumnOpt = typer.Option(None, help="The rows are the texts of this column (embedded with the default text "
                                        "encoder, or by the zoo's extractors with --zoo); the other columns are not "
                                        "used.")
ImageColumnOpt = typer.Option(None, help="With a zoo: the rows are the images whose files this column names (paths "
                                         "relative to the table's folder; .png/.jpg/.jpeg/.bmp/.gif or .npy, all of "
                                         "one size).")


def fit(data: Path = typer.Option(..., help="Your labelled table (csv/tsv/parquet); rows without a label are "
                                            "used as unlabelled rows."),
        target: str = typer.Option(..., help="The label column of --data."),
        out: Path = typer.Option(..., help="Folder to save the fitted model in (new or empty)."),
        dock: str = DockOpt, token: str | None = TokenOpt, text_column: str | None = TextColumnOpt,
        drop: list[str] = DropOpt,
        zoo: str | None = typer.Option(None, help="Reuse pre-trained feature extractors from this zoo instead of the "
                                                  "dock's learnwares: a dock folder, a folder of learnware packages "
                                                  "or a zip of them (`modelreuse zoo build`), or a dock server's URL "
                                                  "(its extractors are downloaded; --token); needs --text-column or "
                                                  "--image-column."),
        image_column: str | None = ImageColumnOpt,
        reuser: str = typer.Option("auto", help="auto, or a reuser's name (see `modelreuse.reuse.REUSERS`); with "
                                                "--zoo: auto (pairs compared by CV), linear_probe, concat_probe or "
                                                "probe_ensemble."),
        top_k: int = typer.Option(3, help="With --zoo: how many of the best extractors concat_probe and "
                                          "probe_ensemble combine (also in the auto comparison)."),
        task: str | None = typer.Option(None, help="classification | regression (default: inferred from --target)."),
        on_nothing_fits: str = typer.Option("raise", help="When no learnware fits: raise, train (a model on your "
                                                          "rows only) or reuse (the closest anyway)."),
        trust: bool = typer.Option(False, help="Allow learnware artifacts that can run code (pickle/joblib)."),
        as_json: bool = JsonOpt) -> None:
    """Find learnwares in the dock that fit your table, reuse them, save the model and say why."""
    from modelreuse.client import Client
    from modelreuse.reuse.saving import check_target

    check_target(out)
    table = read_table_without(data, drop)
    if zoo is not None or image_column is not None:
        return _fit_zoo(zoo, table, data, target, text_column, image_column, out, reuser=reuser, top_k=top_k,
                        task=task, trust=trust, token=token, as_json=as_json)
    training, unlabelled, encoder = _training_data(table, target, text_column)
    with err_console.status("searching the dock and fitting"):
        model = Client(dock=dock, trust=trust, token=token).fit(training, unlabelled_data=unlabelled, encoder=encoder,
                                                   reuser=reuser, task_type=task, on_nothing_fits=on_nothing_fits)
    model.save(out)
    report = {"model": str(out), "reuser": model.reuser, "task_type": model.task_type,
              "chosen": model.chosen, "scores": model.selection_scores, "explanation": model.explain().splitlines()}
    emit(report, as_json, _render_fit)


def predict(model: Path = typer.Option(..., help="A model folder saved by `modelreuse fit`."),
            data: Path = typer.Option(..., help="The rows to predict (csv/tsv/parquet)."),
            out: Path | None = typer.Option(None, help="Write the predictions here (.csv, .tsv or .parquet) instead "
                                                       "of stdout."),
            text_column: str | None = TextColumnOpt, image_column: str | None = ImageColumnOpt,
            drop: list[str] = DropOpt,
            trust: bool = typer.Option(False, help="Load a model whose saved state or learnwares need trust."),
            as_json: bool = JsonOpt) -> None:
    """Predict the rows of a table with a saved model: a `prediction` column, and `proba:<class>`
    columns for classification."""
    from modelreuse.reuse.reused_model import ReusedModel

    fitted = ReusedModel.load(model, trust=trust)
    table = read_table_without(data, drop)
    modality = _zoo_modality(fitted)
    if modality is not None:
        rows = _raw_rows(table, data, modality, text_column, image_column)
    elif image_column is not None:
        from modelreuse.errors import SchemaError

        raise SchemaError("--image-column is for models fitted on a zoo of image feature extractors; this model "
                          "was not: leave it out")
    else:
        rows = _rows_for(fitted, table, text_column)
    predictions = _predictions(fitted, rows)
    if out is not None:
        _write(predictions, out)
    report = {"model": str(model), "n_rows": len(predictions), "out": None if out is None else str(out),
              "columns": list(predictions.columns)}
    if out is None:
        report["predictions"] = predictions.to_dict(orient="list")
    emit(report, as_json, lambda r: _render_predict(r, predictions))


# ---------------------------------------------------------------------- helpers
def _fit_zoo(zoo: str | None, table, data: Path, target: str, text_column: str | None, image_column: str | None,
             out: Path, *, reuser: str, top_k: int, task: str | None, trust: bool, token: str | None,
             as_json: bool) -> None:
    """``fit --zoo``: the labelled raw texts or images of the table, reused from the zoo."""
    import numpy as np

    from modelreuse.client import Client
    from modelreuse.errors import InvalidTaskDataError, SchemaError

    if zoo is None:
        raise SchemaError("--image-column needs --zoo ZOO (a zoo of image feature extractors, e.g. from "
                          "`modelreuse zoo build --preset image --out ZOO`)")
    if (text_column is None) == (image_column is None):
        raise SchemaError("with --zoo pass exactly one of --text-column (raw texts) or --image-column (image files)")
    if target not in table.columns:
        raise SchemaError(f"column {target!r} is not in your table; its columns: {', '.join(map(str, table.columns))}")
    labelled = table[target].notna()
    if not labelled.any():
        raise InvalidTaskDataError(f"column {target!r} has no labels; a zoo is reused from labelled rows")
    table = table[labelled].reset_index(drop=True)
    modality = "text" if text_column is not None else "image"
    rows = _raw_rows(table, data, modality, text_column, image_column)
    labels = table[target].to_numpy()
    if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):  # int labels read as floats (a missing one)
        labels = labels.astype(np.int64)
    with err_console.status("ranking the zoo's extractors and fitting"):
        model = Client(trust=trust, token=token).fit((rows, labels), model_zoo_path=_zoo_location(zoo),
                                        reuser=reuser, task_type=task, k=top_k)
    model.save(out)
    report = {"model": str(out), "zoo": zoo, "reuser": model.reuser, "task_type": model.task_type,
              "chosen": model.chosen, "scores": model.selection_scores,
              "ranking": [{"learnware_id": e.learnware_id, "name": e.name, "score": e.score} for e in model.ranking],
              "explanation": model.explain().splitlines()}
    emit(report, as_json, _render_fit)


def _zoo_location(zoo: str) -> str | Path:
    """A dock server's URL as given (its zoo is downloaded, ``Client.fit``), a path as a :class:`Path`
    that must exist."""
    from modelreuse.errors import DockNotFoundError

    if zoo.startswith(("http://", "https://")):
        return zoo
    path = Path(zoo)
    if not path.exists():
        raise DockNotFoundError(f"--zoo {zoo}: no such folder or zip; build a zoo with `modelreuse zoo build "
                                "--preset text|image --out ZOO`")
    return path


def _raw_rows(table, data: Path, modality: str, text_column: str | None, image_column: str | None):
    """The raw texts of ``text_column`` or the images of ``image_column`` (files relative to ``data``'s
    folder) for a model of a zoo of ``modality`` extractors."""
    from modelreuse.errors import SchemaError

    column, flag = (text_column, "--text-column") if modality == "text" else (image_column, "--image-column")
    other = image_column if modality == "text" else text_column
    if column is None or column not in table.columns or other is not None:
        raise SchemaError(f"this model takes {modality} rows (a zoo of {modality} feature extractors): pass {flag} "
                          f"with one of the table's columns ({', '.join(map(str, table.columns))}) and no other "
                          "row column")
    if modality == "text":
        return table[column].fillna("").astype(str).tolist()
    from modelreuse.datasets.image_files import read_image_column

    return read_image_column(table[column].tolist(), data.parent)


def _zoo_modality(model) -> str | None:
    """``"text"``/``"image"`` for a model that reuses feature extractors of a zoo, else ``None``."""
    from modelreuse.models.extractors import FeatureExtractor

    chosen = getattr(model.estimator_, "chosen_", None) or []
    modalities = {c.model.modality for c in chosen if isinstance(c.model, FeatureExtractor)}
    return modalities.pop() if len(modalities) == 1 else None


def _training_data(table, target: str, text_column: str | None) -> tuple[tuple, Any, str | None]:
    """``(training_data, unlabelled_data, encoder)`` for ``Client.fit``: the table with its label
    column named, or (texts, labels) of the labelled rows plus the unlabelled rows' texts."""
    from modelreuse.errors import SchemaError

    for name in (target, text_column):
        if name is not None and name not in table.columns:
            raise SchemaError(f"column {name!r} is not in your table; its columns: "
                              f"{', '.join(map(str, table.columns))}")
    if text_column is None:
        return (table, target), None, None
    from modelreuse.models.encoders import TEXT_ENCODER

    texts, labelled = table[text_column].fillna("").astype(str), table[target].notna()
    unlabelled = texts[~labelled].tolist() or None
    return (texts[labelled].tolist(), table.loc[labelled, target].to_numpy()), unlabelled, TEXT_ENCODER


def _rows_for(model, table, text_column: str | None):
    """The table as the model takes it: the table itself (a table schema), the texts of
    ``text_column`` (a text encoder), or the table's values as floats (rows are features)."""
    from modelreuse.errors import InvalidTaskDataError, SchemaError

    if model.encoder is not None:
        if text_column is None or text_column not in table.columns:
            raise SchemaError(f"this model takes texts ({model.encoder}): pass --text-column with one of the "
                              f"table's columns: {', '.join(map(str, table.columns))}")
        return table[text_column].fillna("").astype(str).tolist()
    if model.schema is not None:
        return table
    try:
        return table.to_numpy(dtype=float)
    except ValueError as exc:
        raise InvalidTaskDataError(f"this model takes numeric features; the table has other values: {exc}") from None


def _predictions(model, rows):
    import pandas as pd

    frame = pd.DataFrame({"prediction": model.predict(rows)})
    if model.task_type == "classification" and hasattr(model, "predict_proba"):
        proba = model.predict_proba(rows)
        for j, label in enumerate(model.classes_):
            frame[f"proba:{label}"] = proba[:, j]
    return frame


def _write(frame, out: Path) -> None:
    from modelreuse.errors import InvalidTaskDataError

    name = out.name.lower()
    if name.endswith(".parquet"):
        frame.to_parquet(out, index=False)
    elif name.endswith((".csv", ".tsv")):
        frame.to_csv(out, index=False, sep="\t" if name.endswith(".tsv") else ",")
    else:
        raise InvalidTaskDataError(f"--out {out.name}: write predictions to a .csv, .tsv or .parquet file")


def _render_fit(r: dict) -> None:
    for line in r["explanation"]:
        console.print(plain(line), highlight=False, soft_wrap=True)
    console.print(plain(f"saved the model to {r['model']}"), highlight=False, soft_wrap=True)


def _render_predict(r: dict, predictions) -> None:
    if r["out"] is not None:
        console.print(plain(f"wrote {r['n_rows']} predictions to {r['out']}"), highlight=False, soft_wrap=True)
    else:
        typer.echo(predictions.to_csv(index=False), nl=False)
