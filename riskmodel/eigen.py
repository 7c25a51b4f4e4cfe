"""Eigenfactor risk adjustment (cne5-spec §7.3; USE4 §4.2 and Appendix B).

For a covariance ``F0 = U0 D0 U0'`` (eigenvalues ascending), M simulated histories ``b_m`` with independent
eigenfactor returns ``N(0, D0(k))`` are estimated with the covariance estimator, ``F_m = U_m D_m U_m'``, and

    v(k) = sqrt( mean_m  D̃_m(k) / D_m(k) ),   D̃_m = diag(U_m' D0 U_m)          (U4 eq. B7)

is the simulated volatility bias of the k-th eigenfactor; ``F_eigen = U0 diag(v² D0) U0'`` (eq. B9–B10).
Optionally ``v_S = a (v_P − 1) + 1`` with ``v_P`` a parabola fitted to v over the eigenfactors after the first
``skip`` (eq. B8); USE4 describes it but ships B7 (a = 1, no parabola), which is the default.

Implementation [CHOICE]:

- The simulation estimator is the EWMA + Newey-West estimator of the correlation part of the covariance
  (correlation half-life and lags, same window: ``simulate_unit_covariances``). That estimator is linear in
  the outer products of the returns, hence rotation-equivariant, so the simulation can run in the eigenbasis
  (the rotation by U0 cancels), and v depends on F0 only through its eigenvalues.
- It is also quadratic in the returns, so a history ``b_m = z_m sqrt(D0)`` (``z_m`` standard normal) gives
  ``F_m = S Z_m S`` with ``S = diag(sqrt(D0))`` and ``Z_m`` the estimate from ``z_m``. The ``Z_m`` are drawn once
  from the seed (``simulate_unit_covariances``) and reused for every date (common random numbers): per date the
  cost is M eigendecompositions of a K×K matrix, and v(k) moves smoothly from date to date instead of with
  fresh simulation noise. The same seed gives bit-identical results.
- Factors with NaN rows (inactive on the date) are left out; the adjustment works on the finite block, with
  the matching block of each ``Z_m`` (which is the estimate from the same draws for those factors).

Units: the adjustment is scale-free (v depends on the eigenvalues only up to scale); the covariance keeps
the units it came in (DAILY in this package).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskmodel.ewma import bartlett_weights, exponential_weights

FloatArray = NDArray[np.float64]
Seed = int | Sequence[int] | np.random.SeedSequence | np.random.Generator

_CHUNK = 100  # simulated histories drawn at once (memory: CHUNK x window x K doubles)


def batched_newey_west(samples: FloatArray, half_life: float, lags: int) -> FloatArray:
    """The EWMA + Newey-West covariance of each complete sample in ``samples`` (M, T, K) -> (M, K, K).

    The estimator of ``riskmodel.ewma.lagged_moments`` + ``newey_west`` on data without missing values
    (weights of the later row of each lag pair, normalized over the pairs; weighted-mean demeaning).
    """
    n_rows = samples.shape[1]
    weights = exponential_weights(n_rows, half_life, normalize=False)
    mean = np.einsum("t,mtk->mk", weights, samples) / weights.sum()
    centred = samples - mean[:, None, :]
    gammas = []
    for lag in range(lags + 1):
        w = weights[lag:]
        early = centred[:, : n_rows - lag] * (w / w.sum())[None, :, None]
        gammas.append(early.transpose(0, 2, 1) @ centred[:, lag:])
    estimate = gammas[0]
    for lag, weight in enumerate(bartlett_weights(lags), start=1):
        estimate = estimate + weight * (gammas[lag] + gammas[lag].transpose(0, 2, 1))
    return estimate


def simulate_unit_covariances(
    n_factors: int, n_sims: int, window: int, half_life: float, lags: int, seed: Seed
) -> FloatArray:
    """``Z_m`` (M, K, K): the estimator applied to M standard-normal histories of ``window`` rows.

    Draws are made in chunks of 100 histories from ``numpy.random.default_rng(seed)``; the result depends
    only on the arguments. Each ``Z_m`` is symmetrized.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n_sims, n_factors, n_factors))
    for start in range(0, n_sims, _CHUNK):
        stop = min(start + _CHUNK, n_sims)
        z = rng.standard_normal((stop - start, window, n_factors))
        estimate = batched_newey_west(z, half_life, lags)
        out[start:stop] = 0.5 * (estimate + estimate.transpose(0, 2, 1))
    return out


def eigenfactor_bias(eigenvalues: FloatArray, unit_covariances: FloatArray) -> FloatArray:
    """v(k) of eq. B7 for the eigenvalues D0 (K,) in ascending order, from the simulated ``Z_m`` (M, K, K).

    ``F_m = S Z_m S``, ``S = diag(sqrt(D0 / max D0))``; ``v(k)² = mean_m (U_m' D0 U_m)_kk / D_m(k)``.
    """
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    relative = np.maximum(eigenvalues / eigenvalues.max(), 0.0)
    root = np.sqrt(relative)
    simulated = unit_covariances * root[None, :, None] * root[None, None, :]
    sim_values, sim_vectors = np.linalg.eigh(simulated)
    true_values = np.einsum("mjk,j->mk", sim_vectors**2, relative)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = true_values / sim_values
    return np.sqrt(np.mean(ratio, axis=0))


