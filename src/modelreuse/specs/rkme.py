"""Reduced kernel mean embedding (RKME) specification.

Paper: Wu, Xu, Liu & Zhou, "Model reuse with reduced kernel mean embedding specification",
TKDE 35(1), 2023; Zhou & Tan, "Learnware: small models do big", 2024 (seed 002, App. F.1).
Reference implementation checked: ``learnware`` 0.4 (``RKMETableSpecification``), which fits a
reduced set with a fixed ``gamma=0.1`` on raw features. We differ on purpose in the frame
(see below), so that identification does not depend on feature units.

Definition. Given data ``x_1..x_n`` the empirical kernel mean embedding is
``mu = (1/n) sum_i k(x_i, .)``. The RKME is ``Phi = sum_j beta_j k(z_j, .)`` with ``m << n``
reduced-set points ``z_j`` and weights ``beta_j >= 0`` minimising

    MMD^2(Phi, mu) = beta' K_zz beta - 2 beta' K_zx alpha + alpha' K_xx alpha,  alpha = 1/n.

Frame and bandwidth. Features are standardised by the developer's own mean and standard
deviation (stored in the spec as ``center``/``scale`` with the count ``n``), and the Gaussian
kernel ``exp(-gamma ||s - s'||^2)`` acts on standardised points with ``gamma = gamma0 / d``
(``d`` = number of features, default ``gamma0 = 0.5``; two independent standardised points are
then typically ``exp(-1)`` apart). The reduced set is stored in the original units, so any
party can re-express it in a shared frame (the dock pools the specs' moments); an affine
change of units applied to everyone leaves every MMD unchanged.

Optimisation (deterministic given ``seed``):
1. ``z`` initialised by k-means (scipy ``kmeans2``, seeded random rows as initial centres) on
   at most ``init_sample`` (default 2,000) standardised rows;
   clusters of fewer than :data:`MIN_ROWS_PER_POINT` (5) rows are dropped, and ``m`` is at most
   ``n // 5``: every reduced-set point is then the mean of at least 5 rows, never a row itself (a
   spec of a small table must not hand out the user's or developer's rows);
2. ``beta`` = non-negative least squares of the quadratic above (scipy ``nnls`` on the
   Cholesky factor of ``K_zz``), against all ``n`` rows;
3. optional (``max_iter > 0``): ``(z, beta)`` jointly refined by L-BFGS-B on the exact MMD^2
   with analytic gradients and ``beta >= 0`` bounds, then ``beta`` refitted by NNLS.
The default (``max_iter=0``) favours speed: on standardised Beijing air-quality rows, with the
learnware package's own kernel, steps 1-2 reach about 5x lower MMD^2 than that package's
optimiser in 5-20x less time (``benchmarks/peer_learnware.py``); ``max_iter=20`` lowers
MMD^2 by a further ~20% at several times the cost. Cost O(n m d) per pass; memory O(n m).

Limits (checked by :meth:`RKMESpec.validate` on every load; a spec from someone else is data
that drives search, so each field is bounded; every spec :meth:`RKMESpec.fit` returns passes):

* ``1 <= n <= MAX_ROWS`` (10^9), an integer, and ``m <= n``;
* ``Z`` real floating, ``m <= MAX_REDUCED_POINTS`` (2,000; the default is 100),
  ``d <= MAX_FEATURES`` and ``m d <= MAX_SPEC_VALUES`` (500,000 values: 4 MB in float64);
* ``MIN_GAMMA <= gamma <= MAX_GAMMA`` (1e-9 to 1e3; ``default_gamma`` gives ``0.5 / d <= 0.5``);
* ``beta >= 0`` with ``0 < sum(beta) <= MAX_BETA_SUM`` (10): the weights approximate a
  probability measure (NNLS gives sums of 0.63-1.0 on 100 real tables);
* ``0 <= fit_mmd2 <= sum(beta)^2 + 1``: with ``0 <= k <= 1`` and ``beta >= 0``,
  ``||Phi||^2 <= sum(beta)^2``, ``||mu||^2 <= 1`` and ``<Phi, mu> >= 0``, so
  ``MMD^2 = ||Phi||^2 - 2 <Phi, mu> + ||mu||^2`` cannot exceed that (2 for probability weights);
* ``|center| <= MAX_ABS_VALUE`` (1e20, above nanosecond timestamps),
  ``MIN_SCALE < scale <= MAX_ABS_VALUE`` (``fit`` never stores a scale of 1e-12 or less);
* ``|Z - center| / scale <= MAX_STANDARDISED`` (10^5): by Samuelson's inequality a row is at
  most ``sqrt(n - 1)`` standard deviations from the mean, and ``sqrt(MAX_ROWS) < 31,623``;
  k-means centres are means of rows.

On 200 specs fitted on 100 real tables (Beijing stations, gas-sensor batches, PMLB, MNIST
pixels; ``m`` = 10 and 100), the extremes were ``sum(beta)`` 0.63-1.0, ``fit_mmd2 <= 0.0082``,
``|Z - center| / scale <= 49``, ``gamma <= 0.125``, ``|center| <= 1.4e6``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.linalg import cho_factor, solve_triangular
from scipy.optimize import minimize, nnls

from modelreuse._safeio import NpzMember, read_npz
from modelreuse.errors import InvalidTaskDataError, SpecError
from modelreuse.specs.base import SPEC_KINDS
from modelreuse.specs.kernels import gaussian_kernel, random_fourier_features

DEFAULT_GAMMA0 = 0.5

MAX_ROWS = 10**9
MAX_REDUCED_POINTS = 2000
MIN_ROWS_PER_POINT = 5  # every reduced-set point is the mean of at least this many rows
KMEANS_ITER = 30  # Lloyd iterations of the reduced-set initialisation (converged on real tables)
MAX_FEATURES = 65_536
MAX_SPEC_VALUES = 500_000
MIN_GAMMA, MAX_GAMMA = 1e-9, 1e3
MAX_BETA_SUM = 10.0
MAX_ABS_VALUE = 1e20
MIN_SCALE = 1e-12
MAX_STANDARDISED = 1e5
MAX_SPEC_FILE_BYTES = 8 * MAX_SPEC_VALUES + 64 * 1024  # the arrays in float64 plus headers


def check_finite_matrix(X: np.ndarray, what: str = "data") -> np.ndarray:
    """Return ``X`` as a 2-D float64 array or raise :class:`InvalidTaskDataError`."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidTaskDataError(f"{what} must be numeric: {exc}") from exc
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise InvalidTaskDataError(f"{what} must be a non-empty 2-D array, got shape {X.shape}")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise InvalidTaskDataError(
            f"{what} contains NaN or inf in {bad} row(s); impute or drop them first "
            "(modelreuse.models.tabular.impute_means fills them with column means)"
        )
    return X


