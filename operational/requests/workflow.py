"""The moves request items and fulfilment tasks may make; any other is a 409 naming these."""

from operational.core.errors import InvalidTransition
from operational.requests.enums import ItemState, TaskState

# Moves a person makes through the API; approval and delivery are the system's (flows).
ITEM_MOVES: dict[str, tuple[str, ...]] = {
    ItemState.pending_approval: (ItemState.cancelled,),
    ItemState.in_fulfilment: (ItemState.awaiting_requester, ItemState.cancelled),
    ItemState.awaiting_requester: (ItemState.in_fulfilment, ItemState.cancelled),
    ItemState.delivered: (),
    ItemState.rejected: (),
    ItemState.cancelled: (),
}
SYSTEM_ITEM_MOVES: dict[str, tuple[str, ...]] = {
    ItemState.pending_approval: (ItemState.in_fulfilment, ItemState.rejected),
    ItemState.in_fulfilment: (ItemState.delivered,),
    ItemState.awaiting_requester: (ItemState.delivered,),
}
TASK_MOVES: dict[str, tuple[str, ...]] = {
    TaskState.pending: (TaskState.cancelled,),
    TaskState.open: (TaskState.in_progress, TaskState.closed, TaskState.cancelled),
    TaskState.in_progress: (TaskState.open, TaskState.closed, TaskState.cancelled),
    TaskState.closed: (),
    TaskState.cancelled: (),
}


def check(moves: dict[str, tuple[str, ...]], current: str, target: str) -> None:
    allowed = [str(state) for state in moves.get(current, ())]
    if target not in allowed:
        raise InvalidTransition(current, str(target), allowed)


def check_item(current: str, target: str, *, system: bool = False) -> None:
    if system and target in SYSTEM_ITEM_MOVES.get(current, ()):
        return
    check(ITEM_MOVES, current, target)
