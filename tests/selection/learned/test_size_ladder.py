"""Size ladders on real model names and sizes from the staged MTEB and ObsScaling metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelreuse.datasets.importers.leaderboard import import_all
from modelreuse.selection.learned.size_ladder import model_line, order_size_ladders


@pytest.mark.parametrize("a, b, same", [
    ("codefuse-ai/F2LLM-v2-0.6B", "codefuse-ai/F2LLM-v2-14B", True),
    ("intfloat/multilingual-e5-small", "intfloat/multilingual-e5-large", True),
    ("meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-70b-hf", True),
    ("ViT-B-32 laion2b_s34b_b79k", "ViT-B-16 laion2b_s34b_b88k", False),   # patch size is not a size designation
    ("codefuse-ai/F2LLM-v2-0.6B", "codefuse-ai/F2LLM-0.6B", False),       # another version
])
def test_model_lines(a, b, same):
    assert (model_line(a) == model_line(b)) is same


@pytest.fixture(scope="module")
def obsscaling(data_root):
    return import_all(data_root, only=["obsscaling"])


def test_ladders_reorder_only_cold_start_models_of_one_line(obsscaling):
    sizes = obsscaling.models.set_index("model")["params"]
    names = ["meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf", "meta-llama/Llama-2-70b-hf",
             "mistralai/Mistral-7B-v0.1"]
    pairs = pd.DataFrame({"model": names * 2, "dataset": ["MMLU"] * 4 + ["GSM8K"] * 4, "task": "", "metric": "acc"})
    params = sizes.reindex(pairs["model"]).to_numpy(float)
    scores = np.array([3.0, 2.0, 1.0, 9.0, 1.0, 2.0, 3.0, 0.0])
    eligible = np.array([True, True, True, True, True, False, True, True])   # Llama-2-13b known on GSM8K
    out, moved = order_size_ladders(pairs, scores, params, eligible)
    # MMLU: the three Llama-2 sizes keep the scores {1, 2, 3}, now 7b < 13b < 70b; Mistral is untouched
    np.testing.assert_array_equal(out[:4], [1.0, 2.0, 3.0, 9.0])
    np.testing.assert_array_equal(moved[:4], [True, True, True, False])
    # GSM8K: 13b has records, so only 7b and 70b form a ladder, and they were already in size order
    np.testing.assert_array_equal(out[4:], scores[4:])
    np.testing.assert_array_equal(moved[4:], [True, False, True, False])


def test_unknown_sizes_and_single_sizes_are_left_alone():
    pairs = pd.DataFrame({"model": ["org/e5-small", "org/e5-large", "org/e5-base"], "dataset": "d", "task": "",
                          "metric": "m"})
    scores = np.array([2.0, 1.0, 0.5])
    out, moved = order_size_ladders(pairs, scores, np.array([3.3e7, np.nan, 3.3e7]), np.ones(3, bool))
    np.testing.assert_array_equal(out, scores)
    assert not moved.any()
