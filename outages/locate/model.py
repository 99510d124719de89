"""What the locator answers: a best location, how it was found, and the candidates behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Method(StrEnum):
    ACCOUNT = "account"
    POLE = "pole"
    GPS = "gps"
    ADDRESS = "address"
    ADMIN = "admin"
    NONE = "none"


@dataclass(frozen=True)
class Candidate:
    """One place the call may come from, with the likelihood that it is the one."""

    lon: float
    lat: float
    likelihood: float  # 0..1; a call's candidates sum to at most 1
    method: Method
    transformer_id: str | None = None
    service_point_id: str | None = None
    element_id: str | None = None  # the network element matched (a pole's line, ...)
    admin_id: str | None = None
    evidence: tuple[str, ...] = ()
    pole_id: str | None = None  # the pole a pole label named


@dataclass(frozen=True)
class Location:
    lon: float | None
    lat: float | None
    method: Method
    confidence: float
    service_point_id: str | None = None
    transformer_id: str | None = None
    element_id: str | None = None
    admin_id: str | None = None
    candidates: tuple[Candidate, ...] = ()
    evidence: tuple[str, ...] = ()
    reason: str | None = None  # why nothing better was found (method none / low confidence)
    extra: dict[str, Any] = field(default_factory=dict)
    pole_id: str | None = None  # the pole a pole label named (element_id is its line section)

    def contract_dict(self) -> dict[str, Any]:
        """The ``location`` object of a replay line (CONTRACT section 3)."""
        return {
            "lon": self.lon,
            "lat": self.lat,
            "method": self.method.value,
            "confidence": round(self.confidence, 4),
            "service_point_id": self.service_point_id,
            "transformer_id": self.transformer_id,
        }
