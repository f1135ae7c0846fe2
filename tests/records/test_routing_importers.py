"""Every staged routing source converts to valid records with the documented row counts."""

import numpy as np
import pytest

from modelreuse.datasets.importers import routing as importers
from tests.conftest import DATA


def test_routerdc_keeps_the_paper_split_and_binarises_multiple_choice():
    records = importers.IMPORTERS.get("routerdc")(DATA)
    report = records.report
    assert len(records.table) == 20600 and len(records.models) == 7
    test = records.split("test")
    assert (test.tasks == "mmlu").sum() == 4213 and (test.tasks == "gsm8k").sum() == 1319
    mmlu = records.scores()[records.tasks == "mmlu"]
    assert set(np.unique(mmlu)) <= {0.0, 1.0}
    gsm8k = records.scores()[records.tasks == "gsm8k"]
    assert ((gsm8k > 0) & (gsm8k < 1)).any()  # mean over samples, kept graded
    assert report["mcq_scores_binarised"] == int(np.isin(records.tasks, list(importers.MCQ_TASKS)).sum())


def test_routerbench_has_usd_costs_for_all_eleven_models():
    records = importers.IMPORTERS.get("routerbench")(DATA)
    report = records.report
    assert len(records.models) == 11 and records.has_costs
    assert report["rows_with_missing_scores"] == 42
    costs = np.nanmean(records.costs(), axis=0)
    assert costs[records.models.index("gpt-4-1106-preview")] > 10 * costs[records.models.index("mistralai/mistral-7b-chat")]


def test_routellm_pairs_drop_contaminated_prompts_and_reproduce_manifest_accuracy():
    mmlu = importers.IMPORTERS.get("routellm_mmlu")(DATA)
    report = mmlu.report
    assert len(mmlu.table) == 14037 and report["dropped_contaminated"] == 5
    accuracy = dict(zip(mmlu.models, mmlu.scores().mean(axis=0)))
    assert accuracy["gpt-4-1106-preview"] == pytest.approx(0.8059, abs=5e-4)
    assert accuracy["mixtral-8x7b-instruct"] == pytest.approx(0.6809, abs=5e-4)
    assert set(mmlu.table["split"]) == {"train", "test"}
    gsm8k = importers.IMPORTERS.get("routellm_gsm8k")(DATA)
    assert len(gsm8k.table) == 1307
    mt_bench = importers.IMPORTERS.get("routellm_mt_bench")(DATA)
    assert len(mt_bench.table) == 72 and mt_bench.scores().max() <= 1.0


def test_alpaca_eval_preferences_become_scores_without_the_null_model():
    records = importers.IMPORTERS.get("alpaca_eval")(DATA)
    assert len(records.table) == 805 and "NullModel" not in records.models
    assert 0.0 <= np.nanmin(records.scores()) and np.nanmax(records.scores()) <= 1.0


def test_every_registered_collection_shares_the_importer_signature():
    """Importer contract: ``(data_root, progress=None) -> RoutingRecords`` with a report (the two
    smallest collections are read in full; the rest are checked by the tests above)."""
    assert set(importers.IMPORTERS.names()) == {"routerdc", "routerbench", "routellm_mmlu", "routellm_gsm8k",
                                                "routellm_mt_bench", "metabench", "alpaca_eval"}
    for name in ("routellm_mt_bench", "alpaca_eval"):
        messages = []
        records = importers.IMPORTERS.get(name)(DATA, progress=messages.append)
        assert records.report["rows"] == len(records.table) and set(records.table["split"]) == {"train", "test"}
