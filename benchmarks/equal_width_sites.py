"""Write distinct PMLB datasets that share a width as one "site" table each, for abstention tests.

Usage: python benchmarks/equal_width_sites.py --out results/equal_width [--task regression] [--width W]
Columns are renamed f1..fW plus `target`, so unrelated datasets look like one feature space: a
user whose own dataset is left out of the dock should be told that nothing fits.
Prints the chosen width and datasets. Without --width, the width with most datasets of the task
type (at least 300 rows each) is chosen; regression = more than 20 distinct numeric targets.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("MODELREUSE_DATA", "../shared/data")))
    ap.add_argument("--task", choices=["regression", "classification"], default="regression")
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--min-rows", type=int, default=300)
    args = ap.parse_args()
    groups: dict[int, list[tuple[str, pd.DataFrame]]] = defaultdict(list)
    for path in sorted((args.data / "tabular" / "pmlb").glob("*.tsv.gz")):
        table = pd.read_csv(path, sep="\t")
        if len(table) < args.min_rows or "target" not in table.columns:
            continue
        regression = table["target"].nunique() > 20
        if regression == (args.task == "regression"):
            groups[table.shape[1] - 1].append((path.name.split(".")[0], table))
    width = args.width or max(groups, key=lambda w: len(groups[w]))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, table in groups[width]:
        features = [c for c in table.columns if c != "target"]
        table.rename(columns={c: f"f{i + 1}" for i, c in enumerate(features)}).to_csv(args.out / f"{name}.csv", index=False)
    print(json.dumps({"width": width, "datasets": [n for n, _ in groups[width]]}))


if __name__ == "__main__":
    main()
