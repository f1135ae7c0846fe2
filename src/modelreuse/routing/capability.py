"""Capability-instruction routing after Model-SAT (Zhang et al. 2025, "Capability Instruction
Tuning: A New Paradigm for Dynamic LLM Routing"; format checked against ``Now-Join-Us/LLMRec``
``data/capit_1.0``).

Every model is described by its results on a fixed **aptitude test**: the training queries are
clustered into K groups (k-means on query embeddings) and the (up to) 20 queries nearest each
centroid are the test's items; each cluster is named by its 5 highest-TF-IDF words. A model's
capability representation is

* a vector: its accuracy on each cluster (K values) followed by its result on every item
  (missing results replaced by the model's accuracy on that cluster, then by 0.5), and
* a text, Model-SAT's instruction format: ``The model achieves accuracy 50.0% on the task of
  "economics, market, ...", accuracy 25.0% on ...`` (:meth:`AptitudeTest.describe`).

A selector learns ``P(model handles query | capability vector, query embedding)``:
``logit = MLP([h_q * h_m, h_q, h_m])`` with ``h_m`` a learned projection of the capability vector
and ``h_q`` a learned projection of the query embedding plus, for a query that was in the
training set (recognised by its embedding), a learned per-query residual -- the item embedding of
matrix factorisation, so known benchmark items keep their identity while new queries fall back to
their text. Each of ``steps`` steps samples a batch of queries and up to ``models_per_step`` models; the loss is the sum of (a) Model-SAT's in-batch contrastive term -- for
every query with a model that handles it (score >= 0.5), softmax cross-entropy of one such
positive against ``negatives`` models that fail it -- and (b) binary cross-entropy on every
observed (query, model) score, which keeps the output a calibrated score for cost-aware decisions.
Routing takes the argmax. A **new model joins by taking the aptitude test**: its capability vector
is all the selector needs (:meth:`CapabilityRouter.add_model`); nothing is retrained.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from modelreuse.errors import RoutingDataError
from modelreuse.routing._training import load_module_state, module_state, seeded
from modelreuse.routing.base import ROUTERS, ScoreModel


class AptitudeTest:
    """K clusters of up to ``items_per_cluster`` items, chosen from training queries (module doc)."""

    def __init__(self, items: np.ndarray, clusters: np.ndarray, keywords: list[str]):
        self.items, self.clusters, self.keywords = np.asarray(items), np.asarray(clusters), list(keywords)

    @classmethod
    def build(cls, embeddings: np.ndarray, prompts: list[str] | None = None, n_clusters: int = 20,
              items_per_cluster: int = 20, seed: int = 0) -> AptitudeTest:
        from sklearn.cluster import KMeans

        n_clusters = min(n_clusters, len(embeddings))
        km = KMeans(n_clusters, n_init=4, random_state=seed).fit(embeddings)
        items, clusters = [], []
        for c in range(n_clusters):
            members = np.flatnonzero(km.labels_ == c)
            distance = np.linalg.norm(embeddings[members] - km.cluster_centers_[c], axis=1)
            chosen = members[np.argsort(distance)[:items_per_cluster]]
            items += chosen.tolist()
            clusters += [c] * len(chosen)
        items, clusters = np.asarray(items), np.asarray(clusters)
        return cls(items, clusters, _cluster_keywords(prompts, items, clusters, n_clusters))

    @property
    def n_clusters(self) -> int:
        return int(self.clusters.max()) + 1

    def vector(self, results: np.ndarray) -> np.ndarray:
        """Capability vector from a model's results on the test items (``len(items)``, NaN allowed)."""
        results = np.asarray(results, dtype=np.float64)
        if results.shape != self.items.shape:
            raise RoutingDataError(f"need {len(self.items)} aptitude results, got {results.shape}")
        per_cluster = np.array([_nanmean_or(results[self.clusters == c], np.nanmean(results)) for c in range(self.n_clusters)])
        per_cluster = np.nan_to_num(per_cluster, nan=0.5)
        filled = np.where(np.isnan(results), per_cluster[self.clusters], results)
        return np.concatenate([per_cluster, filled])

    def describe(self, results: np.ndarray) -> str:
        """Model-SAT's capability instruction for a model's aptitude results."""
        per_cluster = self.vector(results)[: self.n_clusters]
        parts = [f'accuracy {100 * a:.1f}% on the task of "{k}"' for a, k in zip(per_cluster, self.keywords)]
        return "The model achieves " + ", ".join(parts) + "."


