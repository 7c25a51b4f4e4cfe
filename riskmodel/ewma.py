"""Exponential weights and exponentially weighted, lagged (Newey-West) moments over a trailing window.

Conventions (cne5-spec §3.1, §7.1, §8.1):

- The weight of the observation ``j`` rows before the newest one (lag ``j``) is ``λ^j`` with
  ``λ = 0.5^(1/h)``, ``h`` the half-life in rows (trading days); ``h = inf`` gives equal weights.
- A window holds the last ``window`` rows. A missing value (NaN) is dropped and the remaining weights are
  renormalized, per column (per pair of columns for cross moments).
- The lag-Δ autocovariance at the newest row ``t`` is
  ``Γ_Δ[i, j] = Σ_s w_s (x_i,s-Δ − m_i)(x_j,s − m_j) / Σ_s w_s`` over the rows ``s`` whose pair
  ``(s − Δ, s)`` lies inside the window with both values present; ``w_s = λ^(t−s)`` is the weight of the
  later row of the pair and ``m`` the weighted mean of the whole window (the estimator of DeepRiskModel's
  ``weighted_cov(lags=Δ)``). The mean is subtracted and no small-sample correction is applied.
- Newey-West with Bartlett weights: ``Γ_0 + Σ_{Δ=1..L} (1 − Δ/(L+1)) (Γ_Δ + Γ_Δ')``.

Two implementations of the same numbers:

- ``lagged_moments`` computes them at one date directly from the window (the reference).
- ``EwmaMoments`` carries exponentially weighted sums from row to row, so a whole history costs
  O(T · L · n) (O(T · L · n²) for cross moments) instead of O(T · window · ...). Its ``state()`` can be
  stored and handed back later: a run resumed from the state of row t gives, bit for bit, the rows a
  single run would have given.

Units: whatever the input is in. For daily returns every variance here is a DAILY variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def decay(half_life: float) -> float:
    """The per-row decay ``λ = 0.5^(1/h)`` of a half-life ``h`` in rows (spec §3.1); ``h = inf`` gives 1."""
    if not half_life > 0:
        raise ValueError(f"half_life must be positive, got {half_life}")
    return float(0.5 ** (1.0 / half_life))


def exponential_weights(length: int, half_life: float, *, normalize: bool = True) -> FloatArray:
    """Weights of a window of ``length`` rows in chronological order (the last entry is lag 0).

    ``w[-1 - j] = λ^j`` before normalization, so ``w[-1 - h] / w[-1] = 0.5``. With ``normalize`` the weights
    sum to 1 (spec §3.1). This is the weighting of ``pandas.Series.ewm(halflife=h, adjust=True)``.
    """
    if length < 0:
        raise ValueError("length must be >= 0")
    weights = decay(half_life) ** np.arange(length - 1, -1, -1, dtype=np.float64)
    return weights / weights.sum() if normalize and length else weights


def bartlett_weights(lags: int) -> FloatArray:
    """Bartlett weights ``1 − Δ/(L+1)`` for Δ = 1..L (spec §7.1)."""
    return 1.0 - np.arange(1, lags + 1, dtype=np.float64) / (lags + 1)


def newey_west(gammas: FloatArray, *, cross: bool) -> FloatArray:
    """Combine autocovariances ``Γ_0..Γ_L`` (stacked on axis 0) into the Bartlett Newey-West estimate.

    Cross moments ``(L+1, n, n)`` give ``Γ_0 + Σ b_Δ (Γ_Δ + Γ_Δ')``; per-column moments ``(L+1, n)`` give
    ``Γ_0 + 2 Σ b_Δ Γ_Δ``.
    """
    return gammas[0] + serial_correction(gammas, cross=cross)


def serial_correction(gammas: FloatArray, *, cross: bool) -> FloatArray:
    """The Newey-West lag terms alone: ``Σ_{Δ≥1} b_Δ (Γ_Δ + Γ_Δ')`` (cross) or ``2 Σ b_Δ Γ_Δ``."""
    lags = gammas.shape[0] - 1
    if lags == 0:
        return np.zeros_like(gammas[0])
    # elementwise, lag by lag: a BLAS contraction (tensordot) rounds a column differently depending on its
    # position in the array and the array's width, and the warehouse needs the same bits for a stock
    # whichever other stocks a build loads
    weights = bartlett_weights(lags)
    weighted = weights[0] * gammas[1]
    for weight, gamma in zip(weights[1:], gammas[2:], strict=True):
        weighted = weighted + weight * gamma
    return weighted + weighted.T if cross else 2.0 * weighted


@dataclass(frozen=True)
class Moments:
    """Weighted moments at one date.

    ``mean`` (n,), ``gammas`` (L+1, n) or (L+1, n, n) with ``Γ_Δ`` as in the module docstring (0 where no
    pair of values exists), ``counts`` (n,) the number of values present in the window.
    """

    mean: FloatArray
    gammas: FloatArray
    counts: IntArray


def lagged_moments(x: FloatArray, half_life: float, lags: int, *, cross: bool = False) -> Moments:
    """Weighted mean and lag-0..L autocovariances of the window ``x`` (T rows, newest last), directly.

    ``x`` is (T, n); every row is in the window (slice it first). ``cross`` computes the (n, n) cross
    autocovariances, otherwise one per column. NaN values are dropped and the weights renormalized (per pair).
    """
    x = np.asarray(x, dtype=np.float64)
    n_rows = x.shape[0]
    weights = exponential_weights(n_rows, half_life, normalize=False)
    valid = np.isfinite(x)
    validf = valid.astype(np.float64)
    weight_sum = weights @ validf
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weights @ np.where(valid, x, 0.0)) / weight_sum
    centred = np.where(valid, x - mean, 0.0)
    gammas = []
    for lag in range(lags + 1):
        shift = min(lag, n_rows)  # a lag beyond the window has no pair: its moments are 0
        early, late, w = centred[: n_rows - shift], centred[shift:], weights[shift:]
        v_early, v_late = validf[: n_rows - shift], validf[shift:]
        if cross:
            numerator = (early * w[:, None]).T @ late
            denominator = (v_early * w[:, None]).T @ v_late
        else:
            numerator = w @ (early * late)
            denominator = w @ (v_early * v_late)
        with np.errstate(invalid="ignore", divide="ignore"):
            gammas.append(np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0))
    return Moments(mean=mean, gammas=np.stack(gammas), counts=valid.sum(axis=0).astype(np.int64))


