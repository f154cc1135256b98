"""What the engine tells the real-time hub after a mutation succeeded.

The event carries what was stored and what the mutation selected, never a rendered answer: each
subscriber's payload is rendered later, for that subscriber, with its own selection and rights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Mask = dict[str, Any]   # field name -> True (a leaf) or the mask of its own selection


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which tripled the cost
# of making the event (every mutation makes one, listened to or not). Treat it as read-only.
@dataclass(slots=True)
class MutationEvent:
    field: str               # the mutation's root field, e.g. "createTodo"
    model: str | None        # the model it wrote, through the store (None for a custom mutation, whose
                             # event is always sent: no write of the store says who listens)
    record: Any              # the stored record, or a custom mutation's result
    selection: Mask | None   # the field names the mutation selected, aliases merged


#: Given to the engine's constructor; called once per successful mutation, on the loop; never raises.
Publisher = Callable[[MutationEvent], None]
