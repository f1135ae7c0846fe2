"""Runs inside the `learnware` package's own virtualenv (see peer_learnware.py); never imported
by modelreuse. Reads a job .npz, runs the peer's public API, writes a result .npz.

Jobs:
  build:  RKMETableSpecification(gamma).generate_stat_spec_from_data(X, K) (the peer's defaults:
          3 alternating steps, step size 0.1), median time of `repeats` runs after one warm-up run; returns z and beta.
  search: EasyStatSearcher()(learnwares, user_info, max_search_num=5, search_method="greedy") over
          learnwares whose RKMEs are given (z, beta), timed per user; returns the top-1 index.
"""

import json
import sys
import time

import numpy as np
import torch


def _spec(z, beta, gamma):
    from learnware.specification import RKMETableSpecification

    s = RKMETableSpecification(gamma=gamma)
    s.z = torch.from_numpy(np.ascontiguousarray(z)).double()
    s.beta = torch.from_numpy(np.ascontiguousarray(beta)).double()
    s.num_points = int(len(beta))
    return s


def build(job, out):
    from learnware.specification import RKMETableSpecification

    X, K, gamma = job["X"], int(job["K"]), float(job["gamma"])
    times = []
    for _ in range(int(job.get("repeats", 1)) + 1):  # the first run warms up and is not counted
        spec = RKMETableSpecification(gamma=gamma)
        t0 = time.perf_counter()
        spec.generate_stat_spec_from_data(X.copy(), K=K)
        times.append(time.perf_counter() - t0)
    out.update(seconds=float(np.median(times[1:] or times)), z=spec.get_z(), beta=spec.get_beta())


def search(job, out):
    from learnware.learnware import Learnware
    from learnware.market.base import BaseUserInfo
    from learnware.market.easy.searcher import EasyStatSearcher
    from learnware.specification import Specification

    gamma = float(job["gamma"])
    Z, B = job["learnware_z"], job["learnware_beta"]  # (N, m, d), (N, m)
    learnwares = []
    for i in range(len(Z)):
        spec = Specification()
        spec.update_stat_spec(RKMETableSpecification=_spec(Z[i], B[i], gamma))
        learnwares.append(Learnware(id=str(i), model={"class_name": "none", "module_path": "none"},
                                    specification=spec, learnware_dirpath="."))
    searcher = EasyStatSearcher(organizer=None)
    seconds, top1 = [], []
    for u in range(len(job["user_z"])):
        info = BaseUserInfo(stat_info={"RKMETableSpecification": _spec(job["user_z"][u], job["user_beta"][u], gamma)})
        t0 = time.perf_counter()
        result = searcher(learnwares, info, max_search_num=5, search_method="greedy")
        seconds.append(time.perf_counter() - t0)
        single = result.get_single_results()
        top1.append(int(single[0].learnware.id) if single else -1)
    out.update(seconds=np.array(seconds), top1=np.array(top1))


if __name__ == "__main__":
    job_path, out_path = sys.argv[1], sys.argv[2]
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    with np.load(job_path, allow_pickle=False) as f:
        job = {k: f[k] for k in f.files}
    out = {}
    {"build": build, "search": search}[str(job["kind"])](job, out)
    np.savez(out_path, **out)
    print(json.dumps({"ok": True}))