@dataclass(frozen=True)
class MomentState:
    """What ``EwmaMoments`` carries from one row to the next (store it to resume a history later).

    ``tail`` holds the last ``min(rows, window)`` input rows (oldest first, NaN kept). ``sums`` stacks the
    exponentially weighted sums P, A, B, W per lag (axis 0 of length 4, then the lag axis, then the column
    axes): ``P = Σ w x_lagged x``, ``A = Σ w x_lagged 1``, ``B = Σ w 1_lagged x``, ``W = Σ w 1_lagged 1`` over
    the pairs in the window, missing values counting as 0 and ``1`` marking a value present. ``counts`` is the
    number of values present per column in the window. ``rows`` is the number of rows pushed so far.
    All arrays can be written with ``numpy.savez(**dataclasses.asdict(state))``.
    """

    half_life: float
    window: int
    lags: int
    cross: bool
    rows: int
    tail: FloatArray
    sums: FloatArray
    counts: IntArray

    @classmethod
    def empty(cls, n_columns: int, half_life: float, window: int, lags: int, *, cross: bool = False) -> MomentState:
        """The state before any row: zero sums, empty tail."""
        if window <= lags:
            raise ValueError("window must be longer than lags")
        shape = (4, lags + 1, n_columns, n_columns) if cross else (4, lags + 1, n_columns)
        return cls(
            half_life=float(half_life),
            window=int(window),
            lags=int(lags),
            cross=bool(cross),
            rows=0,
            tail=np.empty((0, n_columns)),
            sums=np.zeros(shape),
            counts=np.zeros(n_columns, dtype=np.int64),
        )

    def with_columns(self, n_columns: int) -> MomentState:
        """The same state with empty columns appended up to ``n_columns`` (a stock that lists later).

        Only for per-column states: a new column behaves as if all its past values were missing.
        """
        if self.cross:
            raise ValueError("cross-moment states have a fixed set of columns")
        extra = n_columns - self.counts.shape[0]
        if extra < 0:
            raise ValueError("cannot remove columns")
        return MomentState(
            half_life=self.half_life,
            window=self.window,
            lags=self.lags,
            cross=False,
            rows=self.rows,
            tail=np.pad(self.tail, ((0, 0), (0, extra)), constant_values=np.nan),
            sums=np.pad(self.sums, ((0, 0), (0, 0), (0, extra))),
            counts=np.pad(self.counts, (0, extra)),
        )


