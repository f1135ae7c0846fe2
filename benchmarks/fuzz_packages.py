"""Fuzz every package reader at scale and count what happens (issue 13, must-be-true #7).

Runs the targets of ``tests/security/test_fuzz.py`` (manifest dicts, manifest.json bytes, the
rkme/semantic/records spec loaders, the zip reader) with ``--cases`` hypothesis examples each,
from a valid package fitted on a real Beijing station table. Prints JSON (``--json``; also written
with ``--out``): per target the number of cases, outcomes counted by type (``ok`` or the
``ModelReuseError`` subclass) and the failures, i.e. outcomes that are neither success nor a
``ModelReuseError``, with one message and input size per failure type.

    python benchmarks/fuzz_packages.py --cases 10000 --json [--targets zip,spec_rkme] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package holds the targets

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from modelreuse.errors import ModelReuseError
from modelreuse.models.tabular import list_tables
from tests.conftest import BEIJING
from tests.security.test_fuzz import TARGETS, Seeds, make_seeds


def run_target(name: str, seeds: Seeds, cases: int, seed: int) -> dict:
    """Run one target for ``cases`` generated examples; count outcomes by type."""
    outcomes: Counter = Counter()
    failures: dict[str, str] = {}

    @hypothesis_seed(seed)
    @settings(max_examples=cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        try:
            TARGETS[name](seeds, data)
            outcomes["ok"] += 1
        except ModelReuseError as exc:
            outcomes[type(exc).__name__] += 1
        except Exception as exc:
            kind = f"{type(exc).__module__}.{type(exc).__name__}"
            outcomes[kind] += 1
            failures.setdefault(kind, str(exc)[:300])

    start = time.perf_counter()
    run()
    n = sum(outcomes.values())
    return {"cases": n, "seconds": round(time.perf_counter() - start, 1), "outcomes": dict(outcomes.most_common()),
            "failures": sum(c for k, c in outcomes.items() if k in failures), "failure_examples": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="examples per target")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, from {list(TARGETS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-packages-") as work:
        seeds = make_seeds(Path(work), list_tables(BEIJING)[0])
        report = {"cases_per_target": args.cases, "seed": args.seed, "targets": {}}
        for name in args.targets.split(","):
            report["targets"][name] = run_target(name, seeds, args.cases, args.seed)
            if not args.json:
                print(name, json.dumps(report["targets"][name]), file=sys.stderr)
    report["total_cases"] = sum(t["cases"] for t in report["targets"].values())
    report["total_failures"] = sum(t["failures"] for t in report["targets"].values())
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
