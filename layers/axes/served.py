"""The served axis plan, cached: the plan read from a store's axis layers, its gazetteer and
its accessibility raster (EPSG:4549, `cell_m` metres a cell), rebuilt only when one of the
layers it was read from changes.

Entries are keyed by (store identity, cell size, layer versions) and bounded in number: the
raster over Huzhou holds ~5 MB at 200 m cells but ~85 MB at 50 m.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from geo.errors import InvalidParameter
from layers.axes.accessibility import Accessibility, accessibility
from layers.axes.build import plan_from_store
from layers.axes.model import AXIS_LAYER_IDS, AxisPlan
from layers.settlement_nodes import Gazetteer

if TYPE_CHECKING:
    from layers.store import Store

# The gazetteer's county polygons clip the raster, so a new counties layer is a new plan too.
_SOURCE_LAYERS = (*AXIS_LAYER_IDS, "counties")


class ServedPlan(NamedTuple):
    """What the axes endpoints serve; unpacks as (plan, gazetteer, access)."""

    plan: AxisPlan
    gazetteer: Gazetteer
    access: Accessibility


@dataclass
class _Entry:
    # A weak reference: a store that is gone must not keep its plan (or be kept alive by it),
    # and a new store that reuses its id() must not be served the old store's plan.
    store: weakref.ReferenceType
    served: ServedPlan


class ServedPlans:
    """Thread-safe, bounded cache of served plans keyed by (store, cell size, layer versions)."""

    def __init__(self, max_entries: int = 2) -> None:
        self._max_entries = max(1, max_entries)
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()

    def get(self, store: Store, cell_m: float) -> ServedPlan:
        """The served plan, its gazetteer and accessibility grid of `cell_m` metres.

        Raises InvalidParameter (bilingual) if the store has no axis layers.
        """
        have = {layer.id for layer in store.layers()}
        if not set(AXIS_LAYER_IDS) <= have:
            raise InvalidParameter(
                "数据库中没有发展轴图层：请运行 gongfu build。",
                "The store has no development-axis layers: run `gongfu build`.")
        versions = tuple(store.version(i) for i in _SOURCE_LAYERS)
        key = (id(store), float(cell_m), versions)
        # Built under the lock: concurrent first requests wait for one build (a second or
        # more) rather than each building the same raster.
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.store() is store:
                self._entries.move_to_end(key)
                return entry.served
            plan = plan_from_store(store)
            gazetteer = Gazetteer.from_store(store)
            served = ServedPlan(plan, gazetteer, accessibility(plan.nodes, gazetteer.counties,
                                                               cell_m))
            self._forget_stale(store, versions)
            self._entries[key] = _Entry(weakref.ref(store), served)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)  # least recently served first
            return served

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _forget_stale(self, store: Store, versions: tuple) -> None:
        """Drop entries of stores that are gone and of this store's older layer versions."""
        for key, entry in list(self._entries.items()):
            owner = entry.store()
            if owner is None or (owner is store and key[2] != versions):
                del self._entries[key]
