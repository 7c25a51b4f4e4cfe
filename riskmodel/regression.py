"""The daily cross-sectional factor-return regression: constrained weighted least squares (cne5-spec §6).

For one date, over the stocks in the regression (see ``RegressionResult.in_regression``)::

    min_f  Σ_n v_n (r_n − x_n' f)²   subject to   Σ_i w_i f_i = 0 over the industries

- ``x_n = [1, industry exposures (P), styles (Q)]``: column 0 is the Country factor, columns 1..P the
  industries, the rest the styles (``design_matrix`` builds it from industry codes).
- ``v_n`` are the regression weights the caller passes (the warehouse passes ``sqrt(total market cap)``).
- ``w_i = Σ_n c_n X_ni / Σ_n c_n`` is the cap weight of industry i over the stocks in the regression, ``c`` the
  total market caps the caller passes (spec §6.1). Only the direction of ``w`` matters.
- An industry without a stock of positive weight on the date is left out (its column and its constraint
  weight) and reported as NaN; the other factors are exactly those of the regression without it (spec §6.3).
  Industry exposures must be non-negative (0/1 dummies, or fractional memberships).

Two solvers give the same numbers (spec §6.2): ``constrained_wls`` by change of variables (the largest
industry is eliminated through the constraint) and ``constrained_wls_kkt`` through the bordered (KKT) system.

Standard errors assume ``Var(u_n) = s² / v_n`` (the premise of the weighting, spec §1.3):
``Var(f) = s² G`` with ``G = R (R'X'VXR)^-1 R'`` and ``s² = Σ v u² / (n − p)``, ``p = K_active − 1`` free
parameters; t-statistic ``f / se``. ``G X'V`` is the pure factor portfolio matrix H (``f = H r``).

Units: returns and factor returns are DAILY simple (excess) returns; nothing is annualized here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Smallest accepted ratio of the smallest to the largest squared Cholesky pivot of R'X'VXR.
RANK_TOLERANCE = 1e-13


class RankDeficientError(ValueError):
    """The regression has collinear factors on the date (for example a style that is constant)."""


@dataclass(frozen=True)
class RegressionResult:
    """The regression of one date.

    Attributes:
        factor_returns: (K,) daily factor returns; NaN for an industry without a stock in the regression.
        residuals: (N,) specific returns ``u = r − X f`` for every stock with a return and exposures (in the
            regression or not); NaN where the return or an exposure is missing or the stock is in an
            industry without factor return.
        r_squared: the regression-weighted uncentred R² ``1 − Σ v u² / Σ v r²`` (spec §6.3).
        standard_errors: (K,) standard errors of the factor returns (estimator in the module docstring).
        t_stats: (K,) ``factor_returns / standard_errors``.
        industry_weights: (P,) the constraint weights ``w_i`` (cap shares); 0 for an absent industry.
        in_regression: (N,) the stocks that entered the regression.
        dof: residual degrees of freedom ``n − p``.
        portfolios: (K, N) pure factor portfolios H (``f = H @ r`` over the stocks in the regression; the
            columns of the other stocks are 0, the rows of absent industries NaN); None unless requested.
    """

    factor_returns: FloatArray
    residuals: FloatArray
    r_squared: float
    standard_errors: FloatArray
    t_stats: FloatArray
    industry_weights: FloatArray
    in_regression: BoolArray
    dof: int
    portfolios: FloatArray | None = None


def design_matrix(industries: NDArray[np.integer], styles: FloatArray, n_industries: int) -> FloatArray:
    """The exposure matrix ``[1, industry dummies, styles]`` (N, 1 + P + Q).

    ``industries`` holds each stock's industry code in ``0..P−1`` (−1: no industry, an all-zero dummy row);
    ``styles`` is (N, Q).
    """
    industries = np.asarray(industries)
    styles = np.asarray(styles, dtype=np.float64).reshape(len(industries), -1)
    n_stocks = len(industries)
    if np.any(industries >= n_industries) or np.any(industries < -1):
        raise ValueError("industry codes must lie in -1..n_industries-1")
    dummies = np.zeros((n_stocks, n_industries))
    member = industries >= 0
    dummies[np.flatnonzero(member), industries[member]] = 1.0
    return np.column_stack([np.ones(n_stocks), dummies, styles])


@dataclass(frozen=True)
class _Problem:
    """The date's data restricted to the regression stocks and the active factors."""

    exposures: FloatArray  # (n, k) active columns, regression stocks
    returns: FloatArray  # (n,)
    weights: FloatArray  # (n,)
    active: BoolArray  # (K,)
    industry_weights: FloatArray  # (P,) w_i, 0 for absent industries
    constraint: FloatArray  # (k,) a with a'f = Σ w_i f_i over the active columns
    mask: BoolArray  # (N,)
    weighted: FloatArray  # (n, k) V X
    normal: FloatArray  # (k, k) X'VX
    moment: FloatArray  # (k,) X'Vr


