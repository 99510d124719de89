"""Settings of the grouping and outage inference, from ``GRIDCALL_GROUPING_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GroupingSettings(BaseSettings):
    """The evidence model behind repeat detection (article 24).

    Calls are evidence about faults: out customers call at ``call_rate``, after a delay that
    is mostly short (``delay_fast_minutes``) with a long tail (``delay_slow_minutes``); every
    further fault is a priori unlikely (``fault_prior``). These few numbers replace the usual
    tables of roll-up thresholds: a set of calls rolls up to a device when one fault there
    explains them better than several faults below it, which in practice means when the
    calls cover most of the device's customers and started together.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDCALL_GROUPING_", extra="ignore", frozen=True)

    call_rate_min: float = Field(0.05, gt=0, lt=1, description="share of out customers who call")
    call_rate_max: float = Field(0.15, gt=0, lt=1)
    fault_prior: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="prior of a fault at a device of average line exposure during a storm "
        "(0.1 rather than 0.05: on 16 simulated storms on each of four grids, grouping F1 "
        "+0.0045 and device accuracy +0.015 on average; see docs/benchmarks.md)",
    )
    delay_fast_minutes: float = Field(12.0, gt=0)
    delay_slow_minutes: float = Field(90.0, gt=0)
    delay_fast_share: float = Field(0.8, gt=0, lt=1)
    onset_lead_minutes: float = Field(2.0, ge=0, description="the fault precedes its first call")
    onset_resolution_minutes: float = Field(
        10.0, gt=0, description="how precisely calls date a fault's onset"
    )
    cluster_minutes: float = Field(
        30.0,
        gt=0,
        description="storms put several faults on one feeder within minutes "
        "(a squall line crosses it): separate faults whose onsets fall within the calls' "
        "resolution of each other are that much less of a coincidence",
    )
    merge_window_minutes: float = Field(
        45.0, gt=0, description="incidents whose onsets differ more are separate faults"
    )
    rejoin_minutes: float = Field(
        24 * 60.0,
        gt=0,
        description="a call below an open incident older than this starts a new one (until a "
        "crew restores it, an outage goes on, and its late callers belong to it)",
    )
    restore_minutes: float = Field(
        150.0,
        gt=0,
        description="typical outage length: a call long after an incident's onset "
        "is less likely to be one of its callers (the crew may have restored it)",
    )
    new_burst_minutes: float = Field(
        60.0, gt=0, description="below an older open incident, a call may start a new fault"
    )
    renewed_share: float = Field(
        2 / 3,
        gt=0,
        le=1,
        description="a late burst is the customers of a repaired nested fault calling again "
        "when this share of its calls is in that fault's area (a stray late call of the "
        "outage itself must not hide it)",
    )
    renewed_spread: float = Field(
        3.0,
        ge=0,
        description="log-likelihood ratio beyond which a late burst confined to a part of a "
        "repaired nested fault's area is a fault of its own: that area's customers, still "
        "dark, call again from all over it",
    )
    roll_up_margin: float = Field(
        2.0,
        ge=0,
        description="log-likelihood a roll-up must gain (a few calls at the first "
        "minute cannot yet tell one fault from several)",
    )
    settle_minutes: float = Field(
        5.0, gt=0, description="how often open incidents are re-examined as silence grows"
    )
    certain_likelihood: float = Field(0.9, gt=0, le=1)
    sighting_transformer_ratio: float = Field(
        20.0,
        ge=1,
        description="how much likelier a caller reports a transformer humming, smoking or "
        "burning when that transformer itself failed than when the fault is elsewhere",
    )
    sighting_line_ratio: float = Field(
        6.0,
        ge=1,
        description="how much likelier a caller reports a wire or pole down when a line "
        "failed (cleared by a switch) than when a transformer failed",
    )
    settle_roll_up_margin: float = Field(
        0.5,
        ge=0,
        description="log-likelihood a roll-up must gain when the open incidents are "
        "re-examined, their first minutes' calls in (0.5 rather than roll_up_margin: on "
        "the bushy grid's storms of seeds 16-31, F1 0.947 -> 0.959; see docs/benchmarks.md)",
    )
    split_margin: float = Field(
        2.0, ge=0, description="log-likelihood a split must gain before a roll-up is undone"
    )
    split_margin_per_call: float = Field(
        0.04,
        ge=0,
        description="and more per call it moves out of its largest part: one call rate "
        "and one delay law are approximations, and giving a part its own rate and onset "
        "fits its calls better by an amount that grows with their number, so a large "
        "outage would otherwise be cut into its branches on that misfit alone",
    )
    customer_side_quiet_minutes: float = Field(
        30.0, gt=0, description="a lone call whose neighbours stay quiet this long is flagged"
    )
    same_caller_hours: float = Field(12.0, gt=0, description="repeat calls from one phone")
    unlocated_radius_m: float = Field(1500.0, gt=0, description="space-time grouping radius")
    unlocated_minutes: float = Field(60.0, gt=0, description="space-time grouping window")
    dominant_share: float = Field(
        0.5,
        gt=0,
        le=1.0,
        description="a call that nothing places joins the outage that took "
        "at least this share of the located calls of the last minutes (storm mode)",
    )
    dominant_minutes: float = Field(20.0, gt=0)
