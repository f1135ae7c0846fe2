"""modelreuse vs the `learnware` package (0.4.x), side by side on the same market, in one run.

    .venv/bin/python benchmarks/peer_learnware.py [--peer-venv .peer-venv] [--out results/peer_learnware.json]

Installs the peer into its own virtualenv on first use (torch==2.13.0 CPU, learnware==0.4.0.post1
and fast_pytorch_kmeans, which the peer imports but does not declare) and drives it through
benchmarks/peer_learnware_worker.py. Market: the 12 Beijing air-quality stations (features from
modelreuse.models.table_schema.TableSchema, PM2.5 dropped), each split 50% developer / 30% user / 20% test.

1. RKME build at 1k / 10k / 50k pooled rows (median of 5 runs after a warm-up run, per system), both with m=100 on the same standardised rows and
   the *same* kernel (the peer's default gamma=0.1), so MMD-to-data is comparable; time and MMD^2
   (exact, in that kernel) are reported with ratios.
2. Search at N = 50, 1,000 and 10,000 learnwares. Each system builds its own specs the way it is
   meant to be used (modelreuse: defaults on raw units; peer: defaults on raw units, and again on
   globally standardised data as its best case). The 12 real station specs are replicated to N by
   seeded jitter of the reduced set (noise 5% of each feature's pooled std); a result is a top-1
   hit when the top-ranked learnware is a replica of the user's own station. modelreuse times the
   steady-state dock search path (statistical ranking + mixture search on the built index; index
   build time reported separately); the peer times EasyStatSearcher (single ranking + greedy
   mixture), its statistical search.
3. Reuse: test-row R^2 of each system's top-1 learnware (the station models are shared).
4. modelreuse alone at N = 100,000: search p50.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score

from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import impute_means, list_tables, read_table
from modelreuse.selection.statistical import mixture_search, statistical_search
from modelreuse.specs.rkme import RKMESpec, weighted_mmd2
from modelreuse.specs.rkme_index import RKMEIndex

PEER_GAMMA = 0.1
WORKER = Path(__file__).with_name("peer_learnware_worker.py")


def ensure_peer(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q"]
        subprocess.run(pip + ["torch==2.13.0"], check=True)
        subprocess.run(pip + ["learnware==0.4.0.post1", "fast_pytorch_kmeans"], check=True)
    return python


def run_peer(python: Path, job: dict, threads: int = 2) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        jp, op = Path(tmp) / "job.npz", Path(tmp) / "out.npz"
        np.savez(jp, **job)
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.run([str(python), str(WORKER), str(jp), str(op), str(threads)], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"peer worker failed: {proc.stderr[-2000:]}")
        with np.load(op) as f:
            return {k: f[k] for k in f.files}


def load_market(data: Path, max_rows: int, seed: int) -> list[dict]:
    paths = list_tables(data / "tabular" / "beijing_air_quality")
    rng = np.random.default_rng(seed)
    tables = [read_table(p) for p in paths]
    tables = [t.iloc[rng.choice(len(t), min(max_rows, len(t)), replace=False)].reset_index(drop=True) for t in tables]
    enc = TableSchema.infer(tables, target="PM2.5")
    sites = []
    for p, t in zip(paths, tables):
        y = pd.to_numeric(t["PM2.5"], errors="coerce").to_numpy(np.float64)
        keep = np.isfinite(y)
        X = impute_means(enc.encode(t)[keep])
        y = y[keep]
        n = len(y)
        sites.append({"name": p.name.split("_")[2], "X_dev": X[: n // 2], "y_dev": y[: n // 2],
                      "X_user": X[n // 2 : int(0.8 * n)], "X_test": X[int(0.8 * n) :], "y_test": y[int(0.8 * n) :]})
    return sites


def bench_build(python: Path, sites: list[dict], sizes: list[int], seed: int, repeats: int = 5) -> list[dict]:
    """Median of ``repeats`` builds per system, each after one untimed warm-up build."""
    pooled = np.vstack([s["X_dev"] for s in sites] + [s["X_user"] for s in sites])
    pooled = pooled[np.random.default_rng(seed).permutation(len(pooled))]
    pooled = (pooled - pooled.mean(0)) / np.where(pooled.std(0) > 0, pooled.std(0), 1)
    rows = []
    for n in sizes:
        X = pooled[:n]
        d = X.shape[1]
        times = []
        for _ in range(repeats + 1):  # the first run warms up and is not counted
            t0 = time.perf_counter()
            ours = RKMESpec.fit(X, m=100, gamma0=PEER_GAMMA * d, seed=seed)
            times.append(time.perf_counter() - t0)
        ours_s = float(np.median(times[1:]))
        refined = RKMESpec.fit(X, m=100, gamma0=PEER_GAMMA * d, seed=seed, max_iter=20)
        peer = run_peer(python, {"kind": "build", "X": X, "K": 100, "gamma": PEER_GAMMA, "repeats": repeats})
        alpha = np.full(n, 1.0 / n)
        mmd_ours = weighted_mmd2(ours.Z, ours.beta, X, alpha, PEER_GAMMA)
        mmd_peer = weighted_mmd2(peer["z"], peer["beta"], X, alpha, PEER_GAMMA)
        mmd_refined = weighted_mmd2(refined.Z, refined.beta, X, alpha, PEER_GAMMA)
        rows.append({"rows": n, "modelreuse_s": ours_s, "peer_s": float(peer["seconds"]), "speedup": float(peer["seconds"]) / ours_s,
                     "modelreuse_mmd2": mmd_ours, "peer_mmd2": mmd_peer, "mmd2_ratio_ours_over_peer": mmd_ours / mmd_peer,
                     "modelreuse_max_iter20_mmd2": mmd_refined})
        print(json.dumps({"build": rows[-1]}), file=sys.stderr)
    return rows


def replicate(Z: np.ndarray, B: np.ndarray, n_total: int, noise_scale: np.ndarray, seed: int):
    """Replicas of the real specs (index i % n_real) with seeded jitter on the reduced set."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n_total) % len(Z)
    Zr = Z[idx] + rng.normal(size=(n_total,) + Z.shape[1:]) * noise_scale
    Zr[: len(Z)] = Z  # the real specs themselves are always in the market
    return Zr, B[idx], idx


