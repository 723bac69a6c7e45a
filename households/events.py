"""What other programmes must do when the registry changes, registered by them (the registry never
imports them). Called inside the changing transaction, so a refusal rolls the change back.

    from households import events
    events.on_reassignment(my_handler)   # in AppConfig.ready()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import User

# (household id, old cadre id, new cadre id), for households that kept their village.
Reassignment = tuple[int, int | None, int | None]
ReassignmentHandler = Callable[[Sequence[Reassignment], "User | None"], object]

_reassignment_handlers: list[ReassignmentHandler] = []
_relocation_handlers: list[Callable[[Sequence[int]], object]] = []
_registry_change_handlers: list[Callable[[Sequence[int]], object]] = []


def on_reassignment(handler: ReassignmentHandler) -> ReassignmentHandler:
    if handler not in _reassignment_handlers:
        _reassignment_handlers.append(handler)
    return handler


def reassigned(moves: Sequence[Reassignment], actor: User | None) -> None:
    """Tell every registered handler that these households changed cadre within their village."""
    moves = [m for m in moves if m[1] != m[2]]
    if moves:
        for handler in _reassignment_handlers:
            handler(moves, actor)


def on_relocation(handler: Callable[[Sequence[int]], object]) -> Callable[[Sequence[int]], object]:
    if handler not in _relocation_handlers:
        _relocation_handlers.append(handler)
    return handler


def relocated(household_ids: Sequence[int]) -> None:
    """Tell every registered handler that these households changed village or cadre (any move)."""
    if household_ids:
        for handler in _relocation_handlers:
            handler(household_ids)


def on_registry_change(handler: Callable[[Sequence[int]], object]) -> Callable[[Sequence[int]], object]:
    if handler not in _registry_change_handlers:
        _registry_change_handlers.append(handler)
    return handler


def registry_changed(village_ids: Sequence[int]) -> None:
    """Tell every registered handler that households of these villages were added, edited or moved
    (the villages on both sides of a move), e.g. so that summaries of those areas are refreshed."""
    if village_ids:
        for handler in _registry_change_handlers:
            handler(village_ids)