def _prepare(
    returns: FloatArray, exposures: FloatArray, weights: FloatArray, caps: FloatArray, n_industries: int
) -> _Problem:
    returns = np.asarray(returns, dtype=np.float64)
    exposures = np.asarray(exposures, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    caps = np.asarray(caps, dtype=np.float64)
    n_stocks, n_factors = exposures.shape
    if not (returns.shape == weights.shape == caps.shape == (n_stocks,)):
        raise ValueError("returns, weights and caps must have one entry per row of exposures")
    if n_factors < 1 + n_industries:
        raise ValueError("exposures must hold the country column and the industry columns")
    with np.errstate(invalid="ignore"):
        # a NaN or inf anywhere in a row makes its sum non-finite
        mask = np.isfinite(returns + weights + caps + exposures.sum(axis=1)) & (weights > 0) & (caps >= 0)
    everyone = bool(mask.all())
    x = exposures if everyone else exposures[mask]
    v = weights if everyone else weights[mask]
    c = caps if everyone else caps[mask]
    r = returns if everyone else returns[mask]
    industries = slice(1, 1 + n_industries)
    present = (v @ x)[industries] > 0
    cap_total = c.sum()
    if n_industries and present.any() and not cap_total > 0:
        raise ValueError("the stocks in the regression have no market cap: no industry constraint")
    industry_weights = np.where(present, (c @ x)[industries] / (cap_total if cap_total > 0 else 1.0), 0.0)
    active = np.ones(n_factors, dtype=bool)
    active[industries] = present
    if not active.all():
        x = x[:, active]
    weighted = x * v[:, None]
    return _Problem(
        exposures=x,
        returns=r,
        weights=v,
        active=active,
        industry_weights=industry_weights,
        constraint=np.concatenate([[0.0], industry_weights[present], np.zeros(n_factors - 1 - n_industries)]),
        mask=mask,
        weighted=weighted,
        normal=weighted.T @ x,
        moment=weighted.T @ r,
    )


def _free_parameters(problem: _Problem) -> int:
    return problem.exposures.shape[1] - (1 if np.any(problem.constraint) else 0)


def _check_size(problem: _Problem) -> None:
    n, free = problem.exposures.shape[0], _free_parameters(problem)
    if n <= free:
        raise ValueError(f"{n} stocks in the regression for {free} free factor returns")


def constraint_matrix(a: FloatArray) -> FloatArray:
    """The K×(K−1) matrix R with ``a' R g = 0`` for every g, so ``f = R g`` meets the constraint (§6.2 (a)).

    The factor with the largest ``|a_k|`` is eliminated (dividing by a small weight is unstable): R is the
    identity on the other factors, and its row is ``−a_j / a_k``. With ``a = 0`` R is the K×K identity.
    """
    k = len(a)
    if not np.any(a):
        return np.eye(k)
    drop = int(np.argmax(np.abs(a)))
    keep = np.delete(np.arange(k), drop)
    r = np.zeros((k, k - 1))
    r[keep, np.arange(k - 1)] = 1.0
    r[drop] = -a[keep] / a[drop]
    return r


def _solve_change_of_variables(problem: _Problem) -> tuple[FloatArray, FloatArray]:
    """Factor returns (k,) and ``G = R (R'X'VXR)^-1 R'`` (k, k) by elimination."""
    r = constraint_matrix(problem.constraint)
    normal = r.T @ problem.normal @ r
    _check_rank(normal)
    g = np.linalg.solve(normal, r.T @ problem.moment)
    return r @ g, r @ np.linalg.inv(normal) @ r.T


def _check_rank(normal: FloatArray) -> None:
    try:
        pivots = np.diag(np.linalg.cholesky(normal)) ** 2
    except np.linalg.LinAlgError as error:
        raise RankDeficientError("the factor exposures are collinear on this date") from error
    if pivots.min() < RANK_TOLERANCE * pivots.max():
        raise RankDeficientError("the factor exposures are (nearly) collinear on this date")


def _solve_kkt(problem: _Problem) -> tuple[FloatArray, FloatArray]:
    """Factor returns (k,) and G (the top-left block of the inverse bordered matrix), spec §6.2 (b)."""
    k = problem.normal.shape[0]
    a = problem.constraint
    size = k + 1 if np.any(a) else k
    bordered = np.zeros((k + 1, k + 1))
    bordered[:k, :k] = problem.normal
    bordered[:k, k] = bordered[k, :k] = a
    bordered = bordered[:size, :size]
    if np.linalg.matrix_rank(bordered) < size:
        raise RankDeficientError("the bordered system is singular on this date")
    rhs = np.zeros(size)
    rhs[:k] = problem.moment
    solution = np.linalg.solve(bordered, rhs)
    return solution[:k], np.linalg.inv(bordered)[:k, :k]


def _finish(
    problem: _Problem,
    returns: FloatArray,
    exposures: FloatArray,
    f_active: FloatArray,
    g_active: FloatArray,
    portfolios: bool,
) -> RegressionResult:
    exposures = np.asarray(exposures, dtype=np.float64)
    returns = np.asarray(returns, dtype=np.float64)
    n_factors = exposures.shape[1]
    active = problem.active
    factor_returns = np.full(n_factors, np.nan)
    factor_returns[active] = f_active
    with np.errstate(invalid="ignore"):
        residuals = returns - exposures @ np.where(active, factor_returns, 0.0)
    if not active.all():
        residuals[np.any(exposures[:, ~active] != 0, axis=1)] = np.nan
    u = problem.returns - problem.exposures @ f_active
    v = problem.weights
    dof = len(problem.returns) - _free_parameters(problem)
    s2 = float(v @ (u * u)) / dof
    se_active = np.sqrt(np.maximum(np.diag(g_active), 0.0) * s2)
    standard_errors = np.full(n_factors, np.nan)
    standard_errors[active] = se_active
    with np.errstate(invalid="ignore", divide="ignore"):
        t_stats = factor_returns / standard_errors
    total = float(v @ (problem.returns**2))
    r_squared = 1.0 - float(v @ (u * u)) / total if total > 0 else np.nan
    h = _portfolios(problem, g_active) if portfolios else None
    return RegressionResult(
        factor_returns=factor_returns,
        residuals=residuals,
        r_squared=r_squared,
        standard_errors=standard_errors,
        t_stats=t_stats,
        industry_weights=problem.industry_weights,
        in_regression=problem.mask,
        dof=dof,
        portfolios=h,
    )


def _portfolios(problem: _Problem, g_active: FloatArray) -> FloatArray:
    """H = G X'V on the regression stocks, 0 on the others, NaN rows for absent industries."""
    h_active = g_active @ problem.weighted.T
    if problem.active.all() and problem.mask.all():
        return h_active
    h = np.full((len(problem.active), len(problem.mask)), np.nan)
    h[problem.active] = 0.0
    h[np.ix_(problem.active, problem.mask)] = h_active
    return h


def constrained_wls(
    returns: FloatArray,
    exposures: FloatArray,
    weights: FloatArray,
    caps: FloatArray,
    n_industries: int,
    *,
    portfolios: bool = False,
) -> RegressionResult:
    """One date's constrained WLS by change of variables (spec §6.2 (a)); see the module docstring.

    Args:
        returns: (N,) daily excess returns; NaN leaves the stock out of the regression.
        exposures: (N, K) ``[1, industries (P), styles]`` (``design_matrix``); a row with a NaN is left out.
        weights: (N,) regression weights v (``sqrt(cap)``); a stock with ``v <= 0`` or NaN is left out.
        caps: (N,) total market caps c for the industry constraint weights (NaN or negative: left out).
        n_industries: P, the number of industry columns after the country column.
        portfolios: also return the pure factor portfolios H (costs one (K, N) product more).

    Raises:
        RankDeficientError: the exposures of the active factors are collinear on the date.
        ValueError: fewer stocks than free parameters, or inconsistent shapes.
    """
    problem = _prepare(returns, exposures, weights, caps, n_industries)
    _check_size(problem)
    f_active, g_active = _solve_change_of_variables(problem)
    return _finish(problem, returns, exposures, f_active, g_active, portfolios)


def constrained_wls_kkt(
    returns: FloatArray,
    exposures: FloatArray,
    weights: FloatArray,
    caps: FloatArray,
    n_industries: int,
    *,
    portfolios: bool = False,
) -> RegressionResult:
    """The same regression as ``constrained_wls`` solved through the bordered KKT system (spec §6.2 (b)).

    ``[[X'VX, a], [a', 0]] [f; μ] = [X'Vr; 0]`` with ``a = (0, w_1..w_P, 0..0)``, solved with ``solve`` after
    an explicit rank check. Slower than the change of variables; kept as an independent check.
    """
    problem = _prepare(returns, exposures, weights, caps, n_industries)
    _check_size(problem)
    f_active, g_active = _solve_kkt(problem)
    return _finish(problem, returns, exposures, f_active, g_active, portfolios)
