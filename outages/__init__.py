"""Calls, locating, repeat grouping, outage inference, planned outages, public query."""
