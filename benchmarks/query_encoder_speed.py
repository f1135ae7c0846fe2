"""Query-encoder throughput: MiniLM on the tails of real routing prompts, no cache.

    python benchmarks/query_encoder_speed.py [--records results/routing/alpaca_eval.parquet ...]
                                             [--n 800] [--batch-size 8 16 32]

Prints JSON per records file and batch size: queries per second and the mean number of word
pieces encoded (throughput is roughly inversely proportional to it). The issue's target is
>= 100 queries/s on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from modelreuse.models.encoders import _minilm
from modelreuse.records.routing import read_records
from modelreuse.routing.encoder import encode_queries, query_text

DEFAULT_RECORDS = ["results/routing/alpaca_eval.parquet", "results/routing/routellm_mmlu.parquet",
                   "results/routing/routerdc.parquet", "results/routing/routerbench.parquet"]


def throughput(prompts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    encode_queries(prompts, cache=None, batch_size=batch_size)
    return len(prompts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", nargs="+", default=DEFAULT_RECORDS)
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[8, 16, 32, 64])
    args = parser.parse_args()
    tokenizer = _minilm().tokenizer
    results = []
    for path in args.records:
        prompts = read_records(path).prompts
        rows = np.random.default_rng(0).choice(len(prompts), min(args.n, len(prompts)), replace=False)
        sample = [prompts[i] for i in rows]
        encode_queries(sample[:32])  # load the model outside the timing
        tokens = [min(256, len(tokenizer(query_text(p))["input_ids"])) for p in sample]
        for batch_size in args.batch_size:
            results.append({"records": path, "queries": len(sample), "batch_size": batch_size,
                            "mean_word_pieces": round(float(np.mean(tokens)), 1),
                            "queries_per_second": round(throughput(sample, batch_size), 1)})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
