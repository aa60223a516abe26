"""Composite indices (综合指数): an indicator system over places and years → normalised values,
objective (entropy, CRITIC) and subjective weights combined (综合赋权), a composite and
domain sub-indices (0–100), ranks overall and within peer groups, and the change against the
previous year. Pure functions of pandas frames; nothing here reads a store except
`inputs.py`, which gathers the values from the indicator table.
"""

from layers.index.composite import IndexResult, compute
from layers.index.normalise import minmax
from layers.index.system import IndexIndicator, IndexSystem, read_peers, read_system
from layers.index.weights import combine, critic, entropy

__all__ = ["IndexIndicator", "IndexResult", "IndexSystem", "combine", "compute", "critic",
           "entropy", "minmax", "read_peers", "read_system"]
