"""The planted CNE5-style factor model: parameters, factor-return draws and exposure construction.

Daily excess return of stock n on day t:

    r_nt - rf = f_country,t + f_ind(n),t + sum_s X_ns,t-1 f_s,t + u_nt

with ``rf = (1 + RISK_FREE_ANNUAL) ** (1 / 252) - 1``, exposures ``X_{t-1}`` known at the previous close (a stock
that did not trade on t-1 uses its exposures and industry of its last trading day), industry returns
constrained by ``sum_i w_i f_i = 0`` with w the total-cap weights of the industries over the planted universe
(stocks trading) at t-1, and ``u_nt = regime_t * sigma_n * e_nt + p_nt`` where e is a unit-variance Student t
(5 dof) and p_nt is the residual of a slow pull that keeps prices in a sane range.

The pull is ``-SPECIFIC_REVERSION * s_n,t-1`` with s_n the stock's cumulative specific log return. Left in u,
it would leak into the factor returns a regression recovers (it correlates with momentum, volatility, book to
price...), so each day it is split by a √cap-weighted regression on the industry dummies and the style
exposures in use (``factor_projection``): the fitted part is added to the recorded factor returns (its
industry part split into country + industries so that the cap-weighted constraint still holds) and only the
residual, orthogonal to every exposure, enters u. The recorded factor returns therefore are the drawn ones plus
a small, slow component; the return equation holds exactly with the recorded values. Factor and specific
volatilities are multiplied by ``REGIME_MULTIPLIER`` inside the regime window.

Exposures (all cross-sectionally standardized per date over the stocks trading that day, by ``standardize``):

- size: ln(total market cap at the close, CNY);
- beta: the planted per-stock beta b_n (the beta style return is ``BETA_COUPLING * (f_country - mean) + noise``,
  so a stock's time-series beta on the cap-weighted market is about ``1 + BETA_COUPLING * X_beta``);
- momentum: exponentially weighted (half-life 126 rows) sum of the stock's excess log returns
  ``ln(1 + r) - ln(1 + rf)`` over its own trading rows 21..524 back (``MomentumState``);
- volatility: ln(sigma_n), orthogonalized on [1, beta, size];
- non_linear_size: size**3 orthogonalized on [1, size];
- book_to_price: BE / ME; earnings_yield: 0.11 ETOP (ttm_ni / ME) + 0.21 CETOP (ttm_cfo / ME), over 0.32;
  growth: 0.24 EGRO + 0.47 SGRO, over 0.71; leverage: 0.38 MLEV + 0.35 DTOA + 0.27 BLEV with
  MLEV = (ME + PE + LD) / ME, DTOA = (LD + current liabilities) / TA, BLEV = (BE + PE + LD) / BE
  (point-in-time statements, see pit.py);
- liquidity: ln(tau_n), the planted float turnover level, orthogonalized on [1, size].

Orthogonalizations are √cap-weighted least squares with an intercept. Composite styles: each descriptor is
standardized, the present ones are averaged with their weights rescaled, a stock with none gets 0, and the
result is standardized again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

RISK_FREE_ANNUAL = 0.015
RF_DAILY = (1.0 + RISK_FREE_ANNUAL) ** (1.0 / 252.0) - 1.0

STYLES = (
    "size",
    "beta",
    "momentum",
    "volatility",
    "non_linear_size",
    "book_to_price",
    "liquidity",
    "earnings_yield",
    "growth",
    "leverage",
)
S = {name: i for i, name in enumerate(STYLES)}

CLIP = 3.0
MOMENTUM_HALF_LIFE = 126
MOMENTUM_LAG = 21
MOMENTUM_WINDOW = 504
REGIME_MULTIPLIER = 1.8
REGIME_WINDOW = (0.60, 0.75)  # fractions of the history
BETA_COUPLING = 0.3
SPECIFIC_REVERSION = 0.003  # daily pull of the cumulative specific log return towards 0
COUNTRY_REVERSION = 0.001  # daily pull of the country's cumulative log return towards its trend
INDUSTRY_REVERSION = 0.002
T_DOF = 5

EARNINGS_YIELD_WEIGHTS = {"etop": 0.11, "cetop": 0.21}
GROWTH_WEIGHTS = {"egro": 0.24, "sgro": 0.47}
LEVERAGE_WEIGHTS = {"mlev": 0.38, "dtoa": 0.35, "blev": 0.27}


@dataclass(frozen=True)
class FactorParams:
    """Daily means and volatilities of the planted factor returns (before the regime multiplier)."""

    country_mean: float
    country_vol: float
    industry_mean: tuple[float, ...]
    industry_vol: tuple[float, ...]
    style_mean: tuple[float, ...]
    style_vol: tuple[float, ...]  # for beta: the noise added to BETA_COUPLING * country shock

    def as_dict(self) -> dict:
        return asdict(self)


_STYLE_MEAN = {
    "size": -1.0e-4,
    "beta": 0.0,
    "momentum": 0.0,
    "volatility": -1.0e-4,
    "non_linear_size": 0.0,
    "book_to_price": 8.0e-5,
    "liquidity": -1.5e-4,
    "earnings_yield": 1.0e-4,
    "growth": 5.0e-5,
    "leverage": 0.0,
}
_STYLE_VOL = {
    "size": 0.0035,
    "beta": 0.0025,
    "momentum": 0.003,
    "volatility": 0.003,
    "non_linear_size": 0.002,
    "book_to_price": 0.002,
    "liquidity": 0.003,
    "earnings_yield": 0.002,
    "growth": 0.002,
    "leverage": 0.002,
}


def draw_factor_params(rng: np.random.Generator, n_industries: int) -> FactorParams:
    """Factor-return scales: country 1.2%/day, industries 0.5-0.8%, styles 0.2-0.35% (beta: 0.25% noise plus
    BETA_COUPLING times the country shock, about 0.45% in all)."""
    return FactorParams(
        country_mean=2.0e-4,
        country_vol=0.012,
        industry_mean=tuple(float(x) for x in rng.normal(0.0, 1.0e-4, size=n_industries)),
        industry_vol=tuple(float(x) for x in rng.uniform(0.005, 0.008, size=n_industries)),
        style_mean=tuple(_STYLE_MEAN[s] for s in STYLES),
        style_vol=tuple(_STYLE_VOL[s] for s in STYLES),
    )


def regime_multiplier(t_days: int) -> np.ndarray:
    """(T,) volatility multiplier: REGIME_MULTIPLIER inside the regime window, else 1."""
    lo, hi = regime_bounds(t_days)
    out = np.ones(t_days)
    out[lo:hi] = REGIME_MULTIPLIER
    return out


def regime_bounds(t_days: int) -> tuple[int, int]:
    """Day indices [lo, hi) of the high-volatility regime."""
    return round(REGIME_WINDOW[0] * t_days), round(REGIME_WINDOW[1] * t_days)


def student_t_unit(rng: np.random.Generator, size: int) -> np.ndarray:
    """Student t draws with T_DOF degrees of freedom, rescaled to unit variance."""
    return rng.standard_t(T_DOF, size=size) * np.sqrt((T_DOF - 2.0) / T_DOF)


# ----------------------------------------------------------------------------------------------------------
# cross-sectional primitives (arrays over the stocks of one date: (n,) or (n, k) column-wise)


def standardize_columns(x: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Column-wise: (x - cap-weighted mean) / equal-weighted population std, clipped at ±CLIP, then
    standardized once more. x is (n, k), cap (n,).

    NaNs are ignored in the statistics and stay NaN. A column with fewer than two finite values or a zero std
    gives zeros.
    """
    xt = np.ascontiguousarray(np.asarray(x, dtype=float).T)  # (k, n): row reductions and BLAS mat-vec
    ok = np.isfinite(xt)
    okf = ok.astype(float)
    z = _z_rows(np.where(ok, xt, 0.0), okf, cap)
    z = _z_rows(np.clip(z, -CLIP, CLIP), okf, cap)
    return np.where(ok, z, np.nan).T


