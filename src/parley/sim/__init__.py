"""Scenarios and the simulation that plays them against real party nodes (``docs/scenarios.md``)."""
