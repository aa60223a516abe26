"""Time to compute a composite index over 90 counties × 2 years × 18 indicators (the size of
Zhejiang's county set and of the provincial 18-indicator system): pooled min–max, entropy and
CRITIC weights, combination with subjective weights, composite, 4 domain sub-indices, overall
and peer ranks, year-over-year change. Synthetic values (seeded), since the official indicator
list is not in our sources.

    .venv/bin/python bench/index.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from layers.index import IndexIndicator, IndexSystem, compute

DOMAINS = ("空间融合", "经济融合", "生活融合", "生态融合")
GROUPS = ("高度城镇化地区", "山区海岛地区", "其他地区")


def fixture(counties: int = 90, years: tuple[int, ...] = (2022, 2023), indicators: int = 18,
            seed: int = 15):
    rng = np.random.default_rng(seed)
    codes = [f"33{i:04d}" for i in range(counties)]
    rows = [{"code": c, "year": y} for y in years for c in codes]
    values = pd.DataFrame(rows)
    for j in range(indicators):
        values[f"x{j + 1}"] = rng.lognormal(mean=3, sigma=0.5, size=len(values))
    system = IndexSystem(tuple(
        IndexIndicator(f"x{j + 1}", f"指标{j + 1}", f"indicator {j + 1}", DOMAINS[j % 4],
                       -1 if j % 5 == 4 else 1, float(rng.integers(1, 10)))
        for j in range(indicators)))
    peers = pd.Series({c: GROUPS[k % 3] for k, c in enumerate(codes)})
    return values, system, peers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    values, system, peers = fixture()
    compute(values, system, peers)  # warm-up (imports, caches)
    times = {}
    for method in ("entropy", "critic"):
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = compute(values, system, peers, method, 0.5)
            runs.append(time.perf_counter() - start)
        times[method] = runs
        print(f"{method:8s} 90 counties × 2 years × 18 indicators: median "
              f"{statistics.median(runs) * 1000:.1f} ms, min {min(runs) * 1000:.1f} ms "
              f"({args.repeat} runs; {len(result.scores)} scores)")


if __name__ == "__main__":
    main()
