"""The simulated clock: whole hours since the world's first hour, moved only forward."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from sandbox.market.errors import ClockError

MAX_ADVANCE_HOURS = 400 * 24


class SimTime(BaseModel):
    """A point on the simulated clock as clients see it."""

    model_config = ConfigDict(frozen=True)

    hour_index: int
    date: dt.date  # today's date (every account's local calendar day)
    hours_done: int  # whole hours of today that have happened (0-23)
    day_index: int


class SimClock:
    def __init__(self, start: dt.date, now_hour: int) -> None:
        self.start = start
        self.now_hour = now_hour

    @property
    def today(self) -> int:
        return self.now_hour // 24

    def time(self) -> SimTime:
        day = self.today
        return SimTime(
            hour_index=self.now_hour,
            date=self.start + dt.timedelta(days=day),
            hours_done=self.now_hour % 24,
            day_index=day,
        )

    def check_advance(self, *, days: int = 0, hours: int = 0) -> int:
        """Validate an advance and return it in hours; the clock is not moved."""
        if days < 0 or hours < 0:
            raise ClockError("the clock only moves forward: days and hours must not be negative")
        total = days * 24 + hours
        if total == 0:
            raise ClockError("advance by at least one hour")
        if total > MAX_ADVANCE_HOURS:
            raise ClockError(f"advance by at most {MAX_ADVANCE_HOURS // 24} days at a time")
        return total

    def advance(self, *, days: int = 0, hours: int = 0) -> SimTime:
        self.now_hour += self.check_advance(days=days, hours=hours)
        return self.time()
