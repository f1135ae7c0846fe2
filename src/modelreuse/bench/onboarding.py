"""``modelreuse bench onboard``: cold-start of new models from their aptitude-test results alone.

Protocol (Model-SAT's "new model joins by taking the aptitude test", on item-level records such
as metabench's Open LLM Leaderboard responses):

1. Keep models with a result on every item. Hold out ``holdout`` (20%) of them, seeded.
2. The aptitude test (:class:`~modelreuse.routing.capability.AptitudeTest`) is built from the
   ``train``-split items; the ``test``-split items are what must be predicted.
3. Methods see the training models' results on all items, and a held-out model's results on the
   aptitude items only:

   * ``capability`` -- :class:`~modelreuse.routing.capability.CapabilityRouter` trained on the
     training models, each held-out model added with ``add_model`` (no retraining);
   * ``knn`` -- the ``k`` training models whose aptitude results agree most with the held-out
     model's (cosine of centred 0/1 vectors), their mean result per item;
   * ``mf`` -- logistic matrix factorisation
     (:class:`~modelreuse.models.factorisation.LowRankFactorisation`) fitted on the training
     models (item and model embeddings, item biases); a held-out model's embedding is then folded
     in from its aptitude items with the item parameters frozen;
   * ``aptitude_mean`` -- the held-out model's aptitude accuracy, the same for every item.

4. Metrics: accuracy and Brier score of the per-item predictions (threshold 0.5) over held-out
   models x test items; and routing accuracy on ``n_zoos`` random zoos of ``zoo_size`` held-out
   models -- per test item route to the argmax predicted model, mean correctness -- beside the zoo
   oracle, random choice and the zoo's best model on the aptitude test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelreuse.errors import RoutingDataError
from modelreuse.models.factorisation import LowRankFactorisation
from modelreuse.records.routing import RoutingRecords
from modelreuse.routing.capability import AptitudeTest, CapabilityRouter


def _knn_predict(train_apt: np.ndarray, train_test: np.ndarray, new_apt: np.ndarray, k: int = 50) -> np.ndarray:
    centred_train = train_apt - train_apt.mean(axis=1, keepdims=True)
    centred_new = new_apt - new_apt.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred_train, axis=1)[None] * np.linalg.norm(centred_new, axis=1)[:, None]
    similarity = centred_new @ centred_train.T / np.maximum(norms, 1e-12)
    nearest = np.argsort(-similarity, axis=1)[:, :k]
    return train_test[nearest].mean(axis=1)


def _mf_predict(R_train: np.ndarray, apt_items: np.ndarray, new_apt: np.ndarray, test_items: np.ndarray,
                dim: int = 16, epochs: int = 300, seed: int = 0) -> np.ndarray:
    """Logistic MF on training models x items (item biases, no model bias, full-batch Adam, lr 0.05,
    L2 ``1e-4 / dim`` per observed entry), then the held-out models folded in from their aptitude
    items with the items frozen (L2 ``1e-3 / dim``)."""
    models, items = np.indices(R_train.shape)
    mf = LowRankFactorisation(n_components=dim, loss="logistic", alpha=1e-4 / dim, row_bias=False, lr=0.05,
                              epochs=epochs, batch_size=None, init_scale=0.1, seed=seed)
    mf.fit(models.ravel(), items.ravel(), R_train.ravel())
    new_rows, new_items = np.indices(new_apt.shape)
    folded = mf.fold_in(new_rows.ravel(), apt_items[new_items.ravel()], new_apt.ravel(), alpha=1e-3 / dim)
    rows, columns = np.meshgrid(np.arange(len(new_apt)), test_items, indexing="ij")
    return folded.predict(rows.ravel(), columns.ravel()).reshape(rows.shape)


def _prediction_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict:
    return {"accuracy": float(((predicted >= 0.5) == (truth >= 0.5)).mean()),
            "brier": float(np.mean((predicted - truth) ** 2))}


def _routing_accuracy(predicted: np.ndarray, truth: np.ndarray, zoos: np.ndarray) -> float:
    """predicted / truth: (held-out models, test items); zoos: (n_zoos, zoo_size) model indices."""
    scores = []
    for zoo in zoos:
        chosen = zoo[np.argmax(predicted[zoo], axis=0)]
        scores.append(truth[chosen, np.arange(truth.shape[1])].mean())
    return float(np.mean(scores))


def run_onboarding(records: RoutingRecords, holdout: float = 0.2, zoo_size: int = 5, n_zoos: int = 200,
                   seed: int = 0, cache: Path | None = None, max_models: int | None = None,
                   embeddings: np.ndarray | None = None, progress: Callable[[str], None] = lambda _: None,
                   **capability_config) -> dict:
    """The whole protocol (module doc); returns the JSON-ready report. Items are embedded with the
    MiniLM query encoder unless ``embeddings`` (one row per record) are given."""
    from modelreuse.routing.encoder import encode_queries

    scores = records.scores()
    complete = ~np.isnan(scores).any(axis=0)
    models = np.flatnonzero(complete)
    rng = np.random.default_rng(seed)
    if max_models is not None and len(models) > max_models:
        models = np.sort(rng.choice(models, max_models, replace=False))
    if len(models) < 10:
        raise RoutingDataError(f"only {len(models)} models have a result on every item; need at least 10")
    R = scores[:, models].T  # (models, items)
    held_out = np.zeros(len(models), bool)
    held_out[rng.choice(len(models), max(zoo_size, int(round(holdout * len(models)))), replace=False)] = True
    split = records.table["split"].to_numpy()
    pool, test_items = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    progress("embedding items")
    X = encode_queries(records.prompts, cache) if embeddings is None else np.asarray(embeddings, dtype=np.float64)
    aptitude = AptitudeTest.build(X[pool], [records.prompts[i] for i in pool],
                                  capability_config.pop("n_clusters", 20), capability_config.pop("items_per_cluster", 20),
                                  seed)
    apt_items = pool[aptitude.items]
    aptitude_global = AptitudeTest(apt_items, aptitude.clusters, aptitude.keywords)
    R_train, R_new = R[~held_out], R[held_out]
    truth = R_new[:, test_items]
    progress(f"capability router on {len(R_train)} models")
    router = CapabilityRouter(seed=seed, **capability_config).fit(X, R_train.T, aptitude=aptitude_global)
    new_caps = np.vstack([aptitude_global.vector(r[apt_items]) for r in R_new])
    predictions = {
        "capability": router.predict(X[test_items], capabilities=new_caps).T,
        "knn": _knn_predict(R_train[:, apt_items], R_train[:, test_items], R_new[:, apt_items]),
        "mf": _mf_predict(R_train, apt_items, R_new[:, apt_items], test_items, seed=seed),
        "aptitude_mean": np.repeat(R_new[:, apt_items].mean(axis=1, keepdims=True), len(test_items), axis=1),
    }
    zoos = np.vstack([rng.choice(len(R_new), zoo_size, replace=False) for _ in range(n_zoos)])
    report = {"n_models": len(models), "n_held_out": int(held_out.sum()), "n_aptitude_items": len(apt_items),
              "n_test_items": len(test_items), "aptitude_clusters": aptitude.keywords,
              "example_capability_instruction": aptitude_global.describe(R_new[0, apt_items]),
              "methods": {name: _prediction_metrics(p, truth) | {"routing_accuracy": _routing_accuracy(p, truth, zoos)}
                          for name, p in predictions.items()}}
    report["zoo_references"] = {
        "oracle": float(np.mean([truth[zoo].max(axis=0).mean() for zoo in zoos])),
        "random": float(np.mean([truth[zoo].mean() for zoo in zoos])),
        "best_on_aptitude": float(np.mean([truth[zoo[np.argmax(R_new[zoo][:, apt_items].mean(axis=1))]].mean()
                                           for zoo in zoos]))}
    return report
