"""Locating a call on the network: account number, pole number, phone position, address."""

from outages.locate.locator import Locator, normalise_account
from outages.locate.model import Candidate, Location, Method

__all__ = ["Candidate", "Location", "Locator", "Method", "normalise_account"]
