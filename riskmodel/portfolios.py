"""Test portfolios of the bias statistics (cne5-spec §9, "Portfolios CNE5 tested on"), and the risk of a
portfolio under the factor model ``V = X F X' + diag(d²)``, without ever forming the N x N matrix.

- Pure factor portfolios need no holdings: their return is the factor return, their risk sqrt(F_kk).
- Random portfolios: ``size`` stocks drawn without replacement, long-only weights uniform on the simplex.
- Minimum-risk portfolio: ``argmin w'Vw`` subject to ``Σ w = 1`` (long-short, fully invested), by the
  Woodbury identity ``V⁻¹ = D⁻¹ − D⁻¹ X F (I + X'D⁻¹X F)⁻¹ X'D⁻¹`` (no inverse of F, which may be
  singular). It is where an underestimated small eigenvalue of F shows (optimization bias, spec §7.3).

Units: whatever the inputs have; the risk marts pass DAILY covariances and volatilities.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def portfolio_variance(
    weights: FloatArray, exposures: FloatArray, covariance: FloatArray, specific: FloatArray
) -> float:
    """``w'(X F X' + diag(d²))w`` for weights (N,), exposures X (N, K), F (K, K), specific volatilities d (N,)."""
    factor_exposure = exposures.T @ weights
    return float(factor_exposure @ covariance @ factor_exposure + np.sum((weights * specific) ** 2))


def portfolio_variances(
    weights: FloatArray, exposures: FloatArray, covariance: FloatArray, specific: FloatArray
) -> FloatArray:
    """``portfolio_variance`` of each column of ``weights`` (N, P) at once: (P,)."""
    factor_exposures = exposures.T @ weights  # (K, P)
    factor_part = np.einsum("kp,kl,lp->p", factor_exposures, covariance, factor_exposures)
    return factor_part + np.sum((weights * specific[:, None]) ** 2, axis=0)


def min_variance_weights(exposures: FloatArray, covariance: FloatArray, specific: FloatArray) -> FloatArray:
    """The fully invested minimum-variance weights ``V⁻¹1 / 1'V⁻¹1`` (Woodbury; see the module docstring)."""
    inverse_d = 1.0 / specific**2
    ones = np.ones(len(specific))
    scaled = exposures * inverse_d[:, None]  # D⁻¹ X
    inner = np.eye(covariance.shape[0]) + (exposures.T @ scaled) @ covariance
    correction = scaled @ (covariance @ np.linalg.solve(inner, scaled.T @ ones))
    v_inverse_ones = inverse_d * ones - correction
    return v_inverse_ones / v_inverse_ones.sum()


def random_weights(n_stocks: int, size: int, rng: np.random.Generator) -> FloatArray:
    """(N,) long-only weights on ``min(size, N)`` random stocks, uniform on the simplex (Dirichlet(1))."""
    chosen = rng.choice(n_stocks, size=min(size, n_stocks), replace=False)
    weights = np.zeros(n_stocks)
    weights[chosen] = rng.dirichlet(np.ones(len(chosen)))
    return weights
