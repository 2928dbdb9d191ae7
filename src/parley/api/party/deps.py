"""Dependencies of a party node's routes: its :class:`PartyNode` and the authorized caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from parley.api.auth import Principal
from parley.api.deps import authorize
from parley.services.party.node import PartyNode
from parley.services.party.planning import ensure_operator

#: Scope of Parley's native operations API (a party's own operators).
OPERATE = "parley.operations"
#: Scopes of the InterUSS flight-planning test interface.
FP_PLAN = "interuss.flight_planning.plan"
FP_TEST = "interuss.flight_planning.direct_automated_test"


async def _node(request: Request) -> PartyNode:
    node: PartyNode = request.app.state.node
    return node


NodeDep = Annotated[PartyNode, Depends(_node)]


async def _operator(
    node: NodeDep, principal: Annotated[Principal, Depends(authorize([OPERATE]))]
) -> Principal:
    ensure_operator(node, principal.sub)
    return principal


Operator = Annotated[Principal, Depends(_operator)]
