"""Parameter presets carry the spec's published values (cne5-spec §7.2, §8.5); units are explicit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import riskmodel
from riskmodel.params import CHINA_REPLICATION, DEFAULT, PRESETS, USE4L, USE4S, CovarianceParams, mass_window
from riskmodel.units import annualize_variance, annualize_volatility, scale_variance, scale_volatility


def test_use4_published_values():
    """USE4S/USE4L of U4 Table 4.1 and Table 5.1 (spec §7.2, §8.5)."""
    for preset, vol_hl, vra_hl, specific_hl in ((USE4S, 84, 42, 84), (USE4L, 252, 168, 252)):
        cov = preset.covariance
        assert (cov.vol_half_life, cov.vol_lags, cov.corr_half_life, cov.corr_lags) == (vol_hl, 5, 504, 2)
        assert preset.factor_vra.half_life == vra_hl
        spec = preset.specific
        assert (spec.half_life, spec.nw_lags, spec.nw_half_life, spec.shrinkage_q) == (specific_hl, 5, 252, 0.1)
        assert spec.vra.half_life == vra_hl  # the specific VRA half-life equals the factor one (U4 §5.3)
        assert preset.eigen.scale == 1.0 and not preset.eigen.parabola  # eq. B7, as USE4 ships it
    assert USE4S.covariance.window == mass_window(504) == 2179


def test_china_replication_is_the_default():
    """The common China replication set (spec §7.2 row, §8.5 row) is the default."""
    assert DEFAULT is CHINA_REPLICATION is riskmodel.DEFAULT
    cov = CHINA_REPLICATION.covariance
    assert (cov.vol_half_life, cov.corr_half_life, cov.vol_lags, cov.corr_lags, cov.window) == (90, 90, 2, 2, 252)
    assert CHINA_REPLICATION.factor_vra.half_life == 42
    assert (CHINA_REPLICATION.specific.half_life, CHINA_REPLICATION.specific.nw_lags) == (90, 5)
    assert set(PRESETS) == {"china_replication", "use4s", "use4l"}


def test_presets_are_frozen_and_validated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CHINA_REPLICATION.covariance.window = 100  # type: ignore[misc]
    with pytest.raises(ValueError):
        CovarianceParams(vol_half_life=90, vol_lags=5, corr_half_life=90, corr_lags=2, window=5)


def test_mass_window_holds_the_mass():
    """95% of the weight lies in the window (DeepRiskModel's ≈ 4.32 h rule), not in one day less."""
    for half_life in (42, 90, 504):
        window = mass_window(half_life)
        assert 1 - 0.5 ** (window / half_life) >= 0.95 > 1 - 0.5 ** ((window - 1) / half_life)


def test_units_scale_explicitly():
    """Daily in, horizon or annual out: variance × days, volatility × sqrt(days)."""
    daily = np.array([[1e-4, 2e-5], [2e-5, 4e-4]])
    np.testing.assert_allclose(annualize_variance(daily), 252 * daily)
    np.testing.assert_allclose(scale_variance(daily, 21), 21 * daily)
    np.testing.assert_allclose(annualize_volatility(0.01), 0.01 * np.sqrt(252))
    np.testing.assert_allclose(scale_volatility(np.array([0.01]), 21), [0.01 * np.sqrt(21)])
