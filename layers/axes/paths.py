"""Shortest open path through a set of points (metres on a plane): the order in which a main
axis visits its nodes.

Exact (Held–Karp dynamic programme) up to `MAX_EXACT_PATH` points; nearest-neighbour beyond.
"""

from __future__ import annotations

import numpy as np

MAX_EXACT_PATH = 12  # Held–Karp is O(n² 2ⁿ): exact up to 12 nodes, greedy beyond (warned)


def shortest_open_path(points: np.ndarray) -> list[int]:
    """Indices ordering `points` (n×2, metres) along the shortest open path visiting all once.

    Exact (Held–Karp dynamic programme) up to 12 points; nearest-neighbour beyond.
    """
    n = len(points)
    if n <= 2:
        return list(range(n))
    dist = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    if n > MAX_EXACT_PATH:
        return _greedy_path(dist)
    full = (1 << n) - 1
    cost = np.full((1 << n, n), np.inf)
    parent = np.full((1 << n, n), -1, dtype=int)
    for i in range(n):
        cost[1 << i, i] = 0.0
    for mask in range(1, full + 1):
        for last in range(n):
            here = cost[mask, last]
            if not np.isfinite(here) or not mask & (1 << last):
                continue
            for nxt in range(n):
                if mask & (1 << nxt):
                    continue
                step = mask | (1 << nxt)
                # tolerance: rounding noise must not swap equally long paths (stable output)
                if here + dist[last, nxt] < cost[step, nxt] - 1e-9:
                    cost[step, nxt] = here + dist[last, nxt]
                    parent[step, nxt] = last
    last = int(np.argmin(cost[full]))
    order, mask = [], full
    while last != -1:
        order.append(last)
        last, mask = int(parent[mask, last]), mask & ~(1 << last)
    return order[::-1]


def _greedy_path(dist: np.ndarray) -> list[int]:
    """Nearest-neighbour order from point 0 over a distance matrix."""
    order = [0]
    while len(order) < len(dist):
        rest = [j for j in range(len(dist)) if j not in order]
        order.append(min(rest, key=lambda j: dist[order[-1], j]))
    return order
