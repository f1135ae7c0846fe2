"""Straightforward reference formulations of the transferability metrics, for the speed benchmark.

Each function is the textbook / upstream-structured computation of the same quantity as the
library version: explicit pseudo-inverses, per-class Python loops, N x N kernels, D x D
determinants per class. They were written for this benchmark from the papers' formulas and the
upstream algorithms' structure (thuml/LogME ``_fit_fixed_point`` with its ``truncated_svd``:
SVD of F^T F, ``u = F V / s``, one fixed-point loop per class), not copied; the library versions
were checked against the upstream values through the public fixtures. Never imported by modelreuse.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA


def class_mean_rows(F, y):
    g = np.zeros_like(F)
    for c in np.unique(y):
        g[y == c] = F[y == c].mean(axis=0)
    return g


def hscore(F, y):
    cov_f = np.cov(F, rowvar=False)
    cov_g = np.cov(class_mean_rows(F, y), rowvar=False)
    return float(np.trace(np.linalg.pinv(cov_f, rcond=1e-15) @ cov_g))


def reg_hscore(F, y):
    Fc = F - F.mean(axis=0)
    lw = LedoitWolf(assume_centered=False).fit(Fc)
    cov_g = np.cov(class_mean_rows(Fc, y), rowvar=False)
    return float(np.trace(np.linalg.pinv(lw.covariance_, rcond=1e-15) @ ((1 - lw.shrinkage_) * cov_g)))


def nce(P, y):
    z = P.argmax(axis=1)
    C, Cs, N = y.max() + 1, P.shape[1], len(y)
    joint = np.zeros((C, Cs))
    for s, t in zip(z, y):
        joint[t, s] += 1.0 / N
    p_z = joint.sum(axis=0)
    total = 0.0
    for s in range(Cs):
        if p_z[s] > 0:
            cond = joint[:, s] / p_z[s] + 1e-20
            total += p_z[s] * -(cond * np.log(cond)).sum()
    return -total


def leep(P, y):
    N, C = len(y), y.max() + 1
    joint = np.zeros((C, P.shape[1]))
    for c in range(C):
        joint[c] = (P[y == c] / N).sum(axis=0)
    cond = (joint / joint.sum(axis=0)).T
    eep = P @ cond
    return float(np.mean(np.log(eep[np.arange(N), y])))


def logme(F, y):
    """Fixed-point LogME, one class at a time, on the SVD of F^T F (module doc)."""
    N, D = F.shape
    _, sv, vh = np.linalg.svd(F.T @ F)
    s = np.sqrt(sv)
    k = int((s > 1e-10).sum())
    s, vh = s[:k].reshape(-1, 1), vh[:k]
    u = (F @ vh.T) / s.reshape(1, -1)
    sigma = s**2
    evidences = []
    for c in range(int(y.max()) + 1):
        y_ = (y == c).astype(np.float64).reshape(-1, 1)
        x = u.T @ y_
        x2 = x**2
        res_x2 = (y_**2).sum() - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            t = alpha / beta
            gamma = (sigma / (sigma + t)).sum()
            m2 = (sigma * x2 / ((t + sigma) ** 2)).sum()
            res2 = (x2 / ((1 + sigma / t) ** 2)).sum() + res_x2
            alpha = gamma / (m2 + 1e-5)
            beta = (N - gamma) / (res2 + 1e-5)
            if abs(alpha / beta - t) / t <= 1e-3:
                break
        evidence = (D / 2.0 * np.log(alpha) + N / 2.0 * np.log(beta) - 0.5 * np.sum(np.log(alpha + beta * sigma))
                    - beta / 2.0 * res2 - alpha / 2.0 * m2 - N / 2.0 * np.log(2 * np.pi))
        evidences.append(evidence / N)
    return float(np.mean(evidences))


def gbc_spherical_exact(F, y):
    Z = PCA(n_components=64, svd_solver="full").fit_transform(F)
    stats = {}
    for c in np.unique(y):
        Zc = Z[y == c]
        stats[c] = (Zc.mean(axis=0), np.maximum(Zc.var(axis=0), 1e-4).mean())
    total = 0.0
    d = Z.shape[1]
    for c, (m1, v1) in stats.items():
        for c2, (m2, v2) in stats.items():
            if c != c2:
                v = (v1 + v2) / 2
                db = ((m1 - m2) ** 2).sum() / v / 8 + d / 2 * (np.log(v) - (np.log(v1) + np.log(v2)) / 2)
                total += np.exp(-db)
    return -total


def transrate(F, y, eps=1e-4):
    def rate(Z):
        n, dim = Z.shape
        return 0.5 * np.linalg.slogdet(np.eye(dim) + Z.T @ Z / (n * eps))[1]

    Z = F - F.mean(axis=0)
    classes = np.unique(y)
    return rate(Z) - sum(rate(Z[y == c]) for c in classes) / len(classes)


def sfda(F, y):
    """Both discriminants through the generalised eigenproblem (S_b, S_w shrunk), as published."""
    X = F.copy()
    classes = np.unique(y)
    C, N, D = len(classes), len(y), X.shape[1]

    def fit_proba(X, shrinkage):
        priors = np.array([(y == c).mean() for c in classes])
        means = np.stack([X[y == c].mean(axis=0) for c in classes])
        Sw = sum(p * np.cov(X[y == c].T, bias=True) for p, c in zip(priors, classes))
        if shrinkage is None:
            v = Sw.sum(axis=1)
            for _ in range(3):
                u = Sw @ v
                u /= np.linalg.norm(u)
                v = Sw @ u
                v /= np.linalg.norm(v)
            shrinkage = max(np.exp(-5 * (v @ Sw @ u)), 1e-10)
        shrunk = (1 - shrinkage) * Sw + shrinkage * np.trace(Sw) / D * np.eye(D)
        St = np.cov(X.T, bias=True)
        _, W = linalg.eigh(St - shrunk, shrunk)
        coef = means @ W @ W.T
        logits = X @ coef.T - 0.5 * np.diag(means @ coef.T) + np.log(priors)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True), shrinkage, means

    proba, shrinkage, means = fit_proba(X, None)
    soft = np.exp(proba) / np.exp(proba).sum(axis=1, keepdims=True)
    for c in classes:
        idx = np.flatnonzero(y == c)
        other = (means.sum(axis=0) - means[c]) / (C - 1)
        conf = soft[idx, c][:, None]
        X[idx] = conf * X[idx] + (1 - conf) * other
    proba, _, _ = fit_proba(X, shrinkage)
    return float(proba[np.arange(N), y].mean())


def lfc(F, y):
    K = F @ F.T
    K -= K.mean()
    L = np.where(y[:, None] == y[None, :], 1.0, -1.0)
    L -= L.mean()
    return float((K * L).sum() / (np.linalg.norm(K) * np.linalg.norm(L)))


def knn_accuracy(F, y, k=5):
    sq = (F**2).sum(axis=1)
    dist = sq[:, None] + sq[None, :] - 2 * F @ F.T
    np.fill_diagonal(dist, np.inf)
    nn = np.argsort(dist, axis=1, kind="stable")[:, :k]
    votes = np.stack([np.bincount(row, minlength=y.max() + 1) for row in y[nn]])
    return float(np.mean(votes.argmax(axis=1) == y))


REFERENCES = {"hscore": hscore, "reg_hscore": reg_hscore, "nce": nce, "leep": leep, "logme": logme,
              "gbc_spherical_exact": gbc_spherical_exact, "transrate": transrate, "sfda": sfda, "lfc": lfc,
              "knn_accuracy": knn_accuracy}
