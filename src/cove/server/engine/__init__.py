"""The GraphQL engine: documents, plans, root resolvers, relation prefetch and pure rendering.

``documents`` parses, validates and caches; ``plan`` compiles selections; ``execute`` holds the
:class:`Engine`; ``writes`` the model mutations; ``prefetch`` loads relations in batches before
``render`` turns records into JSON; ``payload`` cuts subscription plans to a mutation's selection.
"""

from .documents import PreparedDocument
from .execute import Engine, PlannedRequest
from .payload import RestrictedPlans, selection_mask
from .plan import Plan, PlanError, RootField

__all__ = ["Engine", "Plan", "PlanError", "PlannedRequest", "PreparedDocument", "RestrictedPlans", "RootField",
           "selection_mask"]
