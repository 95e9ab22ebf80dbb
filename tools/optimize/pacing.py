"""Monthly or flight budgets paced across their days: what today's total daily budget should be.

A flight budget (a month, a campaign's run) is spread over the days left in proportion to each day's
weight (1 by default; a weekday profile when some days convert better), after what is already spent.
The result is today's total, which the allocator then splits across ad sets and platforms.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, model_validator

from tools.optimize.curves import AllocationError


class FlightBudget(BaseModel):
    """A total to spend between two dates (inclusive), in integer micros of one currency."""

    currency: str = Field(min_length=3, max_length=3)
    total_micros: int = Field(gt=0)
    start: dt.date
    end: dt.date
    spent_micros: int = Field(default=0, ge=0, description="spent from start up to (not including) today")
    weekday_weights: tuple[float, ...] = Field(
        default=(1.0,) * 7, description="relative weight of Monday..Sunday; a day's share of what is left"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FlightBudget:
        if self.end < self.start:
            raise ValueError(f"the flight ends ({self.end}) before it starts ({self.start})")
        if len(self.weekday_weights) != 7 or any(not w > 0 for w in self.weekday_weights):
            raise ValueError("weekday_weights needs seven positive numbers, Monday first")
        return self


class PacedDay(BaseModel):
    currency: str
    day: dt.date
    daily_total_micros: int
    remaining_micros: int
    days_left: int
    evidence: str


def pace(flight: FlightBudget, today: dt.date, *, minor_unit_micros: int = 10_000) -> PacedDay:
    """Today's total: what is left times today's weight over the weights of the days left, in whole minor
    units. Refuses days outside the flight and a flight already spent."""
    if not flight.start <= today <= flight.end:
        raise AllocationError(f"{today} is outside the flight {flight.start}..{flight.end}")
    remaining = flight.total_micros - flight.spent_micros
    if remaining <= 0:
        raise AllocationError(
            f"the flight budget is spent: {flight.spent_micros / 1e6:,.2f} of "
            f"{flight.total_micros / 1e6:,.2f} {flight.currency}; nothing is left to allocate"
        )
    days = [today + dt.timedelta(days=k) for k in range((flight.end - today).days + 1)]
    weights = [flight.weekday_weights[d.weekday()] for d in days]
    share = weights[0] / sum(weights)
    daily = int(remaining * share) // minor_unit_micros * minor_unit_micros
    if daily <= 0:
        raise AllocationError(
            f"what is left ({remaining / 1e6:,.4f} {flight.currency}) is less than one minor unit a day"
        )
    return PacedDay(
        currency=flight.currency,
        day=today,
        daily_total_micros=daily,
        remaining_micros=remaining,
        days_left=len(days),
        evidence=f"{remaining / 1e6:,.2f} {flight.currency} left over {len(days)} day(s); "
        f"today's weight {share:.1%} of what is left",
    )
