"""``Client.fit`` degrades gracefully (issue 13, item 9): a learnware that cannot be loaded safely
is skipped with its reason in ``explain()``, and a typed error lists the reasons when none is left.

The hostile learnware is a pickle (whose unpickling would write the canary) built on the same
station's RKME as the task, so it tops the ranking; it was stored without validation, as an older
version or a trusting operator would have done.
"""

from __future__ import annotations

import pytest

from modelreuse.client import Client
from modelreuse.dock import Dock
from modelreuse.errors import EmptyDockError
from modelreuse.learnware import Learnware
from modelreuse.models.tabular import impute_means

TOP = "Aotizhongxin"


class _Payload:
    """Unpickling this runs code that writes the canary."""

    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return (exec, (f"open({self.canary!r}, 'w').write('pwned')",))


def _pickled_top(site_learnwares, beijing, directory, canary) -> Learnware:
    real = site_learnwares[TOP]
    return Learnware.build(directory / "pickled", _Payload(canary), real.rkme, name=f"pickled {TOP}",
                           task_type="regression", target="PM2.5", feature_names=beijing["_feature_names"],
                           fmt="pickle")


def _task(beijing):
    X, y = beijing[TOP]["X"], beijing[TOP]["y"]
    half = len(X) // 2
    return impute_means(X[half:half + 200]), y[half:half + 200]


def test_fit_skips_a_pickle_at_the_top_of_the_ranking(site_learnwares, beijing, canary, tmp_path):
    dock = Dock(tmp_path / "dock")
    pickled_id = dock.submit(_pickled_top(site_learnwares, beijing, tmp_path, canary), validate=False)
    for site, lw in site_learnwares.items():
        if site != TOP:
            dock.submit(lw, validate=False)
    X, y = _task(beijing)
    model = Client(dock).fit((X, y))
    assert pickled_id not in [c["learnware_id"] for c in model.chosen] + model.ranking.ids
    assert f"skipped pickled {TOP} [{pickled_id}]: UntrustedArtifactError: " in model.explain()
    assert model.predict(X).shape == (len(X),)
    assert not canary.exists()


def test_fit_lists_the_reasons_when_nothing_is_usable(site_learnwares, beijing, canary, tmp_path):
    dock = Dock(tmp_path / "dock")
    pickled_id = dock.submit(_pickled_top(site_learnwares, beijing, tmp_path, canary), validate=False)
    with pytest.raises(EmptyDockError, match=rf"skipped pickled {TOP} \[{pickled_id}\]: UntrustedArtifactError"):
        Client(dock).fit(_task(beijing))
    assert not canary.exists()
