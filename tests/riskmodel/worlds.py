"""Synthetic cross-sections for the regression tests (spec §12 D: K = 43, N = 3,000), as cne5-checks.py builds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmodel.regression import design_matrix

N_INDUSTRIES, N_STYLES = 32, 10


@dataclass(frozen=True)
class World:
    """One date: exposures (N, K), caps, regression weights sqrt(cap), industry codes, cap-weight shares."""

    exposures: np.ndarray
    caps: np.ndarray
    weights: np.ndarray
    industries: np.ndarray
    industry_weights: np.ndarray

    @property
    def n_factors(self) -> int:
        return self.exposures.shape[1]

    def constrained_factor_returns(self, rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
        """Random factor returns with sum_i w_i f_i = 0 over the industries."""
        f = rng.normal(0.0, scale, self.n_factors)
        ind = slice(1, 1 + N_INDUSTRIES)
        f[ind] -= (self.industry_weights @ f[ind]) / self.industry_weights.sum()
        return f


def make_world(rng: np.random.Generator, n_stocks: int = 3000) -> World:
    """Industries uniform, caps log-normal, styles with cap-weighted mean 0 and population std 1 (spec §3.2)."""
    industries = rng.integers(0, N_INDUSTRIES, n_stocks)
    caps = np.exp(rng.normal(22.0, 1.2, n_stocks))
    styles = rng.standard_normal((n_stocks, N_STYLES))
    styles -= (caps @ styles) / caps.sum()
    styles /= styles.std(axis=0)
    shares = np.bincount(industries, weights=caps, minlength=N_INDUSTRIES) / caps.sum()
    return World(
        exposures=design_matrix(industries, styles, N_INDUSTRIES),
        caps=caps,
        weights=np.sqrt(caps),
        industries=industries,
        industry_weights=shares,
    )


def specific_noise(rng: np.random.Generator, world: World, sigma: float = 0.02, size: int | None = None) -> np.ndarray:
    """Specific returns with variance proportional to 1 / v (the premise of the sqrt-cap weights)."""
    scale = sigma / np.sqrt(world.weights / world.weights.mean())
    shape = (len(world.caps),) if size is None else (size, len(world.caps))
    return rng.standard_normal(shape) * scale