def bench_search(python: Path, sites: list[dict], ns: list[int], seed: int, peer_users_large: int) -> dict:
    n_sites = len(sites)
    pooled = np.vstack([s["X_dev"] for s in sites])
    mean, std = pooled.mean(0), np.where(pooled.std(0) > 0, pooled.std(0), 1)
    noise = 0.05 * std
    ours_lw = [RKMESpec.fit(s["X_dev"], seed=seed) for s in sites]
    ours_users = [RKMESpec.fit(s["X_user"], seed=seed) for s in sites]
    Zo, Bo = np.stack([s.Z for s in ours_lw]), np.stack([s.beta for s in ours_lw])
    peer_specs = {}
    for frame, transform in (("raw", lambda X: X), ("standardised", lambda X: (X - mean) / std)):
        lw = [run_peer(python, {"kind": "build", "X": transform(s["X_dev"]), "K": 100, "gamma": PEER_GAMMA}) for s in sites]
        us = [run_peer(python, {"kind": "build", "X": transform(s["X_user"]), "K": 100, "gamma": PEER_GAMMA}) for s in sites]
        peer_specs[frame] = (np.stack([r["z"] for r in lw]), np.stack([r["beta"] for r in lw]),
                             np.stack([r["z"] for r in us]), np.stack([r["beta"] for r in us]),
                             noise if frame == "raw" else 0.05 * np.ones_like(noise))
    out = {"n_sites": n_sites, "by_n": []}
    for n in ns:
        Z, B, owner = replicate(Zo, Bo, n, noise, seed)
        specs = [RKMESpec(Z=Z[i], beta=B[i], center=ours_lw[owner[i]].center, scale=ours_lw[owner[i]].scale,
                          n=ours_lw[owner[i]].n, gamma=ours_lw[owner[i]].gamma) for i in range(n)]
        t0 = time.perf_counter()
        index = RKMEIndex.build([str(i) for i in range(n)], specs)
        build_s = time.perf_counter() - t0
        names = {str(i): sites[owner[i]]["name"] for i in range(n)}
        times, hits, top1_ids = [], [], []
        for u, spec in enumerate(ours_users):
            t0 = time.perf_counter()
            ranking = statistical_search(index, spec, names, k=10)
            mixture_search(index, spec, names)
            times.append(time.perf_counter() - t0)
            top = int(ranking[0].learnware_id)
            top1_ids.append(int(owner[top]))
            hits.append(owner[top] == u)
        row = {"n_learnwares": n, "modelreuse": {"index_build_s": build_s, "search_ms_p50": 1000 * float(np.median(times)),
                                                 "top1_hit_rate": float(np.mean(hits)), "top1_site": top1_ids}}
        users = n_sites if n <= 1000 else peer_users_large
        for frame, (pZ, pB, uZ, uB, pnoise) in peer_specs.items():
            Zp, Bp, owner_p = replicate(pZ, pB, n, pnoise, seed)
            res = run_peer(python, {"kind": "search", "gamma": PEER_GAMMA, "learnware_z": Zp, "learnware_beta": Bp,
                                    "user_z": uZ[:users], "user_beta": uB[:users]})
            top = [int(owner_p[t]) if t >= 0 else -1 for t in res["top1"]]
            row[f"peer_{frame}"] = {"search_ms_p50": 1000 * float(np.median(res["seconds"])), "users": users,
                                    "top1_hit_rate": float(np.mean([t == u for u, t in enumerate(top)])), "top1_site": top}
        row["search_speedup_vs_peer_raw"] = row["peer_raw"]["search_ms_p50"] / row["modelreuse"]["search_ms_p50"]
        out["by_n"].append(row)
        print(json.dumps({"search": row}), file=sys.stderr)
    return out


