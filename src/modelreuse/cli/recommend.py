"""``modelreuse recommend``: rank models for a dataset described in words; ``recommend train``."""

from __future__ import annotations

from pathlib import Path

import typer

from modelreuse.cli._common import JsonOpt, cache_dir, cache_option, console, emit, plain, progress

app = typer.Typer(help="Recommend models for a dataset from leaderboard records (ModelLens).")
RecommenderOpt = typer.Option(Path("modelreuse-recommender"), help="Folder from `recommend train`.")


@app.callback(invoke_without_command=True)
def recommend(ctx: typer.Context,
              dataset_description: str | None = typer.Option(None, help="What your dataset is about."),
              recommender: Path = RecommenderOpt,
              task: str = typer.Option("", help="Task type, e.g. Retrieval or 'zero-shot classification'."),
              metric: str = typer.Option("", help="Metric name, e.g. ndcg_at_10 or acc1."),
              source: list[str] | None = typer.Option(None, help="Only models with records from these sources."),
              top: int = typer.Option(10, help="How many models to list."),
              cache: Path | None = cache_option("recommend", "Description-embedding cache"),
              as_json: bool = JsonOpt) -> None:
    """Rank models for a dataset described in words, with the reason for each (prior vs interaction)."""
    if ctx.invoked_subcommand is not None:
        return
    from modelreuse.selection.learned.modellens import ModelLens

    if not dataset_description:
        raise typer.BadParameter("pass it (or use `modelreuse recommend train`)", ctx, param_hint="--dataset-description")
    ranked = ModelLens.load(recommender, cache_dir(cache, "recommend")).recommend(
        dataset_description, task, metric, top=top, sources=source)
    emit(ranked.to_dict(orient="records"), as_json, _ranked_table)


@app.command("train")
def recommend_train(records: Path = typer.Option(..., help="Folder with records, models, datasets tables."),
                    out: Path = typer.Option(Path("modelreuse-recommender"), help="Folder to save the recommender in."),
                    steps: int = typer.Option(3000, help="Training steps."),
                    members: int = typer.Option(3, help="Ensemble members (seeds seed, seed+1, ...)."),
                    seed: int = typer.Option(0, help="Training seed."),
                    cache: Path | None = cache_option("recommend", "Description-embedding cache"),
                    as_json: bool = JsonOpt) -> None:
    """Train the ModelLens recommender on a record set and save it (JSON + npz + parquet, no pickle)."""
    from modelreuse.records.leaderboard import read_leaderboard
    from modelreuse.selection.learned.modellens import ModelLens

    records_read = read_leaderboard(records)
    fitted = ModelLens(steps=steps, seed=seed, members=members, cache=cache_dir(cache, "recommend"),
                       progress=progress).fit(records_read)
    fitted.save(out)
    emit({"recommender": "modellens", "models": len(fitted.models_), "datasets": len(fitted.datasets_),
          "out": str(out)}, as_json,
         lambda r: console.print(plain(f"saved modellens over {r['models']} models and {r['datasets']} datasets "
                                       f"to {r['out']}")))


def _ranked_table(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table("rank", "model", "score", "reason")
    for rank, row in enumerate(rows, 1):
        table.add_row(str(rank), plain(row["model"]), f"{row['score']:.3f}", plain(row["reason"]))
    console.print(table)
