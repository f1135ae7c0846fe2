"""Query-encoder throughput: MiniLM on the tails of real routing prompts, no cache.

    python benchmarks/query_encoder_speed.py [--records results/routing/routerdc.parquet] [--n 2000]

Prints JSON: queries, seconds, queries per second, mean characters encoded. The issue's target is
>= 100 queries/s on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from modelreuse.routing.encoder import encode_queries, query_text
from modelreuse.routing.records import read_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="results/routing/routerdc.parquet")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    prompts = read_records(args.records).prompts
    rows = np.random.default_rng(0).choice(len(prompts), min(args.n, len(prompts)), replace=False)
    sample = [prompts[i] for i in rows]
    encode_queries(sample[:32])  # load the model outside the timing
    start = time.perf_counter()
    encode_queries(sample, cache=None, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    print(json.dumps({"records": args.records, "queries": len(sample), "seconds": round(seconds, 2),
                      "queries_per_second": round(len(sample) / seconds, 1),
                      "mean_chars_encoded": float(np.mean([len(query_text(p)) for p in sample]))}, indent=2))


if __name__ == "__main__":
    main()
