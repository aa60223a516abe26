"""Weights (赋权): objective by entropy (熵权法) or CRITIC, subjective from the planner's
table, and their combination (综合赋权) w = α·w_subj + (1−α)·w_obj, renormalised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import InvalidData, OutOfRange


def entropy(normalised: pd.DataFrame) -> pd.Series:
    """p_ij = x'_ij / Σ_i x'_ij; e_j = −(1/ln n) Σ_i p_ij ln p_ij with 0·ln 0 = 0 and n the
    number of rows; w_j = (1 − e_j) / Σ_k (1 − e_k)."""
    n = len(normalised)
    if n < 2:
        raise InvalidData("熵权法至少需要两行（地区×年份）数据。",
                          "The entropy method needs at least two (place, year) rows.")
    x = normalised.to_numpy(dtype=float)
    totals = x.sum(axis=0)
    p = np.divide(x, totals, out=np.zeros_like(x), where=totals != 0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    e = -plogp.sum(axis=0) / np.log(n)
    e = np.where(totals == 0, 1.0, e)  # a column of zeros carries no information
    d = 1.0 - e
    return _share(pd.Series(d, index=normalised.columns), "entropy")


def critic(normalised: pd.DataFrame) -> pd.Series:
    """CRITIC: C_j = σ_j Σ_k (1 − r_jk), σ the sample standard deviation (n − 1) of x'_j and
    r the Pearson correlation between indicators (0 where a column is constant);
    w_j = C_j / Σ_k C_k."""
    if len(normalised) < 2:
        raise InvalidData("CRITIC 法至少需要两行（地区×年份）数据。",
                          "The CRITIC method needs at least two (place, year) rows.")
    sigma = normalised.std(ddof=1).fillna(0.0)
    r = normalised.corr().fillna(0.0)
    for column in r.columns:  # a constant column: r undefined, its σ = 0 makes C_j = 0
        r.loc[column, column] = 1.0
    conflict = (1.0 - r).sum()
    return _share(sigma * conflict, "CRITIC")


def combine(subjective: pd.Series | None, objective: pd.Series, alpha: float = 0.5
            ) -> pd.Series:
    """w = α·w_subj + (1−α)·w_obj, renormalised to sum 1; without subjective weights the
    objective ones are used as they are."""
    if not 0 <= alpha <= 1:
        raise OutOfRange("alpha", alpha, 0, 1)
    if subjective is None:
        return objective.copy()
    mixed = alpha * subjective.reindex(objective.index).fillna(0.0) + (1 - alpha) * objective
    return _share(mixed, "combined")


def subjective_shares(weights: pd.Series) -> pd.Series:
    """The planner's weights (any scale: 0.25, 25, 25%) as shares summing to 1."""
    if (weights < 0).any():
        raise InvalidData("权重不能为负数。", "Weights cannot be negative.")
    return _share(weights.astype(float), "subjective")


def _share(raw: pd.Series, what: str) -> pd.Series:
    total = float(raw.sum())
    if not np.isfinite(total) or total <= 0:
        raise InvalidData(
            f"无法计算权重（{what}）：所有指标在所选地区和年份中都没有差异，或权重全为 0。",
            f"Cannot compute {what} weights: no indicator varies across the chosen places and "
            "years, or every weight is 0.", method=what)
    return raw / total
