"""The parameter selector's index (modelreuse.selection.methods.parameter): exact cosines, the
CountSketch prefilter, incremental rows, candidate restriction and the query checks. Specs are
built directly from vectors (the index is under test here, not the fitting; tests/dock/test_pave_index.py
runs it on the dock's real base adapter)."""

from __future__ import annotations

import numpy as np
import pytest

from modelreuse.errors import EmptyDockError, InvalidTaskDataError, SpecError
from modelreuse.selection.base import Candidates
from modelreuse.selection.methods.parameter import SKETCH_DIM, ParameterSelector, PAVEIndex, sketch
from modelreuse.specs.pave import PAVESpec
from modelreuse.task import Task

BASE_ID = "ab" * 32
TARGETS = ("encoder.layer.5.attention.self.query",)
LENGTH = 2048  # longer than SKETCH_DIM, so the sketch is a CountSketch


def make_spec(vector: np.ndarray, role: str = "model", base_id: str = BASE_ID, rank: int = 4) -> PAVESpec:
    vector = np.asarray(vector, dtype=np.float32)
    return PAVESpec(base_id=base_id, base_model="all-MiniLM-L6-v2", modality="text", rank=rank, targets=TARGETS,
                    steps=1, role=role, vector=vector, norm=float(np.linalg.norm(vector.astype(np.float64))),
                    n_classes=2)


