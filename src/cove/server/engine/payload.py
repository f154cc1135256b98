"""What a subscriber's event may hold: the subscriber's selection, cut down to what the mutation selected.

AppSync sends each subscriber the mutation's result restricted to the subscriber's selection; a field
the subscriber selects that the mutation did not is null. Cove renders each event for its subscriber
(with the subscriber's rights, at every depth) from the stored record, so the mutation contributes only
its selection: a mask of field names (JSON, so it crosses the broker), applied to the subscriber's plan.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from ..events import Mask
from .plan import ABSENT, TYPENAME, Plan


def selection_mask(plan: Plan | None) -> Mask | None:
    """The field names `plan` selects, nested; aliases merged."""
    if plan is None:
        return None
    out: Mask = {}
    for e in plan.entries:
        if e.kind == TYPENAME:
            continue
        sub = selection_mask(e.sub) if e.sub is not None else True
        previous = out.get(e.name)
        out[e.name] = _merge(previous, sub) if isinstance(previous, dict) and isinstance(sub, dict) else sub
    return out


def _merge(a: Mask, b: Mask) -> Mask:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def restrict(plan: Plan, mask: Mask) -> Plan:
    """`plan` with every entry `mask` does not select turned ABSENT (rendered as null)."""
    entries = []
    for e in plan.entries:
        if e.kind == TYPENAME:
            entries.append(e)
            continue
        selected = mask.get(e.name)
        if selected is None:
            entries.append(replace(e, kind=ABSENT, sub=None))
        elif e.sub is not None and isinstance(selected, dict):
            entries.append(replace(e, sub=restrict(e.sub, selected)))
        else:
            entries.append(e)
    return Plan(plan.type_name, entries, plan.model)


class RestrictedPlans:
    """A bounded cache of restricted plans, by (subscriber plan, mutation mask). It holds the plans
    it was asked about, so their ids stay unique while they are keys."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[int, bytes], tuple[Plan, Plan]] = OrderedDict()

    def get(self, plan: Plan, mask: Mask, mask_key: bytes) -> Plan:
        key = (id(plan), mask_key)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit[1]
        restricted = restrict(plan, mask)
        self._cache[key] = (plan, restricted)
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return restricted