def _z_rows(x0: np.ndarray, okf: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """One standardization pass over the rows of x0 (k, n), which holds 0 where okf is 0."""
    cnt = okf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (x0 @ cap) / (okf @ cap)
        d = (x0 - (x0.sum(axis=1) / cnt)[:, None]) * okf
        sd = np.sqrt(np.einsum("ij,ij->i", d, d) / cnt)
        usable = (cnt >= 2) & np.isfinite(sd) & (sd >= 1e-12)
        return (x0 - np.where(usable, mu, 0.0)[:, None]) * (okf / np.where(usable, sd, np.inf)[:, None])


def standardize(x: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """``standardize_columns`` of a single descriptor (n,)."""
    return standardize_columns(x[:, None], cap)[:, 0]


def orthogonalize(y: np.ndarray, z: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Residual of a weighted least-squares regression of y on [1, z] (z is (n, k)), for every stock."""
    a = np.column_stack([np.ones(len(y)), z])
    aw = a * weight[:, None]
    try:
        coef = np.linalg.solve(aw.T @ a, aw.T @ y)
    except np.linalg.LinAlgError:
        coef, *_ = np.linalg.lstsq(aw.T @ a, aw.T @ y, rcond=None)
    return y - a @ coef


def factor_projection(
    y: np.ndarray, industry: np.ndarray, z: np.ndarray, weight: np.ndarray, n_industries: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted regression of y on industry dummies and the columns of z (n, k): (a, b, residual).

    ``y = a[industry] + z @ b + residual`` exactly; the residual has zero weighted cross-product with every
    industry dummy (hence the country) and every column of z. Solved by Frisch-Waugh: demean y and z within
    industries, regress on the demeaned z (least squares, so a singular z is fine), then a = weighted group
    means of y - z b (0 for industries without stocks).
    """
    wsum = np.bincount(industry, weights=weight, minlength=n_industries)
    safe = np.where(wsum > 0, wsum, 1.0)

    def group_mean(v: np.ndarray) -> np.ndarray:
        return np.bincount(industry, weights=weight * v, minlength=n_industries) / safe

    yd = y - group_mean(y)[industry]
    zd = np.column_stack([z[:, j] - group_mean(z[:, j])[industry] for j in range(z.shape[1])])
    zw = zd * weight[:, None]
    b, *_ = np.linalg.lstsq(zw.T @ zd, zw.T @ yd, rcond=None)
    a = group_mean(y - z @ b)
    return a, b, y - a[industry] - z @ b


def combine(z: np.ndarray, weights: list[float]) -> np.ndarray:
    """Weighted average of the present (finite) standardized descriptors z (n, k), weights rescaled over the
    present ones; 0 where none is present."""
    w = np.array(weights)[None, :] * np.isfinite(z)
    total = w.sum(axis=1)
    return np.where(total > 0, np.nansum(z * w, axis=1) / np.where(total > 0, total, 1.0), 0.0)


def composite(descriptors: list[np.ndarray], weights: list[float], cap: np.ndarray) -> np.ndarray:
    """Standardize each descriptor, average the present ones with rescaled weights (0 if none), standardize."""
    return standardize(combine(standardize_columns(np.column_stack(descriptors), cap), weights), cap)


def style_exposures(
    cap: np.ndarray,
    beta: np.ndarray,
    momentum: np.ndarray,
    spec_vol: np.ndarray,
    turnover: np.ndarray,
    fund: np.ndarray,
    fund_index: dict[str, int],
) -> np.ndarray:
    """(n, 10) standardized exposures in STYLES order for the n stocks trading on a date.

    cap: total market cap (CNY); beta: planted b_n; momentum: raw RSTR; spec_vol: planted sigma_n;
    turnover: planted tau_n; fund: (n, F) point-in-time fundamentals (pit.PIT_FIELDS order, CNY).
    Same results as calling ``standardize``/``composite``/``orthogonalize`` per style; the descriptors of a
    stage are standardized together for speed.
    """
    n = len(cap)
    out = np.zeros((n, len(STYLES)))
    if n == 0:
        return out
    f = {name: fund[:, i] for name, i in fund_index.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.column_stack(
            [
                np.log(cap),
                beta,
                momentum,
                np.log(spec_vol),
                np.log(turnover),
                f["be"] / cap,  # BTOP
                f["ttm_ni"] / cap,
                f["ttm_cfo"] / cap,  # ETOP, CETOP
                f["egro"],
                f["sgro"],
                (cap + f["pe"] + f["ncl"]) / cap,  # MLEV
                (f["ncl"] + f["tcl"]) / f["ta"],  # DTOA
                np.where(f["be"] > 0, (f["be"] + f["pe"] + f["ncl"]) / f["be"], np.nan),  # BLEV
            ]
        )
    z = standardize_columns(raw, cap)
    size, beta_x = z[:, 0], z[:, 1]
    out[:, S["size"]] = size
    out[:, S["beta"]] = beta_x
    out[:, S["momentum"]] = z[:, 2]
    composites = np.column_stack(
        [
            combine(z[:, 5:6], [1.0]),
            combine(z[:, 6:8], list(EARNINGS_YIELD_WEIGHTS.values())),
            combine(z[:, 8:10], list(GROWTH_WEIGHTS.values())),
            combine(z[:, 10:13], list(LEVERAGE_WEIGHTS.values())),
        ]
    )
    zc = standardize_columns(composites, cap)
    for j, name in enumerate(("book_to_price", "earnings_yield", "growth", "leverage")):
        out[:, S[name]] = zc[:, j]
    sqrt_cap = np.sqrt(cap)
    orth = np.column_stack(
        [
            orthogonalize(size**3, size[:, None], sqrt_cap),
            orthogonalize(z[:, 3], np.column_stack([beta_x, size]), sqrt_cap),
            orthogonalize(z[:, 4], size[:, None], sqrt_cap),
        ]
    )
    zo = standardize_columns(orth, cap)
    for j, name in enumerate(("non_linear_size", "volatility", "liquidity")):
        out[:, S[name]] = zo[:, j]
    return np.nan_to_num(out, nan=0.0)


class MomentumState:
    """Exact running RSTR per stock over its own trading rows.

    After a stock's j-th return l_j is pushed, ``raw()`` is ``sum_{i=21}^{524} lambda**(i-21) * l_{j-i}``
    (lambda = 0.5 ** (1/126)) divided by ``sum_{i=0}^{503} lambda**i``; returns before the stock's first row
    count as 0 (no renormalization for short histories). A ring buffer of the last 525 returns makes the
    recursion exact: S_j = lambda S_{j-1} + l_{j-21} - lambda**504 l_{j-525}.
    """

    SPAN = MOMENTUM_LAG + MOMENTUM_WINDOW

    def __init__(self, n: int) -> None:
        self.lam = 0.5 ** (1.0 / MOMENTUM_HALF_LIFE)
        self.lam_out = self.lam**MOMENTUM_WINDOW
        self.norm = 1.0 / np.sum(self.lam ** np.arange(MOMENTUM_WINDOW))
        self.buf = np.zeros((self.SPAN, n))
        self.count = np.zeros(n, dtype=np.int64)
        self.acc = np.zeros(n)

    def push(self, idx: np.ndarray, ell: np.ndarray) -> None:
        """Append one excess log return ``ell`` for each stock in ``idx``."""
        j = self.count[idx]
        slot = j % self.SPAN
        leaving = self.buf[slot, idx]
        entering = np.where(j >= MOMENTUM_LAG, self.buf[(j - MOMENTUM_LAG) % self.SPAN, idx], 0.0)
        self.acc[idx] = self.lam * self.acc[idx] + entering - self.lam_out * leaving
        self.buf[slot, idx] = ell
        self.count[idx] = j + 1

    def raw(self, idx: np.ndarray) -> np.ndarray:
        return self.acc[idx] * self.norm
