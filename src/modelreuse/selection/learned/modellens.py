"""ModelLens: recommending models for a dataset from leaderboard records, including cold start.

Paper: "ModelLens: model recommendation in the wild" (seed ``004``; reference code
github.com/luisrui/ModelLens, not reachable here -- this follows the paper's section 3).

Representations (all ``dim``-wide, summed per entity before the interaction):

* model = learned ID embedding + mean of hashed name-token embeddings (zero-initialised, so a token
  never seen in training contributes nothing) + a linear map of the frozen
  MiniLM embedding of its description (its name when it has none);
* dataset = learned ID embedding + a linear map of the MiniLM embedding of ``name (task): description``;
* evaluation context = task embedding, metric embedding; structure = size-bucket embedding
  (half-decades of log10 params, one bucket for unknown) and family embedding, plus the scaled
  log10 parameter count itself and a known-size flag (our addition: the buckets alone lose the
  within-bucket scaling trend that the parameter-count baseline exploits).

**ID dropout**: in training each model ID (probability ``model_id_dropout``) and each dataset ID
(``dataset_id_dropout``) is independently replaced by the shared unknown entry 0, so that the net
also learns to score from metadata alone; unseen models and datasets use entry 0 at inference.

**Score** ``s = (prior(size, family) + residual(all views)) / (softplus(t) + 1e-3)``: the prior is a
small MLP over the size and family embeddings only (general competence, e.g. scaling), the
residual is an MLP over every view plus the element-wise product of the model and dataset
vectors (dataset-specific affinity); a second head of the residual backbone predicts the
within-group z-score. Higher is better.

**Losses**, per sampled ranking group of up to ``group_size`` models (groups = ``(source, dataset,
task, metric)``): BPR on every ordered pair ``-log sigmoid(s_i - s_j)`` for ``z_i > z_j``;
Plackett-Luce ``sum_i [logsumexp_{j >= i} s_j - s_i]`` over the true order; MSE of the z head
against the within-group z-score. Total = ``bpr + listwise_weight * pl + regression_weight * mse``.
Adam, seeded, CPU-sized (about a minute per member for ~140k records).

**Size ladders** (our addition, ``size_ladders=True``): among the models of a query that were never
seen in training, those of one model line (the same name but for a size designation, e.g. the
0.6B ... 14B sizes of one embedder) are re-ordered by parameter count; see
:mod:`~modelreuse.selection.learned.size_ladder`. Checked on the nested validation split of the
unseen-models setting: +0.046 weighted tau on average over three seeds.

**Ensemble** (our addition): ``members`` nets trained with seeds ``seed, seed+1, ...`` and their
prior and interaction averaged. Scores of models never seen in training vary a lot between
seeds; on a nested validation split of the unseen-models setting 3 members gave weighted tau
0.395 against 0.352 for a single net on average (members tried: 1 and 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from modelreuse._torch import minimise
from modelreuse.config import Progress
from modelreuse.errors import RecordsDataError
from modelreuse.records.leaderboard import LeaderboardRecords
from modelreuse.selection.learned.base import RECOMMENDERS, RecordsInputMixin, training_targets
from modelreuse.selection.learned.features import (
    DEFAULT_CACHE,
    N_NAME_HASHES,
    N_SIZE_BUCKETS,
    TextEmbeddings,
    hashed_name_tokens,
    lookup,
    metadata_rows,
    size_bucket,
    vocabulary,
)
from modelreuse.selection.learned.size_ladder import order_size_ladders

HYPERPARAMETERS = ("dim", "hidden", "steps", "groups_per_step", "group_size", "lr", "weight_decay",
                   "model_id_dropout", "dataset_id_dropout", "listwise_weight", "regression_weight", "members", "size_ladders",
                   "seed")


def _net(n_models: int, n_datasets: int, n_tasks: int, n_metrics: int, n_families: int, text_dim: int,
         dim: int, hidden: int):
    import torch
    from torch import nn

    class ModelLensNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.model_id, self.dataset_id = nn.Embedding(n_models + 1, dim), nn.Embedding(n_datasets + 1, dim)
            self.name = nn.EmbeddingBag(N_NAME_HASHES, dim, mode="mean", padding_idx=0)
            self.model_text, self.dataset_text = nn.Linear(text_dim, dim), nn.Linear(text_dim, dim)
            self.task, self.metric = nn.Embedding(n_tasks + 1, dim), nn.Embedding(n_metrics + 1, dim)
            self.size, self.family = nn.Embedding(N_SIZE_BUCKETS, dim), nn.Embedding(n_families + 1, dim)
            self.prior = nn.Sequential(nn.Linear(2 * dim + 2, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            self.backbone = nn.Sequential(nn.Linear(7 * dim + 2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
            self.rank_head, self.z_head = nn.Linear(hidden, 1), nn.Linear(hidden, 1)
            self.temperature = nn.Parameter(torch.zeros(()))
            nn.init.zeros_(self.name.weight)   # a name token never seen in training adds nothing

        def forward(self, x: dict):
            size, family = self.size(x["size"]), self.family(x["family"])
            model = self.model_id(x["model_id"]) + self.name(x["name"]) + self.model_text(x["model_text"])
            dataset = self.dataset_id(x["dataset_id"]) + self.dataset_text(x["dataset_text"])
            context = self.task(x["task"]) + self.metric(x["metric"])
            scale_features = x["log_params"]
            h = self.backbone(torch.cat([model, dataset, context, size, family, model * dataset,
                                         model * context, scale_features], dim=-1))
            prior = self.prior(torch.cat([size, family, scale_features], dim=-1)).squeeze(-1)
            residual = self.rank_head(h).squeeze(-1)
            scale = torch.nn.functional.softplus(self.temperature) + 1e-3
            return prior / scale, residual / scale, self.z_head(h).squeeze(-1)

    return ModelLensNet()


@RECOMMENDERS.register("modellens")
class ModelLens(RecordsInputMixin, BaseEstimator):
    """The ModelLens recommender (module doc); a scikit-learn estimator: hyperparameters in
    ``__init__``, learned state in trailing-underscore attributes after :meth:`fit`. ``cache`` is
    the description-embedding cache folder (None: no cache; the default, :data:`DEFAULT_CACHE`,
    is ``config.cache_home("recommend")``); ``progress`` the progress callback."""

    def __init__(self, dim: int = 32, hidden: int = 128, steps: int = 3000, groups_per_step: int = 32,
                 group_size: int = 32, lr: float = 2e-3, weight_decay: float = 1e-6,
                 model_id_dropout: float = 0.3, dataset_id_dropout: float = 0.3, listwise_weight: float = 1.0,
                 regression_weight: float = 0.5, members: int = 3, size_ladders: bool = True, seed: int = 0,
                 cache: str | Path | None = DEFAULT_CACHE, progress: Progress | None = None):
        self.dim = dim
        self.hidden = hidden
        self.steps = steps
        self.groups_per_step = groups_per_step
        self.group_size = group_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.model_id_dropout = model_id_dropout
        self.dataset_id_dropout = dataset_id_dropout
        self.listwise_weight = listwise_weight
        self.regression_weight = regression_weight
        self.members = members
        self.size_ladders = size_ladders
        self.seed = seed
        self.cache = cache
        self.progress = progress

    # ---- inputs -------------------------------------------------------------------------------
    def _inputs(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> dict:
        """Tensors for every pair: IDs (0 when unknown), context, structure, name hashes, text embeddings."""
        import torch

        model_names, model_row = np.unique(pairs["model"].astype(str), return_inverse=True)
        dataset_names, dataset_row = np.unique(pairs["dataset"].astype(str), return_inverse=True)
        model_meta = metadata_rows(models, "model", model_names)
        dataset_meta = metadata_rows(datasets, "dataset", dataset_names)
        embeddings = TextEmbeddings(self.cache)
        model_text = embeddings.models(model_meta)[model_row]
        dataset_text = embeddings.datasets(dataset_meta)[dataset_row]
        params = pd.to_numeric(model_meta["params"], errors="coerce").to_numpy(float)
        x = {"model_id": lookup(self.models_, model_names)[model_row],
             "dataset_id": lookup(self.datasets_, dataset_names)[dataset_row],
             "task": lookup(self.tasks_, pairs["task"]), "metric": lookup(self.metrics_, pairs["metric"]),
             "size": size_bucket(params)[model_row], "log_params": _log_params(params)[model_row],
             "family": lookup(self.families_, model_meta["family"].astype("string").fillna(""))[model_row],
             "name": hashed_name_tokens(model_names)[model_row], "model_text": model_text, "dataset_text": dataset_text}
        return {k: torch.as_tensor(v) for k, v in x.items()}

    # ---- training -----------------------------------------------------------------------------
    def fit(self, records: LeaderboardRecords) -> ModelLens:
        import torch

        frame = training_targets(records)
        if frame.empty:
            raise RecordsDataError("no ranking group with two or more models to learn from")
        self.models_, self.datasets_ = vocabulary(frame["model"]), vocabulary(frame["dataset"])
        self.tasks_, self.metrics_ = vocabulary(frame["task"]), vocabulary(frame["metric"])
        self.families_ = vocabulary(records.models["family"].astype("string").fillna("").replace("", pd.NA))
        if self.members < 1:
            raise RecordsDataError(f"members must be >= 1, got {self.members}")
        x = self._inputs(frame, records.models, records.datasets)
        z = torch.as_tensor(frame["z"].to_numpy(np.float32))
        self.nets_ = []
        for member in range(self.members):
            torch.manual_seed(self.seed + member)
            net = self._new_net(x["model_text"].shape[1])
            self._train(net, x, z, frame["group"].to_numpy(), self.seed + member)
            self.nets_.append(net)
        self.catalogue_ = (records.models.copy(), records.datasets.copy())
        self.sources_ = {s: sorted(part["model"].unique()) for s, part in records.records.groupby("source")}
        return self

    def _new_net(self, text_dim: int):
        return _net(len(self.models_), len(self.datasets_), len(self.tasks_), len(self.metrics_),
                    len(self.families_), text_dim, self.dim, self.hidden)

    def _train(self, net, x: dict, z, groups: np.ndarray, seed: int) -> None:
        import torch

        members = _padded_members(groups)                      # (n_groups, max_size), -1 padded
        generator = torch.Generator().manual_seed(seed)

        def sampled_groups():
            for _ in range(self.steps):
                chosen = torch.randint(len(members), (self.groups_per_step,), generator=generator)
                index = _sample_members(members[chosen], self.group_size, generator)   # (G, M), -1 padded
                flat = index.clamp(min=0).reshape(-1)
                batch = {k: v[flat] for k, v in x.items()}
                batch["model_id"] = _drop_ids(batch["model_id"], self.model_id_dropout, generator)
                batch["dataset_id"] = _drop_ids(batch["dataset_id"], self.dataset_id_dropout, generator)
                yield index, flat, batch

        def loss_of(sample):
            index, flat, batch = sample
            prior, residual, z_hat = (t.reshape(index.shape) for t in net(batch))
            target = z[flat].reshape(index.shape)
            return _ranking_loss(prior + residual, z_hat, target, index >= 0, self.listwise_weight,
                                 self.regression_weight)

        net.train()
        minimise(net.parameters(), loss_of, sampled_groups(), lr=self.lr, weight_decay=self.weight_decay,
                 progress=self.progress, report_every=500, label=f"modellens (seed {seed})")
        net.eval()

    # ---- inference ----------------------------------------------------------------------------
    def explain(self, pairs: pd.DataFrame, models: pd.DataFrame | None = None,
                datasets: pd.DataFrame | None = None) -> pd.DataFrame:
        """``score = prior + interaction`` per pair (module doc), in the temperature-scaled units,
        averaged over the ensemble members; with ``size_ladders`` the scores of cold-start models of
        one model line are then re-ordered by size (``size_ladder`` marks those pairs)."""
        import torch

        check_is_fitted(self)
        models = self.catalogue_[0] if models is None else models
        datasets = self.catalogue_[1] if datasets is None else datasets
        x = self._inputs(pairs, models, datasets)
        with torch.no_grad():
            outputs = [net(x)[:2] for net in self.nets_]
        prior = np.mean([p.double().numpy() for p, _ in outputs], axis=0)
        residual = np.mean([r.double().numpy() for _, r in outputs], axis=0)
        score, moved = prior + residual, np.zeros(len(pairs), dtype=bool)
        if self.size_ladders:
            names = pairs["model"].astype(str)
            sizes = pd.to_numeric(metadata_rows(models, "model", names)["params"], errors="coerce").to_numpy(float)
            score, moved = order_size_ladders(pairs, score, sizes, ~names.isin(set(self.models_)).to_numpy())
        return pd.DataFrame({"score": score, "prior": prior, "interaction": residual, "size_ladder": moved})

    def predict(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        """``score = prior + interaction`` per pair (:meth:`explain`); higher is better."""
        return self.explain(pairs, models, datasets)["score"].to_numpy()

    def recommend(self, description: str, task: str = "", metric: str = "", dataset: str = "new dataset",
                  top: int = 10, sources: list[str] | None = None,
                  candidates: pd.DataFrame | None = None) -> pd.DataFrame:
        """Rank models for a dataset known only by its description (cold start).

        Candidates are the training catalogue's models, or ``candidates`` (a models table:
        ``model, family, params, release_date, description``; models never seen in training are
        scored from this metadata). ``sources`` restricts catalogue candidates to models with
        records from those sources. Returns the ``top`` models with ``score = prior +
        interaction`` and a one-line reason.
        """
        check_is_fitted(self)
        if not str(description).strip():
            raise RecordsDataError("the dataset description is empty")
        models = self.catalogue_[0] if candidates is None else candidates
        if sources:
            models = models[models["model"].isin(self.candidates_by_source(sources))]
        if models.empty:
            raise RecordsDataError(f"no candidate models for sources {sources}")
        pairs = pd.DataFrame({"model": models["model"].to_numpy(), "dataset": dataset, "task": task, "metric": metric})
        datasets = pd.DataFrame({"dataset": [dataset], "task": [task], "description": [description]})
        out = pd.concat([pairs[["model"]], self.explain(pairs, models, datasets)], axis=1)
        out = out.sort_values("score", ascending=False, kind="stable").head(top).reset_index(drop=True)
        out["reason"] = [_reason(p, i, ladder) for p, i, ladder in zip(out["prior"], out["interaction"], out["size_ladder"])]
        return out

    def candidates_by_source(self, sources: list[str]) -> set[str]:
        known = set(self.sources_)
        unknown = set(sources) - known
        if unknown:
            raise RecordsDataError(f"unknown source(s) {sorted(unknown)}; the recommender knows {sorted(known)}")
        return {m for s in sources for m in self.sources_[s]}

    # ---- persistence (JSON + npz; no pickle) --------------------------------------------------
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"hyperparameters": {k: getattr(self, k) for k in HYPERPARAMETERS},
                  "vocabularies": {k: list(getattr(self, f"{k}_")) for k in ("models", "datasets", "tasks", "metrics",
                                                                               "families")}}
        config["sources"] = self.sources_
        (folder / "config.json").write_text(json.dumps(config))
        np.savez(folder / "weights.npz", **{f"{i}.{k}": v.detach().numpy() for i, net in enumerate(self.nets_)
                                            for k, v in net.state_dict().items()})
        self.catalogue_[0].to_parquet(folder / "models.parquet", index=False)
        self.catalogue_[1].to_parquet(folder / "datasets.parquet", index=False)

    @classmethod
    def load(cls, folder: str | Path, cache: str | Path | None = DEFAULT_CACHE) -> ModelLens:
        import torch

        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise RecordsDataError(f"{folder} holds no saved recommender (config.json missing)")
        config = json.loads((folder / "config.json").read_text())
        self = cls(**config["hyperparameters"], cache=cache)
        for key, names in config["vocabularies"].items():
            setattr(self, f"{key}_", {n: i + 1 for i, n in enumerate(names)})
        weights = np.load(folder / "weights.npz")
        self.nets_ = []
        for member in range(self.members):
            prefix = f"{member}."
            net = self._new_net(weights[prefix + "model_text.weight"].shape[1])
            net.load_state_dict({k[len(prefix):]: torch.as_tensor(weights[k]) for k in weights.files
                                 if k.startswith(prefix)})
            self.nets_.append(net.eval())
        self.catalogue_ = (pd.read_parquet(folder / "models.parquet"), pd.read_parquet(folder / "datasets.parquet"))
        self.sources_ = config["sources"]
        return self


def _log_params(params: np.ndarray) -> np.ndarray:
    """``(n, 2)`` float32: ``(log10(params) - 9) / 1.5`` (0 when unknown) and a known-size flag."""
    known = np.isfinite(params) & (params > 0)
    scaled = np.where(known, (np.log10(np.where(known, params, 1.0)) - 9.0) / 1.5, 0.0)
    return np.stack([scaled, known], axis=1).astype(np.float32)


def _reason(prior: float, interaction: float, size_ladder: bool = False) -> str:
    main = "size/family prior" if abs(prior) >= abs(interaction) else "dataset interaction"
    ladder = "; placed by size among its model line's sizes" if size_ladder else ""
    return f"mostly {main} (prior {prior:+.2f}, interaction {interaction:+.2f}){ladder}"


def _padded_members(groups: np.ndarray):
    """``(n_groups, max_size)`` record indices per group, padded with -1."""
    import torch

    order = np.argsort(groups, kind="stable")
    sizes = np.bincount(groups)
    sizes = sizes[sizes > 0]
    out = np.full((len(sizes), sizes.max()), -1, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for g, (start, size) in enumerate(zip(starts, sizes)):
        out[g, :size] = order[start:start + size]
    return torch.as_tensor(out)


def _sample_members(members, size: int, generator):
    """Up to ``size`` random members of every row (without replacement), -1 padded."""
    import torch

    keys = torch.rand(members.shape, generator=generator).masked_fill(members < 0, 2.0)
    take = keys.argsort(dim=1)[:, :min(size, members.shape[1])]
    return members.gather(1, take)


def _drop_ids(ids, rate: float, generator):
    import torch

    return ids.masked_fill(torch.rand(ids.shape, generator=generator) < rate, 0)


def _ranking_loss(s, z_hat, z, valid, listwise_weight: float, regression_weight: float):
    """BPR over correctly ordered pairs + Plackett-Luce over the true order + z-score MSE (module doc)."""
    import torch
    import torch.nn.functional as F

    pair = valid[:, :, None] & valid[:, None, :] & (z[:, :, None] > z[:, None, :])
    bpr = F.softplus(-(s[:, :, None] - s[:, None, :]))[pair].mean() if pair.any() else s.sum() * 0
    order = torch.where(valid, z, torch.full_like(z, -torch.inf)).argsort(dim=1, descending=True)
    s_sorted = s.gather(1, order).masked_fill(~valid.gather(1, order), -torch.inf)
    tail_lse = torch.logcumsumexp(s_sorted.flip(1), dim=1).flip(1)
    keep = valid.gather(1, order)
    listwise = (tail_lse - s_sorted)[keep].mean()
    mse = ((z_hat - z) ** 2)[valid].mean()
    return bpr + listwise_weight * listwise + regression_weight * mse