def planted(n: int, cosines: list[float], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random unit rows (near-orthogonal to the query) and a unit query whose cosine with
    rows ``0..len(cosines)-1`` is ``cosines``."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, LENGTH))
    query = rng.standard_normal(LENGTH)
    query /= np.linalg.norm(query)
    rows -= np.outer(rows @ query, query)  # orthogonal to the query ...
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    c = np.array(cosines)
    rows[:len(c)] = rows[:len(c)] * np.sqrt(1 - c[:, None] ** 2) + c[:, None] * query  # ... except the planted ones
    return rows, query


def test_exact_search_gives_the_specs_cosines_best_first():
    rng = np.random.default_rng(1)
    specs = [make_spec(rng.standard_normal(LENGTH) + 0.3 * i) for i in range(20)]
    query = make_spec(rng.standard_normal(LENGTH) + 2.0, role="task")
    index = PAVEIndex.build([f"lw{i}" for i in range(20)], specs)
    rows, cosines = index.search(query.embedding(), k=20)
    expected = np.array([query.cosine(s) for s in specs])
    assert list(rows) == list(np.argsort(-expected, kind="stable"))
    np.testing.assert_allclose(cosines, expected[rows], atol=1e-6)


def test_the_prefilter_finds_the_planted_best_among_many():
    cosines = [0.45, 0.4, 0.35, 0.3, 0.25]
    rows, query = planted(5000, cosines)
    index = PAVEIndex.build([f"lw{i}" for i in range(5000)], [make_spec(r) for r in rows])
    found, scores = index.search(query, k=5, prefilter=32)
    assert list(found) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(scores, cosines, atol=2e-3)
    assert index._faiss is not None and index._faiss.ntotal == 5000  # the sketch pass went through FAISS


def test_prefiltered_and_exhaustive_search_agree_on_clustered_vectors():
    """Learnwares in 50 clusters of 60, each query a noisy member of one: the best learnware found
    with the default prefilter (64) is the exhaustive search's best, though cosines within a cluster
    (about 0.3) differ by less than the sketch's error (about 0.044): the whole cluster passes the
    prefilter and is ranked exactly."""
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((50, LENGTH))
    members = centres[np.arange(3000) % 50] + 1.5 * rng.standard_normal((3000, LENGTH))
    index = PAVEIndex.build([f"lw{i}" for i in range(3000)], [make_spec(v) for v in members])
    agree = 0
    for q in range(40):
        query = centres[q % 50] + 1.5 * rng.standard_normal(LENGTH)
        query /= np.linalg.norm(query)
        fast, _ = index.search(query, k=1)
        exact, _ = index.search(query, k=1, prefilter=3000)
        agree += int(fast[0] == exact[0])
    assert agree == 40


def test_a_crowd_of_near_equal_cosines_is_ranked_exactly():
    """300 learnwares at cosines spread over [0.30, 0.35], far closer together than the sketch
    errs (about 0.044): every one within the margin is scored exactly, so the top 5 are the
    exhaustive search's, though the prefilter alone (64) could not order the crowd."""
    rng = np.random.default_rng(7)
    rows, query = planted(3000, list(rng.permutation(np.linspace(0.30, 0.35, 300))), seed=7)
    index = PAVEIndex.build([f"lw{i}" for i in range(3000)], [make_spec(r) for r in rows])
    fast, fast_scores = index.search(query, k=5)
    exact, exact_scores = index.search(query, k=5, prefilter=3000)
    assert list(fast) == list(exact)
    np.testing.assert_allclose(fast_scores, exact_scores)


def test_sketches_are_fixed_and_per_vector():
    rng = np.random.default_rng(3)
    unit = rng.standard_normal((6, LENGTH)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    batch = sketch(unit)
    assert batch.shape == (6, SKETCH_DIM)
    np.testing.assert_allclose(sketch(unit[2:3])[0], batch[2], rtol=1e-6)
    np.testing.assert_allclose(sketch(unit), batch, rtol=0)
    short = unit[:, :SKETCH_DIM // 2]
    np.testing.assert_array_equal(sketch(short), short)  # short vectors are their own sketch
    errors = (batch @ batch.T - unit @ unit.T)[np.triu_indices(6, 1)]
    assert np.abs(errors).max() < 5 * np.sqrt(2 / SKETCH_DIM)


def test_extended_and_removed_equal_a_build():
    rng = np.random.default_rng(4)
    specs = [make_spec(rng.standard_normal(LENGTH)) for _ in range(8)]
    ids = [f"lw{i}" for i in range(8)]
    grown = PAVEIndex.build(ids[:5], specs[:5]).extended(ids[5:], specs[5:])
    full = PAVEIndex.build(ids, specs)
    shrunk = full.removed({"lw1", "lw6"})
    rest = [i for i in range(8) if i not in (1, 6)]
    rebuilt = PAVEIndex.build([ids[i] for i in rest], [specs[i] for i in rest])
    for a, b in ((grown, full), (shrunk, rebuilt)):
        assert a.ids == b.ids and a.base_id == b.base_id
        np.testing.assert_array_equal(a.vectors, b.vectors)
        np.testing.assert_array_equal(a.sketches, b.sketches)


def test_rows_restrict_both_search_paths():
    rows, query = planted(400, [0.5, 0.4, 0.3])
    index = PAVEIndex.build([f"lw{i}" for i in range(400)], [make_spec(r) for r in rows])
    allowed = np.arange(1, 400, 2)  # leaves out rows 0 and 2
    for prefilter in (16, 400):  # through FAISS with an ID selector, and exhaustive
        found, scores = index.search(query, k=2, rows=allowed, prefilter=prefilter)
        assert found[0] == 1 and set(found) <= set(allowed)
        assert scores[0] == pytest.approx(0.4, abs=2e-3)


def test_an_index_refuses_specs_of_two_bases_and_queries_of_another_length():
    rng = np.random.default_rng(5)
    with pytest.raises(SpecError, match="one base adapter"):
        PAVEIndex.build(["a", "b"], [make_spec(rng.standard_normal(LENGTH)),
                                     make_spec(rng.standard_normal(LENGTH), base_id="cd" * 32)])
    index = PAVEIndex.build(["a"], [make_spec(rng.standard_normal(LENGTH))])
    with pytest.raises(SpecError, match="entries"):
        index.search(np.ones(LENGTH // 2, np.float32), k=1)
    with pytest.raises(SpecError, match="cannot join"):
        index.extended(["b"], [make_spec(rng.standard_normal(LENGTH), base_id="cd" * 32)])


# ---------------------------------------------------------------------- the selector without a dock
@pytest.fixture
def candidates():
    """Three learnwares with PAVE specs, handed over as a dock would without its persisted index."""
    rng = np.random.default_rng(6)
    specs = {f"lw{i}": make_spec(rng.standard_normal(LENGTH)) for i in range(3)}
    cards = [{"id": i, "name": f"learnware {i}"} for i in specs]
    return Candidates(cards, load=lambda lid, kind: specs[lid]), specs


def test_selector_ranks_by_cosine_with_a_reason(candidates):
    cands, specs = candidates
    query = make_spec(specs["lw1"].vector + 0.1, role="task")
    ranking = ParameterSelector().select(query, cands, k=2)
    assert ranking.method == "parameter" and ranking.ids[0] == "lw1"
    best = ranking[0]
    assert best.score == pytest.approx(query.cosine(specs["lw1"]), abs=1e-4)
    assert best.details["cosine"] == best.score and "cosine" in best.reason and BASE_ID[:12] in best.reason
    assert ranking.details["base_id"] == BASE_ID and ranking.details["candidates"] == 3
    via_task = ParameterSelector().select(Task(pave=query), cands, k=2)
    assert via_task.ids == ranking.ids


def test_selector_refuses_what_is_not_a_task_vector(candidates):
    cands, specs = candidates
    with pytest.raises(InvalidTaskDataError, match="task vector"):
        ParameterSelector().select(specs["lw0"], cands, k=1)  # a model vector
    with pytest.raises(InvalidTaskDataError, match="PAVE task vector"):
        ParameterSelector().select(Task(X=np.ones((3, 2))), cands, k=1)
    with pytest.raises(InvalidTaskDataError, match="PAVE task vector"):
        ParameterSelector().select("some text", cands, k=1)


def test_selector_refuses_a_query_on_another_base(candidates):
    cands, _ = candidates
    other = make_spec(np.ones(LENGTH), role="task", base_id="cd" * 32)
    with pytest.raises(SpecError, match="refit it"):
        ParameterSelector().select(other, cands, k=1)
    image = PAVESpec(base_id=BASE_ID, base_model="efficientnet-lite0", modality="image", rank=4, targets=("_fc",),
                     steps=1, role="task", vector=np.ones(LENGTH, np.float32), norm=float(np.sqrt(LENGTH)), n_classes=2)
    with pytest.raises(EmptyDockError, match="no image learnware"):
        ParameterSelector().select(image, cands, k=1)