def _nanmean_or(values: np.ndarray, default: float) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else default


def _cluster_keywords(prompts, items, clusters, n_clusters) -> list[str]:
    if prompts is None:
        return [f"cluster {c}" for c in range(n_clusters)]
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", max_features=20000, token_pattern=r"(?u)\b[a-zA-Z]{3,}\b")
    weights = vectorizer.fit_transform([prompts[i] for i in items])
    vocab = np.asarray(vectorizer.get_feature_names_out())
    return [", ".join(vocab[np.argsort(-np.asarray(weights[clusters == c].mean(axis=0)).ravel())[:5]])
            for c in range(n_clusters)]


def _selector(n_query: int, n_capability: int, hidden: int, n_known: int):
    import torch
    from torch import nn

    class Selector(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Sequential(nn.Linear(n_query, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
            self.known = nn.Embedding(n_known + 1, hidden, padding_idx=n_known)  # last row: unseen query
            nn.init.zeros_(self.known.weight)
            self.capability = nn.Sequential(nn.Linear(n_capability, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
            self.head = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

        def forward(self, queries, known, capabilities):  # (b, d), (b,), (m, p) -> logits (b, m)
            hq, hm = self.query(queries) + self.known(known), self.capability(capabilities)
            b, m = hq.shape[0], hm.shape[0]
            pairs = torch.cat([hq[:, None] * hm[None], hq[:, None].expand(b, m, -1), hm[None].expand(b, m, -1)], -1)
            return self.head(pairs).squeeze(-1)

    return Selector()


@ROUTERS.register("capability")
class CapabilityRouter(ScoreModel):
    """Model-SAT-style selector over capability vectors (module doc). ``seed`` fixes the aptitude
    test's k-means, the sampled training groups and the selector's initialisation."""

    def __init__(self, n_clusters: int = 20, items_per_cluster: int = 20, hidden: int = 128, steps: int = 5000,
                 lr: float = 1e-3, batch_size: int = 128, models_per_step: int = 64, negatives: int = 7,
                 seed: int = 0):
        self.n_clusters = n_clusters
        self.items_per_cluster = items_per_cluster
        self.hidden = hidden
        self.steps = steps
        self.lr = lr
        self.batch_size = batch_size
        self.models_per_step = models_per_step
        self.negatives = negatives
        self.seed = seed

    def fit(self, X, S, tasks=None, aptitude: AptitudeTest | None = None,
            capabilities: np.ndarray | None = None) -> CapabilityRouter:
        """Build the aptitude test from ``X`` (unless given), describe every model by its results
        on it (unless ``capabilities`` are given) and train the selector on ``(X, S)``."""
        return super().fit(X, S, tasks, aptitude=aptitude, capabilities=capabilities)

    def predict(self, X, tasks=None, capabilities: np.ndarray | None = None) -> np.ndarray:
        """Scores of the known models, or of the models described by ``capabilities`` (one row
        each, as :meth:`AptitudeTest.vector` returns)."""
        return super().predict(X, tasks, capabilities=capabilities)

    def _fit(self, X, S, tasks, aptitude: AptitudeTest | None = None, capabilities: np.ndarray | None = None) -> None:
        self.aptitude_ = aptitude or AptitudeTest.build(X, None, self.n_clusters, self.items_per_cluster, self.seed)
        self.capabilities_ = (np.vstack([self.aptitude_.vector(S[self.aptitude_.items, m]) for m in range(S.shape[1])])
                              if capabilities is None else self._check_capabilities(capabilities, S.shape[1]))
        self.known_queries_ = X.astype(np.float32)
        with seeded(self.seed):
            self.net_ = _selector(X.shape[1], self.capabilities_.shape[1], self.hidden, len(X))
            self._train(self.known_queries_, S)

    def _check_capabilities(self, capabilities, n_models: int | None = None) -> np.ndarray:
        capabilities = np.asarray(capabilities, dtype=np.float64)
        width = len(self.aptitude_.items) + self.aptitude_.n_clusters
        if capabilities.ndim != 2 or capabilities.shape[1] != width or (n_models is not None
                                                                         and len(capabilities) != n_models):
            raise RoutingDataError(f"need one capability vector of width {width} per model, got {capabilities.shape}")
        return capabilities

    def _known_index(self, X: np.ndarray) -> np.ndarray:
        """Training-row index of each query seen in training (by exact embedding), else the
        'unseen' index."""
        lookup = {row.tobytes(): i for i, row in enumerate(self.known_queries_)}
        return np.array([lookup.get(row.tobytes(), len(self.known_queries_)) for row in X.astype(np.float32)])

    def _groups(self, n_queries: int, n_models: int, rng: np.random.Generator):
        """``steps`` draws of (query batch, model subset), each without replacement."""
        for _ in range(self.steps):
            yield (rng.choice(n_queries, min(self.batch_size, n_queries), replace=False),
                   rng.choice(n_models, min(self.models_per_step, n_models), replace=False))

    def _train(self, X: np.ndarray, S: np.ndarray) -> None:
        """``steps`` Adam steps (:func:`modelreuse._torch.minimise`) on sampled groups (module doc)."""
        import torch
        import torch.nn.functional as F

        from modelreuse._torch import minimise

        rng = np.random.default_rng(self.seed)
        caps = torch.as_tensor(self.capabilities_, dtype=torch.float32)

        def loss_of(group):
            batch, models = group
            scores = S[np.ix_(batch, models)]
            logits = self.net_(torch.as_tensor(X[batch]), torch.as_tensor(batch), caps[models])
            observed = torch.as_tensor(~np.isnan(scores), dtype=torch.float32)
            target = torch.as_tensor(np.nan_to_num(scores), dtype=torch.float32)
            loss = F.binary_cross_entropy_with_logits(logits, target, weight=observed, reduction="sum")
            return loss / observed.sum().clamp(min=1.0) + self._contrastive(logits, scores, rng)

        self.net_.train()
        minimise(self.net_.parameters(), loss_of, self._groups(len(X), S.shape[1], rng), lr=self.lr)
        self.net_.eval()

    def _contrastive(self, logits, scores: np.ndarray, rng: np.random.Generator):
        """One positive (score >= 0.5) against ``negatives`` failing models, per query that has both."""
        import torch
        import torch.nn.functional as F

        rows, columns = [], []
        for i, row in enumerate(scores):
            positives, failures = np.flatnonzero(row >= 0.5), np.flatnonzero(row < 0.5)
            if positives.size and failures.size:
                rows.append(i)
                columns.append(np.concatenate([[rng.choice(positives)], rng.choice(failures, self.negatives)]))
        if not rows:
            return logits.sum() * 0.0
        picked = logits[torch.as_tensor(rows)[:, None], torch.as_tensor(np.vstack(columns))]
        return F.cross_entropy(picked, torch.zeros(len(rows), dtype=torch.long))

    def add_model(self, aptitude_results: np.ndarray) -> int:
        """Onboard a new model from its aptitude-test results alone; returns its column index."""
        check_is_fitted(self)
        self.capabilities_ = np.vstack([self.capabilities_, self.aptitude_.vector(aptitude_results)])
        return len(self.capabilities_) - 1

    def _predict(self, X, tasks, capabilities: np.ndarray | None = None) -> np.ndarray:
        import torch

        caps = self.capabilities_ if capabilities is None else self._check_capabilities(capabilities)
        X = X.astype(np.float32)
        with torch.no_grad():
            logits = self.net_(torch.as_tensor(X), torch.as_tensor(self._known_index(X)),
                               torch.as_tensor(caps, dtype=torch.float32))
        return torch.sigmoid(logits).double().numpy()

    def _get_state(self) -> dict:
        return {"capabilities": self.capabilities_, "items": self.aptitude_.items, "clusters": self.aptitude_.clusters,
                "keywords": np.asarray(self.aptitude_.keywords, dtype=str),
                "known_queries": self.known_queries_} | module_state(self.net_)

    def _set_state(self, state: dict) -> None:
        self.capabilities_ = state["capabilities"]
        self.aptitude_ = AptitudeTest(state["items"], state["clusters"], [str(k) for k in state["keywords"]])
        self.known_queries_ = state["known_queries"]
        self.net_ = _selector(self.known_queries_.shape[1], self.capabilities_.shape[1], self.hidden,
                              len(self.known_queries_))
        load_module_state(self.net_, state)