def bench_reuse(sites: list[dict], search: dict, seed: int) -> dict:
    models = [HistGradientBoostingRegressor(random_state=seed).fit(s["X_dev"], s["y_dev"]) for s in sites]
    first = search["by_n"][0]
    result = {}
    for system in ("modelreuse", "peer_raw", "peer_standardised"):
        chosen = first[system]["top1_site"]
        scores = [r2_score(s["y_test"], models[c].predict(s["X_test"])) if c >= 0 else float("nan")
                  for s, c in zip(sites[: len(chosen)], chosen)]
        result[system] = float(np.nanmean(scores))
    result["oracle"] = float(np.mean([max(r2_score(s["y_test"], m.predict(s["X_test"])) for m in models) for s in sites]))
    return result


def bench_scale(sites: list[dict], n: int, seed: int) -> dict:
    specs = [RKMESpec.fit(s["X_dev"], seed=seed) for s in sites]
    users = [RKMESpec.fit(s["X_user"], seed=seed) for s in sites]
    pooled = np.vstack([s["X_dev"] for s in sites])
    Z, B, owner = replicate(np.stack([s.Z for s in specs]), np.stack([s.beta for s in specs]), n, 0.05 * pooled.std(0), seed)
    all_specs = [RKMESpec(Z=Z[i], beta=B[i], center=specs[owner[i]].center, scale=specs[owner[i]].scale,
                          n=specs[owner[i]].n, gamma=specs[owner[i]].gamma) for i in range(n)]
    del Z
    t0 = time.perf_counter()
    index = RKMEIndex.build([str(i) for i in range(n)], all_specs)
    build_s = time.perf_counter() - t0
    names = {}
    times, hits = [], []
    for _ in range(3):
        for u, spec in enumerate(users):
            t0 = time.perf_counter()
            r = statistical_search(index, spec, names, k=10)
            times.append(time.perf_counter() - t0)
            hits.append(owner[int(r[0].learnware_id)] == u)
    return {"n_learnwares": n, "index_build_s": build_s, "search_ms_p50": 1000 * float(np.median(times)),
            "search_ms_p90": 1000 * float(np.percentile(times, 90)), "top1_hit_rate": float(np.mean(hits)),
            "faiss_hnsw": index.faiss_index is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("MODELREUSE_DATA", "../shared/data")))
    ap.add_argument("--peer-venv", type=Path, default=Path(".peer-venv"))
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--n-learnwares", default="50,1000,10000", help="empty: skip the search comparison")
    ap.add_argument("--scale-n", type=int, default=100_000, help="0: skip the modelreuse-only scale run")
    ap.add_argument("--peer-users-large", type=int, default=3, help="users timed for the peer above N=1000")
    ap.add_argument("--max-rows", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    python = ensure_peer(args.peer_venv)
    sites = load_market(args.data, args.max_rows, args.seed)
    report = {"build": bench_build(python, sites, [int(s) for s in args.sizes.split(",")], args.seed)}
    if args.n_learnwares:
        report["search"] = bench_search(python, sites, [int(s) for s in args.n_learnwares.split(",")], args.seed,
                                        args.peer_users_large)
        report["reuse_r2_of_top1"] = bench_reuse(sites, report["search"], args.seed)
    if args.scale_n:
        report["scale"] = bench_scale(sites, args.scale_n, args.seed)
    text = json.dumps(report, indent=2, default=float)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
