"""Errors the market raises on bad input. Each carries a message fit to show a user."""

from __future__ import annotations


class MarketError(ValueError):
    """Base class: the request was refused and nothing changed."""


class UnknownEntityError(MarketError):
    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"unknown {kind} id {entity_id!r}")
        self.kind = kind
        self.entity_id = entity_id


class InvalidChangeError(MarketError):
    """A change the market cannot apply (bad value, wrong entity state)."""


class ClockError(MarketError):
    """The clock only moves forward, by whole days or hours."""


class InvalidQueryError(MarketError):
    """A ledger or ground-truth query with bad dates, levels or ids."""