class EwmaMoments:
    """A running version of ``lagged_moments`` over a trailing window: push rows, read moments.

    Each ``push`` updates the weighted sums by ``S ← λ S + (new pair terms) − λ^(window−Δ) (leaving pair
    terms)``; the moments are read from the sums (``Γ = (P − A m' − m B' + W m m') / W``, elementwise per
    pair). Equal to ``lagged_moments`` on the same window to rounding (about 1e-14 relative); the error does
    not grow with the length of the history because old rounding decays with λ.
    """

    def __init__(self, state: MomentState) -> None:
        self._half_life = state.half_life
        self._window = state.window
        self._lags = state.lags
        self._cross = state.cross
        self._rows = state.rows
        self._sums = state.sums.copy()
        self._counts = state.counts.copy()
        # ring buffer of the last `window` rows: row r sits in slot r % window; never-written slots are NaN
        self._buffer = np.full((state.window, state.counts.shape[0]), np.nan)
        first = state.rows - len(state.tail)
        self._buffer[(first + np.arange(len(state.tail))) % state.window] = state.tail
        self._lag_offsets = np.arange(state.lags + 1)
        lam = decay(state.half_life)
        self._lambda = lam
        # weight, after the decay step, of the pair that leaves the window at each lag
        self._leaving = -(lam ** (state.window - self._lag_offsets.astype(np.float64)))

    @property
    def rows(self) -> int:
        """Rows pushed so far (including those of the state it started from)."""
        return self._rows

    def push(self, row: FloatArray) -> None:
        """Add the next row (n,) of the history; the oldest row leaves the window once it is full.

        A lag reaching before the first row pairs with a missing value, which adds exactly 0.
        """
        row = np.asarray(row, dtype=np.float64)
        t, window, buffer = self._rows, self._window, self._buffer
        self._sums *= self._lambda
        # pairs (t - lag, t) enter the window; lag 0 pairs the row with itself
        lagged = np.concatenate([row[None], buffer[(t - self._lag_offsets[1:]) % window]])
        self._add_pairs(lagged, row[None], None)
        slot = t % window
        if t >= window:
            # pairs (t - window, t - window + lag) leave it; row t - window is in `slot`
            oldest = buffer[slot]
            self._add_pairs(oldest[None], buffer[(t + self._lag_offsets) % window], self._leaving)
            self._counts -= np.isfinite(oldest)
        buffer[slot] = row
        self._counts += np.isfinite(row)
        self._rows += 1

    def _add_pairs(self, early: FloatArray, late: FloatArray, factors: FloatArray | None) -> None:
        """Add the terms of the pairs (early[Δ], late[Δ]) to the sums of every lag Δ (rows broadcast),
        times ``factors[Δ]`` if given."""
        early_one, late_one = np.isfinite(early), np.isfinite(late)
        early_value, late_value = np.where(early_one, early, 0.0), np.where(late_one, late, 0.0)
        early_one = early_one.astype(np.float64)
        late_one = late_one.astype(np.float64)
        if factors is not None:
            early_value, early_one = early_value * factors[:, None], early_one * factors[:, None]
        if self._cross:
            early_value, early_one = early_value[:, :, None], early_one[:, :, None]
            late_value, late_one = late_value[:, None, :], late_one[:, None, :]
        sums = self._sums
        sums[0] += early_value * late_value
        sums[1] += early_value * late_one
        sums[2] += early_one * late_value
        sums[3] += early_one * late_one

    def moments(self) -> Moments:
        """The weighted mean and lag-0..L autocovariances of the current window (as ``lagged_moments``)."""
        products, lagged_sums, sums, weights = self._sums
        if self._cross:
            own_weight = np.diagonal(weights[0])
            own_sum = np.diagonal(lagged_sums[0])
        else:
            own_weight, own_sum = weights[0], lagged_sums[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = own_sum / own_weight
        m = np.where(own_weight > 0, mean, 0.0)
        if self._cross:
            numerator = products - lagged_sums * m[None, None, :] - m[None, :, None] * sums
            numerator += weights * np.outer(m, m)[None]
        else:
            numerator = products - lagged_sums * m - m * sums + weights * (m * m)
        positive = weights > 0
        gammas = np.where(positive, numerator / np.where(positive, weights, 1.0), 0.0)
        return Moments(mean=mean, gammas=gammas, counts=self._counts.copy())

    def state(self) -> MomentState:
        """A copy of the running state after the last pushed row."""
        kept = min(self._rows, self._window)
        tail = self._buffer[(self._rows - kept + np.arange(kept)) % self._window]
        return MomentState(
            half_life=self._half_life,
            window=self._window,
            lags=self._lags,
            cross=self._cross,
            rows=self._rows,
            tail=tail,
            sums=self._sums.copy(),
            counts=self._counts.copy(),
        )


def ewma_mean_history(
    x: FloatArray, half_life: float, window: int, *, state: MomentState | None = None
) -> tuple[FloatArray, IntArray, MomentState]:
    """Weighted mean of each column over the trailing window, at every row of ``x`` (T, n).

    Returns ``(mean (T, n), counts (T, n), state)``; the mean is NaN where a column has no value in the window.
    ``state`` resumes a previous call (``x`` then holds only the new rows).
    """
    x = np.asarray(x, dtype=np.float64)
    state = state or MomentState.empty(x.shape[1], half_life, window, 0)
    accumulator = EwmaMoments(state)
    means = np.empty(x.shape)
    counts = np.empty(x.shape, dtype=np.int64)
    for t, row in enumerate(x):
        accumulator.push(row)
        moments = accumulator.moments()
        means[t] = moments.mean
        counts[t] = moments.counts
    return means, counts, accumulator.state()