def default_gamma(n_features: int, gamma0: float = DEFAULT_GAMMA0) -> float:
    """Bandwidth rule on standardised features: ``gamma = gamma0 / d``."""
    return gamma0 / max(n_features, 1)


ERROR_SAMPLE = 1000


def _check_fit_input(X: np.ndarray, m: int) -> np.ndarray:
    """``X`` as for :func:`check_finite_matrix`, within the spec limits (module doc)."""
    X = check_finite_matrix(X)
    n, d = X.shape
    if not 1 <= m <= MAX_REDUCED_POINTS or min(m, n) * d > MAX_SPEC_VALUES or d > MAX_FEATURES or n > MAX_ROWS:
        raise InvalidTaskDataError(
            f"an RKME of {min(m, n)} points on {n} x {d} data exceeds the spec limits ({MAX_REDUCED_POINTS} "
            f"points, {MAX_FEATURES} features, {MAX_SPEC_VALUES} values, {MAX_ROWS} rows); lower m or reduce d")
    if np.abs(X).max() > MAX_ABS_VALUE:
        raise InvalidTaskDataError(f"data has values beyond +-{MAX_ABS_VALUE:g}; rescale those features first")
    return X


@SPEC_KINDS.register("rkme", file_suffix=".npz")
@dataclass
class RKMESpec:
    """A fitted RKME: weighted reduced set in original units plus the developer's frame.

    Attributes:
        Z: ``(m, d)`` reduced-set points, original units.
        beta: ``(m,)`` non-negative weights.
        center, scale: ``(d,)`` mean and standard deviation of the data the spec sketches.
        n: number of rows sketched.
        gamma: kernel parameter on standardised features.
        fit_mmd2: squared MMD between the RKME and the rows it sketches, in the spec's own frame
            (estimated from a sample of ``ERROR_SAMPLE`` rows on large data); lets a user who
            shares only the spec be tested with the right null mean. ``None`` for old specs.
    """

    Z: np.ndarray
    beta: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    n: int
    gamma: float
    fit_mmd2: float | None = None
    meta: dict = field(default_factory=dict)


    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        m: int = 100,
        gamma0: float = DEFAULT_GAMMA0,
        seed: int = 0,
        max_iter: int = 0,
        init_sample: int = 2000,
    ) -> RKMESpec:
        """Fit an RKME with ``m`` reduced-set points to the rows of ``X`` (see module doc)."""
        X = _check_fit_input(X, m)
        n, d = X.shape
        m = int(min(m, max(1, n // MIN_ROWS_PER_POINT)))
        center = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale <= 1e-12 * np.maximum(1.0, np.abs(center))] = 1.0
        S = (X - center) / scale
        gamma = default_gamma(d, gamma0)
        Z = _kmeans_init(S, m, seed, init_sample)
        alpha = np.full(n, 1.0 / n)
        beta = _nnls_weights(Z, S, alpha, gamma)
        if max_iter > 0:
            Z, beta = _refine(Z, beta, S, alpha, gamma, max_iter)
            beta = _nnls_weights(Z, S, alpha, gamma)
        return cls(Z=Z * scale + center, beta=beta, center=center, scale=scale, n=n, gamma=gamma,
                   fit_mmd2=_approximation_error(Z, beta, S, gamma, seed, min(init_sample, ERROR_SAMPLE)))

    # ------------------------------------------------------------------ frames
    @property
    def n_features(self) -> int:
        return int(self.Z.shape[1])

    def standardized_points(self, scale: np.ndarray | None = None) -> np.ndarray:
        """Reduced set divided by ``scale`` (default: the spec's own scale).

        Centring is omitted: the Gaussian kernel is shift invariant.
        """
        return self.Z / (self.scale if scale is None else scale)

    def mmd2_to_data(self, X: np.ndarray) -> float:
        """Squared MMD between this RKME and the empirical KME of ``X`` in the spec's frame."""
        X = check_finite_matrix(X)
        S = (X - self.center) / self.scale
        Zs = (self.Z - self.center) / self.scale
        return float(weighted_mmd2(Zs, self.beta, S, np.full(len(S), 1.0 / len(S)), self.gamma))

    def embedding(
        self,
        dim: int = 256,
        seed: int = 0,
        scale: np.ndarray | None = None,
        gamma: float | None = None,
    ) -> np.ndarray:
        """Random-Fourier-feature image of the RKME: ``sum_j beta_j phi(z_j)``.

        ``||e(P) - e(Q)||^2`` approximates ``MMD^2(P, Q)`` when both use the same frame,
        ``gamma``, ``dim`` and ``seed``.
        """
        pts = self.standardized_points(scale)
        phi = random_fourier_features(pts, self.gamma if gamma is None else gamma, dim, seed)
        return self.beta @ phi

    # ------------------------------------------------------------------ io
    def save(self, path: str | Path) -> None:
        np.savez(
            path,
            Z=self.Z,
            beta=self.beta,
            center=self.center,
            scale=self.scale,
            n=np.int64(self.n),
            gamma=np.float64(self.gamma),
            **({} if self.fit_mmd2 is None else {"fit_mmd2": np.float64(self.fit_mmd2)}),
        )

    @classmethod
    def load(cls, path: str | Path) -> RKMESpec:
        """Read a spec written by :meth:`save`; every ``.npy`` header is checked against the
        limits (module doc) before its data is read, so a hostile file raises :class:`SpecError`
        without a large allocation."""
        arrays = read_npz(path, _NPZ_MEMBERS, SpecError, max_bytes=MAX_SPEC_FILE_BYTES)
        spec = cls(
            Z=arrays["Z"].astype(np.float64),
            beta=arrays["beta"].astype(np.float64),
            center=arrays["center"].astype(np.float64),
            scale=arrays["scale"].astype(np.float64),
            n=int(arrays["n"]),
            gamma=float(arrays["gamma"]),
            fit_mmd2=float(arrays["fit_mmd2"]) if "fit_mmd2" in arrays else None,
        )
        spec.validate()
        return spec

    def validate(self) -> None:
        """Raise :class:`SpecError` unless every field is within the limits of the module doc."""
        problems = _shape_problems(self)
        if not problems:
            problems = _value_problems(self)
        if problems:
            raise SpecError("invalid RKME spec: " + "; ".join(problems)
                            + ". Refit it with RKMESpec.fit on the model's training rows.")


_NPZ_MEMBERS = {
    "Z": NpzMember("f", 2, MAX_SPEC_VALUES),
    "beta": NpzMember("f", 1, MAX_REDUCED_POINTS),
    "center": NpzMember("f", 1, MAX_FEATURES),
    "scale": NpzMember("f", 1, MAX_FEATURES),
    "n": NpzMember("iu", 0, 1),
    "gamma": NpzMember("f", 0, 1),
    "fit_mmd2": NpzMember("f", 0, 1, required=False),
}


def _shape_problems(spec: RKMESpec) -> list[str]:
    """Types and shapes: real floating arrays of consistent, bounded sizes."""
    arrays = {"Z": spec.Z, "beta": spec.beta, "center": spec.center, "scale": spec.scale}
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            return [f"{name} must be a real floating array, got {getattr(a, 'dtype', type(a).__name__)}"]
    if spec.Z.ndim != 2 or 0 in spec.Z.shape:
        return [f"Z must be 2-D and non-empty, got shape {spec.Z.shape}"]
    m, d = spec.Z.shape
    problems = []
    if m > MAX_REDUCED_POINTS or d > MAX_FEATURES or m * d > MAX_SPEC_VALUES:
        problems.append(f"Z has shape {spec.Z.shape}; the limits are {MAX_REDUCED_POINTS} points, "
                        f"{MAX_FEATURES} features and {MAX_SPEC_VALUES} values")
    if spec.beta.shape != (m,):
        problems.append(f"beta shape {spec.beta.shape} != ({m},)")
    if spec.center.shape != (d,) or spec.scale.shape != (d,):
        problems.append(f"center/scale must have shape ({d},), got {spec.center.shape} and {spec.scale.shape}")
    return problems


def _value_problems(spec: RKMESpec) -> list[str]:
    """Values: finite and within the documented ranges (module doc, "Limits")."""
    if not all(np.isfinite(a).all() for a in (spec.Z, spec.beta, spec.center, spec.scale)):
        return ["Z, beta, center and scale must be finite (no NaN or inf)"]
    problems = []
    n, gamma, fit = spec.n, spec.gamma, spec.fit_mmd2
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_ROWS:
        problems.append(f"n must be an integer in [1, {MAX_ROWS}], got {n!r}")
    elif n < len(spec.Z):
        problems.append(f"n = {n} rows cannot have {len(spec.Z)} reduced-set points (m <= n)")
    if not (isinstance(gamma, float) and MIN_GAMMA <= gamma <= MAX_GAMMA):
        problems.append(f"gamma must be a float in [{MIN_GAMMA}, {MAX_GAMMA}], got {gamma!r}")
    total = float(spec.beta.sum())
    if (spec.beta < 0).any() or not 0 < total <= MAX_BETA_SUM:
        problems.append(f"beta must be >= 0 with a sum in (0, {MAX_BETA_SUM}], got sum {total:.6g}")
    if fit is not None and not (isinstance(fit, float) and 0 <= fit <= total**2 + 1):
        problems.append(f"fit_mmd2 must be in [0, sum(beta)^2 + 1 = {total**2 + 1:.6g}], got {fit!r}")
    if np.abs(spec.center).max() > MAX_ABS_VALUE:
        problems.append(f"center entries must be within +-{MAX_ABS_VALUE:g}")
    if not ((spec.scale > MIN_SCALE) & (spec.scale <= MAX_ABS_VALUE)).all():
        problems.append(f"scale entries must be in ({MIN_SCALE:g}, {MAX_ABS_VALUE:g}]")
    elif np.abs((spec.Z - spec.center) / spec.scale).max() > MAX_STANDARDISED:
        problems.append(f"Z must lie within {MAX_STANDARDISED:g} scales of center")
    return problems


# ---------------------------------------------------------------------- optimisation helpers
def _kmeans_init(S: np.ndarray, m: int, seed: int, init_sample: int) -> np.ndarray:
    """Centres of the k-means clusters (``m`` requested) that hold at least
    :data:`MIN_ROWS_PER_POINT` rows, so no reduced-set point is a row verbatim (a one-row cluster's
    centre is that row); the mean of all rows when no cluster is that large.

    scipy's ``kmeans2`` (Lloyd, ``m`` seeded random rows as initial centres, :data:`KMEANS_ITER`
    iterations) rather than scikit-learn's ``KMeans``: the same algorithm and, on Beijing
    air-quality stations, the same fit error after NNLS (mean MMD^2 7.8e-5 vs 7.7e-5 over 12
    specs of 3,000 rows, m = 100), without importing scikit-learn on a search's path (about
    1.3 s of a new process's start)."""
    rng = np.random.default_rng(seed)
    rows = S if len(S) <= init_sample else S[rng.choice(len(S), init_sample, replace=False)]
    with warnings.catch_warnings():  # an empty cluster keeps its centre; it is dropped below
        warnings.simplefilter("ignore", UserWarning)
        centres, labels = kmeans2(rows, m, iter=KMEANS_ITER, minit="points", rng=rng)
    sizes = np.bincount(labels, minlength=m)
    if not np.any(sizes >= MIN_ROWS_PER_POINT):
        return rows.mean(axis=0, keepdims=True)
    return centres[sizes >= MIN_ROWS_PER_POINT].astype(np.float64)


def _nnls_weights(Z: np.ndarray, S: np.ndarray, alpha: np.ndarray, gamma: float) -> np.ndarray:
    """argmin_{beta>=0} beta'Kzz beta - 2 beta'Kzx alpha, via NNLS on the Cholesky factor."""
    Kzz = gaussian_kernel(Z, Z, gamma)
    c = gaussian_kernel(Z, S, gamma) @ alpha
    L, _ = cho_factor(Kzz + 1e-8 * np.eye(len(Z)), lower=True)
    L = np.tril(L)
    rhs = solve_triangular(L, c, lower=True)
    beta, _ = nnls(L.T, rhs, maxiter=50 * len(Z))
    return beta


def _approximation_error(Z: np.ndarray, beta: np.ndarray, S: np.ndarray, gamma: float, seed: int,
                         sample: int) -> float:
    """MMD^2 between ``(Z, beta)`` and the empirical KME of all rows of ``S``: exact up to
    ``sample`` rows; above, the MMD^2 to a seeded sample ``U`` of rows minus its expected excess
    ``V / |U| * (1 - |U| / n)`` (sampling without replacement; ``V = 1 - mean off-diagonal k`` on
    ``U``), so that the noisy kernel self-terms of ``U`` cancel instead of adding up."""
    n = len(S)
    if n <= sample:
        return weighted_mmd2(Z, beta, S, np.full(n, 1.0 / n), gamma)
    U = S[np.random.default_rng(seed).choice(n, sample, replace=False)]
    K = gaussian_kernel(U, U, gamma)
    V = 1.0 - (K.sum() - np.trace(K)) / (sample * (sample - 1))
    to_sample = beta @ gaussian_kernel(Z, Z, gamma) @ beta - 2.0 * beta @ (gaussian_kernel(Z, U, gamma).mean(axis=1)) + K.mean()
    return max(float(to_sample - V / sample * (1.0 - sample / n)), 0.0)


def weighted_mmd2(Z: np.ndarray, beta: np.ndarray, S: np.ndarray, alpha: np.ndarray, gamma: float) -> float:
    """Exact squared MMD between weighted point sets ``(Z, beta)`` and ``(S, alpha)``; O((m+n)^2 d)
    time, kernel blocks of at most 8192 columns in memory."""
    zz = beta @ gaussian_kernel(Z, Z, gamma) @ beta
    zx = beta @ _kernel_times(Z, S, alpha, gamma)
    xx = _self_term(S, alpha, gamma)
    return max(zz - 2.0 * zx + xx, 0.0)


def _kernel_times(Z, S, alpha, gamma, block: int = 8192) -> np.ndarray:
    """``K(Z, S) @ alpha`` in row blocks of S, never holding more than ``m x block``."""
    out = np.zeros(len(Z))
    for start in range(0, len(S), block):
        out += gaussian_kernel(Z, S[start : start + block], gamma) @ alpha[start : start + block]
    return out


def _self_term(S, alpha, gamma, block: int = 4096) -> float:
    """``alpha' K(S, S) alpha`` in blocks."""
    total = 0.0
    for start in range(0, len(S), block):
        total += alpha[start : start + block] @ _kernel_times(S[start : start + block], S, alpha, gamma)
    return float(total)


def _refine(Z, beta, S, alpha, gamma, max_iter):
    """Joint L-BFGS-B on (Z, beta) of the MMD^2 objective (data self-term dropped)."""
    m, d = Z.shape

    def objective(theta):
        Zc = theta[: m * d].reshape(m, d)
        b = theta[m * d :]
        Kzz = gaussian_kernel(Zc, Zc, gamma)
        Kzx = gaussian_kernel(Zc, S, gamma)  # (m, n)
        kza = Kzx @ alpha
        value = b @ Kzz @ b - 2.0 * b @ kza
        # d/dz_j: -4 gamma b_j [sum_l b_l K_jl (z_j - z_l) - sum_i a_i K_ji (z_j - x_i)]
        Wzz = Kzz * b[None, :]
        Wzx = Kzx * alpha[None, :]
        term_zz = Wzz.sum(1)[:, None] * Zc - Wzz @ Zc
        term_zx = Wzx.sum(1)[:, None] * Zc - Wzx @ S
        grad_z = -4.0 * gamma * b[:, None] * (term_zz - term_zx)
        grad_b = 2.0 * Kzz @ b - 2.0 * kza
        return value, np.concatenate([grad_z.ravel(), grad_b])

    theta0 = np.concatenate([Z.ravel(), beta])
    bounds = [(None, None)] * (m * d) + [(0.0, None)] * m
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": max_iter})
    return res.x[: m * d].reshape(m, d), res.x[m * d :]
