"""Parameter presets of the risk model, as frozen dataclasses.

Every half-life and window is in trading days; every kernel works in DAILY units.

Presets (cne5-spec §7.2 and §8.5; MSCI published no CNE5 covariance or specific-risk parameters):

- ``CHINA_REPLICATION`` (the default, ``DEFAULT``): the set Chinese replications commonly use: half-life 90
  for volatility, correlation and specific volatility, a 252-observation window, Newey-West lags 2 for the
  factors, factor and specific VRA half-life 42 [spec §7.2 row "Common China replication"; §8.5: specific NW
  lags 5, q = 0.1]. Filled here from the spec where that row is silent [CHOICE]: specific NW autocorrelation
  half-life 90 (the row has "–": one half-life), eigenfactor adjustment as USE4 ships it (eq. B7, §7.3),
  252-day windows for specific risk and VRA.
- ``USE4S`` and ``USE4L``: MSCI's published USE4 values [U4 Table 4.1, Table 5.1; spec §7.2, §8.5], the
  spec's suggested starting points for CNE5S and CNE5L. Windows [CHOICE, DeepRiskModel]: the number of days
  holding 95% of the weight of the longest half-life involved (``mass_window``).

Why the China set is the default: the warehouse's risk JSON contract carries one ``half_life_days`` and one
``num_observations`` (the China set has exactly one of each; USE4S has two half-lives and no published window);
its 252-day window gives a covariance after one year of history, where USE4S's 504-day correlation half-life
needs about 2,178 days for 95% of its weight (longer than the demo market and many real histories); and it is
what the Chinese replications this warehouse is compared with use. ⚠ CONFLICT: spec §7.2 [CHOICE] suggests
starting CNE5S from USE4S; ``USE4S`` is one argument away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def mass_window(half_life: float, mass: float = 0.95) -> int:
    """Days holding ``mass`` of the total exponential weight: ``ceil(h · ln(1 − mass) / ln 0.5)`` (spec §3.1)."""
    return math.ceil(half_life * math.log(1.0 - mass) / math.log(0.5))


@dataclass(frozen=True)
class CovarianceParams:
    """Base factor covariance (spec §7.1–7.2).

    Attributes:
        vol_half_life, vol_lags: half-life and Newey-West lags of the factor volatilities.
        corr_half_life, corr_lags: half-life and Newey-West lags of the correlations.
        window: rows (trading days) in the estimation window.
        min_observations: a factor with fewer returns in the window is inactive (NaN) on the date [CHOICE:
            63 of 252, the warehouse's rule for its 252-day descriptors].
        psd_floor: eigenvalue floor of the correlation matrix repair [CHOICE: 1e-10, on the dimensionless
            correlation scale; about the spec's 1e-14 on a daily covariance].
    """

    vol_half_life: float
    vol_lags: int
    corr_half_life: float
    corr_lags: int
    window: int
    min_observations: int = 63
    psd_floor: float = 1e-10

    def __post_init__(self) -> None:
        if self.window <= max(self.vol_lags, self.corr_lags):
            raise ValueError("window must be longer than the Newey-West lags")
        if self.min_observations < 2:
            raise ValueError("min_observations must be at least 2")


@dataclass(frozen=True)
class EigenParams:
    """Eigenfactor risk adjustment (spec §7.3).

    Attributes:
        n_sims: M, simulated histories [CHOICE: 1000, spec "M >= 1000"].
        scale: a in ``v_S = a (v − 1) + 1``; 1.0 is the simulated adjustment USE4 ships (eq. B7) [U4 §4.2].
        parabola: fit a parabola to v(k) before scaling (eq. B8, described but not shipped by USE4).
        parabola_skip: eigenfactors (the smallest first) left out of the parabola fit (USE4: 15).
        seed: seed of the simulation; the same seed gives bit-identical results.
        refresh_days: recompute v(k) on dates whose trading-day index is a multiple of this and reuse it in
            between [CHOICE, spec §7.3 allows weekly: v(k) is stable; M eigendecompositions cost about 0.2 s].
    """

    n_sims: int = 1000
    scale: float = 1.0
    parabola: bool = False
    parabola_skip: int = 15
    seed: int = 20120701
    refresh_days: int = 21


@dataclass(frozen=True)
class VraParams:
    """Volatility regime adjustment (spec §7.4, §8.4): EWMA of the squared cross-sectional bias statistic.

    ``min_observations``: bias values needed before a multiplier is given (NaN before) [CHOICE: the
    half-life, as DeepRiskModel].
    """

    half_life: float
    window: int
    min_observations: int


@dataclass(frozen=True)
class SpecificParams:
    """Specific risk (spec §8).

    Attributes:
        half_life: half-life of the EWMA specific variance.
        nw_half_life, nw_lags: half-life and lags of the Newey-West autocovariances (spec §8.1).
        window: rows in the time-series window.
        min_observations: fewer specific returns in the window give no time-series volatility (NaN)
            [spec §3.1: DeepRiskModel requires 30].
        variance_floor: the Newey-West variance is floored at this fraction of the EWMA variance [CHOICE:
            negative autocovariances can push it below zero, spec §8.1; a fraction keeps the floor unit-free].
        blend_window: days over which γ counts specific returns (EUE3: 180).
        shrinkage_q: q of the Bayesian shrinkage (U4 Table 5.1: 0.1).
        size_groups: size groups of the shrinkage (deciles).
        e0: structural-model multiplier; None estimates it per date as the regression-weighted mean of
            ``σ_TS / exp(X b)`` over the γ = 1 stocks [CHOICE, DeepRiskModel; spec F2 expects E0 ≈ 1 on exact
            data, which a fixed 1.026 would miss].
        vra: the specific VRA (half-life equal to the factor VRA's, U4 §5.3).
    """

    half_life: float
    nw_half_life: float
    nw_lags: int
    window: int
    vra: VraParams
    min_observations: int = 30
    variance_floor: float = 0.01
    blend_window: int = 180
    shrinkage_q: float = 0.1
    size_groups: int = 10
    e0: float | None = None


@dataclass(frozen=True)
class RiskModelParams:
    """One complete parameter set (``name`` is what the risk JSON reports).

    ``horizon_days``: the forecast horizon of the model, used only by the explicit scaling in
    ``riskmodel.units`` [CHOICE: 21 days for one month, spec §7.1 step 5]; ``annualization_days``: 252.
    """

    name: str
    covariance: CovarianceParams
    factor_vra: VraParams
    specific: SpecificParams
    eigen: EigenParams = field(default_factory=EigenParams)
    horizon_days: int = 21
    annualization_days: int = 252


CHINA_REPLICATION = RiskModelParams(
    name="china_replication",
    covariance=CovarianceParams(vol_half_life=90, vol_lags=2, corr_half_life=90, corr_lags=2, window=252),
    factor_vra=VraParams(half_life=42, window=252, min_observations=42),
    specific=SpecificParams(
        half_life=90,
        nw_half_life=90,
        nw_lags=5,
        window=252,
        vra=VraParams(half_life=42, window=252, min_observations=42),
    ),
)

USE4S = RiskModelParams(
    name="use4s",
    covariance=CovarianceParams(vol_half_life=84, vol_lags=5, corr_half_life=504, corr_lags=2, window=mass_window(504)),
    factor_vra=VraParams(half_life=42, window=mass_window(42), min_observations=42),
    specific=SpecificParams(
        half_life=84,
        nw_half_life=252,
        nw_lags=5,
        window=mass_window(252),
        vra=VraParams(half_life=42, window=mass_window(42), min_observations=42),
    ),
)

USE4L = RiskModelParams(
    name="use4l",
    covariance=CovarianceParams(
        vol_half_life=252, vol_lags=5, corr_half_life=504, corr_lags=2, window=mass_window(504)
    ),
    factor_vra=VraParams(half_life=168, window=mass_window(168), min_observations=168),
    specific=SpecificParams(
        half_life=252,
        nw_half_life=252,
        nw_lags=5,
        window=mass_window(252),
        vra=VraParams(half_life=168, window=mass_window(168), min_observations=168),
    ),
)

DEFAULT = CHINA_REPLICATION

PRESETS: dict[str, RiskModelParams] = {p.name: p for p in (CHINA_REPLICATION, USE4S, USE4L)}
