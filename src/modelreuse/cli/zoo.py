"""``modelreuse zoo ...``: publish the text and image zoos of pre-trained models as feature-extraction
learnwares in a dock (the ``model_zoo_path`` of ``Client().fit``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from modelreuse.cli._common import DataOpt, JsonOpt, cache_dir, cache_option, console, data_root, emit, plain, progress

app = typer.Typer(help="Zoos of pre-trained models as feature-extraction learnwares.", no_args_is_help=True)


@app.command("build")
def zoo_build(preset: str = typer.Option(..., help="text (28 encoders fitted on 9 source corpora, and MiniLM) or "
                                                   "image (EfficientNet-Lite0/1/2 and 27 small CNNs)."),
              out: Path = typer.Option(..., help="Dock root to publish into (created when missing)."),
              limit: int | None = typer.Option(None, min=1, help="Only the first N candidates of the zoo (a small zoo, fast)."),
              data: Path | None = DataOpt,
              cache: Path | None = cache_option("transfer-zoo", "Cache of MiniLM outputs and trained CNN weights"),
              n_jobs: int = typer.Option(2, min=1, help="Sandboxed validations run at a time."),
              as_json: bool = JsonOpt) -> None:
    """Build the PRESET zoo's candidates as feature-extraction learnwares, validate them (sandboxed) and
    store them in the dock OUT; all or nothing."""
    from modelreuse.dock import Dock
    from modelreuse.errors import UnknownNameError
    from modelreuse.zoo.packages import PRESETS, build_zoo_packages

    if preset not in PRESETS:
        raise UnknownNameError(f"unknown zoo preset {preset!r}; choose one of {', '.join(PRESETS)}")
    dock = Dock(out, create=True)
    with tempfile.TemporaryDirectory(prefix="zoo-build-") as tmp:
        paths = build_zoo_packages(preset, Path(tmp), data_root(data), cache_dir(cache, "transfer-zoo"), limit=limit,
                                   progress=progress)
        progress(f"validating and storing {len(paths)} learnwares")
        ids = dock.submit_many(paths, n_jobs=n_jobs)
    cards = [dock.card(i) for i in ids]
    emit({"dock": str(dock.root), "preset": preset,
          "learnwares": [{"id": c["id"], "name": c["name"], "modality": c["modality"], "n_features": c["n_features"]}
                         for c in cards]}, as_json, _render)


def _render(report: dict) -> None:
    for c in report["learnwares"]:
        console.print(plain(f"{c['id']}  {c['name']}  ({c['modality']}, {c['n_features']}-d features)"))
    console.print(plain(f"{len(report['learnwares'])} feature extractors stored in {report['dock']}"))
