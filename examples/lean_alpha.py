"""A LEAN-style alpha model on the published exports: momentum, industry-neutral, risk-scaled.

QuantConnect LEAN's ``AlphaModel.Update(algorithm, data)`` returns ``Insight`` objects (symbol, direction,
magnitude, weight, period). ``MomentumRiskScaledAlpha.update(date)`` has the same shape with no LEAN
dependency, so the logic can be moved into a LEAN algorithm as it is (load the exports in ``Initialize``,
call ``update`` from ``Update`` with the algorithm's date).

The model, on date D (exposures at the close of D, the risk model estimated on or before D):

1. score: the momentum exposure of every estimation-universe stock, minus its industry's mean (industry
   neutral: the bet is momentum, not sectors);
2. raw weights: score / specific variance (Grinold and Kahn: an alpha is worth its idiosyncratic risk);
3. risk scaling: the portfolio's ex-ante annualized volatility sqrt(x' F x + sum w^2 s^2), with x = X'w the
   factor exposures, F the annualized factor covariance and s the annualized specific risks, is brought to
   ``target_volatility``; no single weight beyond ``max_weight``.

Specific risks are published for the latest estimation date only (docs/exports.md); on an older date the
cross-sectional median of the latest is used for every stock, so a backtest of this example over history
does not look ahead through specific risks (it only loses their cross-section).

Run it on the demo export (``invoke demo``, then ``invoke export-barra``):

    .venv/bin/python -m examples.lean_alpha                       # from the repository root: latest date
    .venv/bin/python -m examples.lean_alpha --date 20130910 --exports /path/to/exports --top 15
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporters.barra import FACTORS_DIR
from exporters.reader import DateLike, ExposureCube, default_factors, list_dates, load_exposures, load_risk, parse_date
from riskmodel.daily import COUNTRY, STYLES


@dataclass(frozen=True)
class Insight:
    """LEAN's Insight, reduced: direction +1 (up) / -1 (down); magnitude the score; weight the target weight."""

    symbol: str
    direction: int
    magnitude: float
    weight: float
    period_days: int


class MomentumRiskScaledAlpha:
    """An alpha model in LEAN's shape: construct once, then ``update(date)`` each trading day."""

    def __init__(
        self,
        exports_dir: Path,
        *,
        target_volatility: float = 0.10,
        max_weight: float = 0.05,
        period_days: int = 21,
        start: DateLike | None = None,
    ):
        self.exports_dir = Path(exports_dir)
        self.target_volatility = target_volatility
        self.max_weight = max_weight
        self.period_days = period_days
        styles_and_industries = default_factors_of(self.exports_dir)
        self.cube: ExposureCube = load_exposures(
            self.exports_dir, start=start, factors=[*styles_and_industries, "in_estu"]
        )
        self.industry_columns = [f for f in styles_and_industries if f.startswith("ind_")]
        self.ex_ante_volatility: float = math.nan  # of the last update's portfolio

    def update(self, date: DateLike) -> list[Insight]:
        """Insights for ``date``; none when the date has no exposures or no risk model yet."""
        risk = load_risk(self.exports_dir, as_of=date)
        section = self.cube.cross_section(date)
        if risk is None or section.empty:
            return []
        section = section[(section["in_estu"] > 0) & section[list(STYLES)].notna().all(axis=1)]
        if section.empty:
            return []
        industries = section[self.industry_columns].to_numpy(np.float64)
        score = industry_neutral(section["momentum"].to_numpy(np.float64), industries)
        specific = self._specific_risks(risk, section.index)
        weights = score / specific**2
        exposures = self._factor_exposures(section, risk.factors)
        covariance = np.nan_to_num(risk.covariance)  # an inactive industry: no forecast, no stock in it
        weights = scale_to_volatility(weights, exposures, covariance, specific, self.target_volatility)
        weights = np.clip(weights, -self.max_weight, self.max_weight)
        self.ex_ante_volatility = ex_ante_volatility(weights, exposures, covariance, specific)
        order = np.argsort(-np.abs(weights))
        return [
            Insight(section.index[i], int(np.sign(weights[i])), float(score[i]), float(weights[i]), self.period_days)
            for i in order
            if weights[i] != 0
        ]

    def _specific_risks(self, risk, codes) -> np.ndarray:
        """Annualized specific risk per stock; the published median where a stock (or the date) has none."""
        if risk.specific_risk.empty:
            latest = load_risk(self.exports_dir)
            fallback = float(latest.specific_risk.median()) if latest and not latest.specific_risk.empty else 0.3
            return np.full(len(codes), fallback)
        median = float(risk.specific_risk.median())
        return np.array([risk.specific(c, default=median) for c in codes])

    def _factor_exposures(self, section, factors) -> np.ndarray:
        """(stocks, K) exposures in the risk model's factor order: country 1, industries 0/1, styles."""
        columns = []
        for f in factors:
            if f == COUNTRY:
                columns.append(np.ones(len(section)))
            elif f in STYLES:
                columns.append(section[f].to_numpy(np.float64))
            else:
                name = f"ind_{f}"
                columns.append(section[name].to_numpy(np.float64) if name in section else np.zeros(len(section)))
        return np.column_stack(columns)


def default_factors_of(exports_dir: Path) -> list[str]:
    """The styles and ind_ columns of the newest published factor file (none published: the styles)."""
    directory = exports_dir / FACTORS_DIR
    dates = list_dates(directory)
    return default_factors(directory, dates[-1]) if dates else list(STYLES)


def industry_neutral(score: np.ndarray, industries: np.ndarray) -> np.ndarray:
    """The score minus its industry's mean (``industries``: one-hot rows)."""
    counts = industries.sum(axis=0)
    means = np.divide(industries.T @ score, counts, out=np.zeros_like(counts), where=counts > 0)
    return score - industries @ means


def ex_ante_volatility(weights, exposures, covariance, specific) -> float:
    x = exposures.T @ weights
    return float(np.sqrt(x @ covariance @ x + np.sum(weights**2 * specific**2)))


def scale_to_volatility(weights, exposures, covariance, specific, target: float) -> np.ndarray:
    vol = ex_ante_volatility(weights, exposures, covariance, specific)
    return weights * (target / vol) if vol > 0 else weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exports", type=Path, default=Path("data/exports"), help="the exports root")
    parser.add_argument("--date", default=None, help="YYYYMMDD (default: the latest risk estimation date)")
    parser.add_argument("--top", type=int, default=10, help="insights to print")
    args = parser.parse_args()
    latest = load_risk(args.exports)
    if latest is None:
        raise SystemExit(f"no risk model under {args.exports}: run `invoke export-barra` first")
    date = parse_date(args.date) if args.date else latest.estimation_date
    alpha = MomentumRiskScaledAlpha(args.exports)
    insights = alpha.update(date)
    print(f"{date}: {len(insights)} insights, ex-ante annualized volatility {alpha.ex_ante_volatility:.1%}")
    for insight in insights[: args.top]:
        print(f"  {insight.symbol}  {'up  ' if insight.direction > 0 else 'down'}  weight {insight.weight:+.2%}")


if __name__ == "__main__":
    main()
