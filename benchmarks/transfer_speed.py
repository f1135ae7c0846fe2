"""Speed of every transferability metric against its straightforward reference formulation.

Problem: N = 10,000 rows, D = 2,048 features, C = 100 classes, Cs = 1,000 source classes, seeded.
Features are random but structured: class means on a 64-d subspace, noise with a decaying
spectrum, 5% dead (zero) columns and one duplicated column, as real penultimate-layer features.
Source probabilities are a temperature softmax of a random linear map of the features.

For each metric: wall time of ``modelreuse.selection.transferability`` and of the reference in
``transfer_reference.py`` (metrics without a separate reference are library compositions, e.g.
scikit-learn PCA + GaussianMixture, and report no ratio), the two values and their relative
difference. Prints JSON; ``--out FILE`` writes it too. ``--n/--d/--c`` change the size,
``--only`` restricts the metrics, ``--repeats R`` reports best-of-R times for both sides.

    python benchmarks/transfer_speed.py --out results/transfer_speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer_reference import REFERENCES

from modelreuse.selection.transferability import METRICS, get_metric

SKIPPED_BY_DEFAULT = {"logme_regression", "logme_regression_icml", "logme_regression_tllib", "gbc_spherical"}


def structured_problem(n: int, d: int, c: int, cs: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, size=n)
    basis = np.linalg.qr(rng.normal(size=(d, 64)))[0]
    means = rng.normal(size=(c, 64)) @ basis.T * 0.3
    noise_scale = 1.0 / np.sqrt(1.0 + np.arange(d) / 16.0)
    F = means[y] + rng.normal(size=(n, d)) * noise_scale @ np.linalg.qr(rng.normal(size=(d, d)))[0]
    F[:, rng.choice(d, d // 20, replace=False)] = 0.0
    F[:, -1] = F[:, 0]
    logits = F @ rng.normal(size=(d, cs)) / np.sqrt(d) * 3.0
    logits -= logits.max(axis=1, keepdims=True)
    P = np.exp(logits)
    return {"F": F, "y": y, "P": P / P.sum(axis=1, keepdims=True)}


def timed(fn, *args, repeats: int = 1):
    """Value and the best wall time of ``repeats`` runs."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn(*args)
        best = min(best, time.perf_counter() - start)
    return value, best


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--c", type=int, default=100)
    ap.add_argument("--cs", type=int, default=1000)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--repeats", type=int, default=1, help="best-of-R wall times for both sides")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    problem = structured_problem(args.n, args.d, args.c, args.cs)
    names = args.only or [m for m in METRICS.names() if METRICS.metadata(m)["kind"] != "regression"
                          and m not in SKIPPED_BY_DEFAULT]
    report = {"n": args.n, "d": args.d, "c": args.c, "cs": args.cs, "metrics": {}}
    for name in names:
        metric = get_metric(name)
        first = problem["P"] if metric.kind == "probabilities" else problem["F"]
        value, seconds = timed(metric.fn, first, problem["y"], repeats=args.repeats)
        row = {"seconds": seconds, "value": value}
        if name in REFERENCES:
            ref_value, ref_seconds = timed(REFERENCES[name], first, problem["y"], repeats=args.repeats)
            row |= {"reference_seconds": ref_seconds, "reference_value": ref_value, "speedup": ref_seconds / seconds,
                    "relative_difference": abs(value - ref_value) / max(abs(ref_value), 1e-300)}
        report["metrics"][name] = row
        print(f"{name}: {json.dumps(row, default=float)}", file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2, default=float)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    return report


if __name__ == "__main__":
    main()
