"""Write CLINC150 as one table per domain (10 sites of 15 intents) for `modelreuse bench market`.

Usage: python benchmarks/clinc_domains.py --out results/clinc_sites [--data ../shared/data]
Then:  modelreuse bench market --sites results/clinc_sites --target intent --task classification --text-column text
Rows per domain: the official train + val + test utterances of its 15 intents (out-of-scope excluded).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("MODELREUSE_DATA", "../shared/data")))
    args = parser.parse_args()
    root = args.data / "text" / "clinc150"
    with gzip.open(root / "data_full.json.gz", "rt") as f:
        data = json.load(f)
    with gzip.open(root / "domains.json.gz", "rt") as f:
        domains = json.load(f)
    rows = pd.DataFrame([r for split in ("train", "val", "test") for r in data[split]], columns=["text", "intent"])
    args.out.mkdir(parents=True, exist_ok=True)
    for domain, intents in sorted(domains.items()):
        rows[rows.intent.isin(intents)].to_csv(args.out / f"{domain}.csv", index=False)
    print(json.dumps({d: int(rows.intent.isin(i).sum()) for d, i in sorted(domains.items())}))


if __name__ == "__main__":
    main()
