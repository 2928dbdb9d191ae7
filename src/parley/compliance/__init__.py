"""Verified compliance: zones, affected aircraft, exit routes."""
