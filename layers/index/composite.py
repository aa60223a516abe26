"""The composite index (综合指数) and domain sub-indices (分项指数), ranks and changes.

composite_i = 100 × Σ_j w_j x'_ij; a domain's sub-index uses the same formula over its own
indicators with their weights renormalised within the domain. Ranks (1 = highest) per year,
overall and within the peer group; the change is against the previous year of the study
(composite points and rank places). A (place, year) row missing any indicator is reported and
left out of that year — never imputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.errors import InvalidData, UnknownChoice
from layers.index.normalise import minmax
from layers.index.system import IndexSystem
from layers.index.weights import combine, critic, entropy, subjective_shares

METHODS = {"entropy": ("熵权法", "entropy"), "critic": ("CRITIC 法", "CRITIC")}
NO_PEER_GROUP = "全部 all"
UNGROUPED = "未分组 ungrouped"


@dataclass
class IndexResult:
    system: IndexSystem
    method: str
    alpha: float
    weights: pd.DataFrame  # per indicator: subjective, entropy, critic, objective, combined…
    scores: pd.DataFrame  # per (code, year): composite, sub-indices, ranks, change
    normalised: pd.DataFrame  # x' per (code, year) and indicator
    bounds: pd.DataFrame  # min, max, constant per indicator (pooled over all rows)
    missing: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self.scores["year"].unique())

    def domain_column(self, domain: str) -> str:
        return f"sub_{self.system.domains.index(domain) + 1}"

    def weight_rule(self) -> str:
        """How the combined weights were derived, in words."""
        zh, en = METHODS[self.method]
        if self.system.subjective() is None:
            return (f"客观赋权：{zh}（无主观权重）。Objective weights only: {en} (the table gives "
                    "no subjective weights).")
        return (f"综合赋权 w = α·w主观 + (1−α)·w{zh}，α = {self.alpha:g}，归一化。"
                f"Combined w = α·w_subjective + (1−α)·w_{en}, α = {self.alpha:g}, renormalised."
                + (f" 主观权重说明 Subjective weights: {self.system.weight_note}"
                   if self.system.weight_note else ""))

    def to_dict(self) -> dict:
        """JSON-ready: weights with their derivation, scores, normalisation bounds, missing."""
        weights = self.weights.reset_index().rename(columns={"index": "id"})
        scores = self.scores.astype(object).where(self.scores.notna(), None)
        return {
            "title_zh": self.system.title_zh, "title_en": self.system.title_en,
            "demonstration": self.system.demo, "notes": list(self.system.notes),
            "method": self.method, "alpha": self.alpha, "weight_rule": self.weight_rule(),
            "normalisation": "min–max pooled over every (place, year) row: positive "
                             "x' = (x − min)/(max − min), negative x' = (max − x)/(max − min)",
            "domains": [{"domain": d, "column": self.domain_column(d)}
                        for d in self.system.domains],
            "weights": weights.astype(object).where(weights.notna(), None).to_dict("records"),
            "bounds": self.bounds.reset_index().rename(columns={"index": "id"})
                          .to_dict("records"),
            "years": self.years, "scores": scores.to_dict("records"),
            "missing": self.missing, "warnings": self.warnings,
        }


def compute(values: pd.DataFrame, system: IndexSystem, peers: pd.Series | None = None,
            method: str = "entropy", alpha: float = 0.5) -> IndexResult:
    """`values`: one row per (place, year) — columns `code`, `year` and one per indicator id
    (NaN where there is no figure). `peers`: peer group per code (optional)."""
    if method not in METHODS:
        raise UnknownChoice("method", method, tuple(METHODS))
    absent = [i for i in system.ids if i not in values.columns]
    if absent:
        raise InvalidData(f"没有这些指标的数值：{'、'.join(absent)}",
                          f"No values for indicator(s): {', '.join(absent)}", indicators=absent)
    frame = values[["code", "year", *system.ids]].copy()
    frame["year"] = frame["year"].astype(int)
    gaps = frame[system.ids].isna()
    missing = [{"code": code, "year": int(year),
                "missing": [i for i in system.ids if gap[i]]}
               for code, year, gap in zip(frame["code"], frame["year"],
                                          gaps.to_dict("records")) if any(gap.values())]
    frame = frame[~gaps.any(axis=1)].sort_values(["year", "code"]).reset_index(drop=True)
    if len(frame) < 2:
        raise InvalidData(
            "数据完整的（地区×年份）行不足两行，无法计算指数；缺失情况见 detail.missing。",
            "Fewer than two (place, year) rows have every indicator: no index can be "
            "computed; see detail.missing.", missing=missing[:200])
    x = frame[system.ids].astype(float)
    normalised, bounds = minmax(x, system.directions())
    warnings = [f"指标 {i} 在所有行中取值相同，x' 取 1，客观权重为 0。Indicator {i} is constant "
                "over every row: x' = 1 and its objective weight is 0."
                for i in bounds.index[bounds["constant"]]]
    w_entropy, w_critic = entropy(normalised), critic(normalised)
    objective = w_entropy if method == "entropy" else w_critic
    subjective = system.subjective()
    w_subj = subjective_shares(subjective) if subjective is not None else None
    combined = combine(w_subj, objective, alpha)
    weights = pd.DataFrame({
        "title_zh": [i.title_zh for i in system.indicators],
        "title_en": [i.title_en for i in system.indicators],
        "domain": [i.domain for i in system.indicators],
        "direction": ["+" if i.direction > 0 else "−" for i in system.indicators],
        "weight_as_written": [i.weight for i in system.indicators],
        "subjective": w_subj.reindex(system.ids) if w_subj is not None else np.nan,
        "entropy": w_entropy, "critic": w_critic, "objective": objective,
        "combined": combined,
    }, index=system.ids)
    domain_share = weights.groupby("domain")["combined"].transform("sum")
    weights["within_domain"] = (weights["combined"] / domain_share.where(domain_share > 0))
    weights["derivation"] = [_derivation(row, method, alpha, w_subj is not None)
                             for row in weights.itertuples()]

    scores = frame[["code", "year"]].copy()
    scores["composite"] = 100 * normalised.to_numpy() @ combined.to_numpy()
    for domain in system.domains:
        ids = weights.index[weights["domain"] == domain]
        inner = weights.loc[ids, "within_domain"]
        column = f"sub_{system.domains.index(domain) + 1}"
        scores[column] = (100 * normalised[ids].to_numpy() @ inner.fillna(0).to_numpy()
                          if inner.notna().all() else np.nan)
        if inner.isna().any():
            warnings.append(f"领域“{domain}”的权重全为 0，分项指数不计算。Domain '{domain}' has "
                            "zero weight: no sub-index.")
    groups = scores["code"].map(peers) if peers is not None else pd.Series(None, index=scores.index)
    scores["peer_group"] = groups.astype(object).where(
        groups.notna(), NO_PEER_GROUP if peers is None else UNGROUPED)
    if peers is not None and groups.isna().any():
        loose = sorted(set(scores.loc[groups.isna(), "code"]))
        warnings.append(f"分组表未列出 {len(loose)} 个地区，归入“未分组”：{'、'.join(loose[:20])}。"
                        f"{len(loose)} place(s) are not in the peer-group table: ranked as "
                        "ungrouped.")
    scores["rank"] = scores.groupby("year")["composite"].rank(ascending=False, method="min") \
        .astype(int)
    scores["peers"] = scores.groupby(["year", "peer_group"])["code"].transform("size")
    scores["peer_rank"] = scores.groupby(["year", "peer_group"])["composite"] \
        .rank(ascending=False, method="min").astype(int)
    scores["places"] = scores.groupby("year")["code"].transform("size")
    years = sorted(scores["year"].unique())
    previous = {y: years[k - 1] for k, y in enumerate(years) if k}
    prior = scores.set_index(["code", "year"])
    keys = list(zip(scores["code"], scores["year"].map(previous)))
    scores["previous_year"] = scores["year"].map(previous).astype("Int64")
    scores["change"] = [c - prior.at[k, "composite"] if k in prior.index else np.nan
                        for c, k in zip(scores["composite"], keys)]
    scores["rank_change"] = [prior.at[k, "rank"] - r if k in prior.index else np.nan
                             for r, k in zip(scores["rank"], keys)]
    normalised.index = pd.MultiIndex.from_frame(frame[["code", "year"]])
    return IndexResult(system, method, alpha, weights, scores, normalised, bounds, missing,
                       warnings)


def _derivation(row, method: str, alpha: float, has_subjective: bool) -> str:
    zh, en = METHODS[method]
    objective = f"{zh} {row.objective:.4f}"
    if not has_subjective:
        return f"w = {zh} {row.objective:.4f}（客观赋权 objective only）"
    return (f"w = {alpha:g}×主观 {row.subjective:.4f} + {1 - alpha:g}×{objective} "
            f"→ 归一化 renormalised {row.combined:.4f}")
