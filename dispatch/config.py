"""The 95598 time limits, as settings a utility can change without a code change.

Read once at start-up by the caller (``ClockSettings()``), from ``GRIDCALL_CLOCK_*``
environment variables, and passed to the clock functions; nothing here reads the
environment later, so a running service and its tests see one consistent set of limits.

Defaults and where they come from (article numbers of the 95598 standard):

- dispatch: the electronic work order reaches the repair unit within 5 minutes of the call
  (第二十三条);
- arrival on site, counted from the first call as the customer experiences it: 45 / 90 /
  120 minutes for urban / rural / remote (特殊边远) areas, the usual State Grid commitment
  that 第二十三条 refers to ("承诺时限");
- restoration after arrival: 3 h urban, 4 h rural, 4 h remote;
- reply to a complaint within 5 days, to a report (举报) within 10 days (第十三条, 第二十六条).
  The standard says "5天/10天", not "工作日", where 第三十条 does say 工作日 for callbacks; the
  hotline is staffed every day, so the default is calendar days (``reply_day_kind``). A
  calendar-day limit ends at the end of the N-th day after the day of receipt, like the
  working-day limits, and is not extended when it ends on a holiday;
- callback within 1 working day after completion, further attempts until 3 working days
  after completion when the customer could not be reached (第三十条);
- a warning once 80 % of a clock's span has elapsed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ClockSettings", "DayKind"]


class DayKind(StrEnum):
    """How a limit given in days is counted."""

    CALENDAR = "calendar"
    WORKING = "working"


class ClockSettings(BaseSettings):
    """Every time limit the clocks enforce; environment variables ``GRIDCALL_CLOCK_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="GRIDCALL_CLOCK_", frozen=True)

    dispatch_minutes: int = Field(5, gt=0, description="第二十三条: order to the unit")
    arrival_urban_minutes: int = Field(45, gt=0, description="crew on site, urban area")
    arrival_rural_minutes: int = Field(90, gt=0, description="crew on site, rural area")
    arrival_remote_minutes: int = Field(120, gt=0, description="crew on site, remote area")
    restoration_urban_hours: float = Field(3, gt=0, description="supply back, after arrival")
    restoration_rural_hours: float = Field(4, gt=0, description="supply back, after arrival")
    restoration_remote_hours: float = Field(4, gt=0, description="supply back, after arrival")
    complaint_reply_days: int = Field(5, ge=1, description="第二十六条: 投诉 answered")
    report_reply_days: int = Field(10, ge=1, description="第二十六条: 举报 answered")
    reply_day_kind: DayKind = Field(DayKind.CALENDAR, description="how reply days are counted")
    callback_first_working_days: int = Field(1, ge=1, description="第三十条: first callback")
    callback_window_working_days: int = Field(3, ge=1, description="第三十条: last attempt")
    warn_fraction: float = Field(0.8, gt=0, lt=1, description="share of a span before warning")
    holidays_file: Path | None = Field(None, description="extra holidays / working days")

    @model_validator(mode="after")
    def _callback_window_contains_first(self) -> Self:
        if self.callback_window_working_days < self.callback_first_working_days:
            raise ValueError(
                "callback_window_working_days must be at least callback_first_working_days"
            )
        return self
