"""Limits the DSS enforces, from ASTM F3548-21's constants (``uas_standards``) and the reference DSS.

Input beyond a limit is refused with a clear message (HTTP 400, or 413 for areas), never truncated.
"""

from __future__ import annotations

from datetime import timedelta

from uas_standards.astm.f3548.v21 import constants as f3548

#: Most vertices in an operational intent's polygon.
OI_MAX_VERTICES: int = f3548.OiMaxVertices
#: How far ahead an operational intent may be planned.
OI_MAX_PLAN_HORIZON = timedelta(days=f3548.OiMaxPlanHorizonDays)
#: Most vertices in a constraint's polygon.
CSTR_MAX_VERTICES: int = f3548.CstrMaxVertices
#: Largest area of a constraint's outline, km².
CSTR_MAX_AREA_KM2: float = float(f3548.CstrMaxAreaKm2)
#: Longest duration of a constraint.
CSTR_MAX_DURATION = timedelta(hours=f3548.CstrMaxDurationHours)
#: How far ahead a constraint may be published.
CSTR_MAX_PLAN_HORIZON = timedelta(days=f3548.CstrMaxPlanningHorizonDays)
#: Longest subscription window; also the default length of a subscription with no end.
SUBSCRIPTION_MAX_DURATION = timedelta(hours=f3548.DSSMaxSubscriptionDurationHours)
#: Largest area of an operational intent outline or a search area, km² (as the reference DSS).
MAX_AREA_KM2 = 2500.0
#: Most volumes in one request's extents.
MAX_EXTENTS = 1000
#: Most OVNs in a key.
MAX_KEY_LENGTH = 10000
#: How far in the past a subscription may start (clock skew allowance, as the reference DSS).
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: Longest uss_base_url accepted.
MAX_URL_LENGTH = 2048