def scale_bias(bias: FloatArray, scale: float = 1.0, *, parabola: bool = False, skip: int = 15) -> FloatArray:
    """``a (v_P − 1) + 1`` (eq. B8); ``v_P`` is v, or with ``parabola`` the least-squares parabola in k fitted to
    v over the eigenfactors ``skip..K−1`` (0-based, ascending eigenvalues) and evaluated at every k.
    """
    bias = np.asarray(bias, dtype=np.float64)
    fitted = bias
    if parabola:
        k = np.arange(len(bias), dtype=np.float64)
        if len(bias) - skip < 3:
            raise ValueError("a parabola needs at least three eigenfactors after the skipped ones")
        fitted = np.polyval(np.polyfit(k[skip:], bias[skip:], 2), k)
    return scale * (fitted - 1.0) + 1.0


@dataclass(frozen=True)
class EigenAdjustment:
    """``covariance`` (K, K) eigen-adjusted (NaN rows kept); ``bias`` v(k) (K_active,) as applied, ascending
    eigenvalue order; ``eigenvalues`` D0 (K_active,) ascending; ``active`` (K,) the factors adjusted."""

    covariance: FloatArray
    bias: FloatArray
    eigenvalues: FloatArray
    active: NDArray[np.bool_]


def active_factors(covariance: FloatArray) -> NDArray[np.bool_]:
    """Factors with a finite variance on the date."""
    return np.isfinite(np.diag(covariance))


def eigen_adjust(
    covariance: FloatArray,
    unit_covariances: FloatArray | None = None,
    *,
    bias: FloatArray | None = None,
    scale: float = 1.0,
    parabola: bool = False,
    skip: int = 15,
) -> EigenAdjustment:
    """The eigen-adjusted covariance ``U0 diag(v² D0) U0'`` (eq. B9–B10) of ``covariance`` (K, K).

    Either ``unit_covariances`` (from ``simulate_unit_covariances`` with K factors) to simulate v (then
    ``scale_bias`` with ``scale``, ``parabola``, ``skip``), or a ready ``bias`` (K_active,) to apply, for
    dates between two refreshes of v.
    """
    covariance = np.asarray(covariance, dtype=np.float64)
    active = active_factors(covariance)
    result = np.full(covariance.shape, np.nan)
    block = np.ix_(active, active)
    eigenvalues, vectors = np.linalg.eigh(covariance[block])
    if bias is None:
        if unit_covariances is None:
            raise ValueError("give unit_covariances (to simulate) or bias (to apply)")
        units = unit_covariances if active.all() else unit_covariances[:, block[0], block[1]]
        bias = scale_bias(eigenfactor_bias(eigenvalues, units), scale, parabola=parabola, skip=skip)
    bias = np.asarray(bias, dtype=np.float64)
    if bias.shape != eigenvalues.shape:
        raise ValueError("bias must have one entry per active factor")
    adjusted = (vectors * (bias**2 * eigenvalues)) @ vectors.T
    result[block] = 0.5 * (adjusted + adjusted.T)
    return EigenAdjustment(covariance=result, bias=bias, eigenvalues=eigenvalues, active=active)


@dataclass(frozen=True)
class EigenState:
    """The bias last simulated (``bias``) and the factors it was simulated for (``active``)."""

    bias: FloatArray
    active: NDArray[np.bool_]


def eigen_adjust_history(
    covariances: FloatArray,
    day_index: NDArray[np.integer],
    unit_covariances: FloatArray,
    *,
    refresh_days: int = 1,
    scale: float = 1.0,
    parabola: bool = False,
    skip: int = 15,
    state: EigenState | None = None,
) -> tuple[FloatArray, FloatArray, EigenState | None]:
    """Eigen-adjust every date of ``covariances`` (T, K, K); v(k) is simulated on refresh dates only.

    A date is a refresh date when ``day_index % refresh_days == 0`` (``day_index``: the trading-day index of
    each date, so the schedule does not depend on where a run starts), when no bias is known yet, or when the
    set of active factors changed since the last simulation. Other dates reuse the last v. Dates whose
    covariance is all NaN stay NaN. ``state`` resumes a previous call (bit-identical to one call).

    Returns ``(adjusted (T, K, K), bias (T, K), state)``: ``bias[t, :K_active]`` is the v(k) applied on date t
    in ascending-eigenvalue order (NaN beyond the active factors).
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    n_dates, n_factors, _ = covariances.shape
    adjusted = np.full(covariances.shape, np.nan)
    biases = np.full((n_dates, n_factors), np.nan)
    for t in range(n_dates):
        active = active_factors(covariances[t])
        if not active.any():
            continue
        refresh = state is None or int(day_index[t]) % refresh_days == 0 or not np.array_equal(state.active, active)
        if refresh:
            result = eigen_adjust(covariances[t], unit_covariances, scale=scale, parabola=parabola, skip=skip)
            state = EigenState(bias=result.bias, active=active)
        else:
            assert state is not None
            result = eigen_adjust(covariances[t], bias=state.bias)
        adjusted[t] = result.covariance
        biases[t, : len(result.bias)] = result.bias
    return adjusted, biases, state
