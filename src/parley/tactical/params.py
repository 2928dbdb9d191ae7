"""Separation minima, the look-ahead, and the earth model the engine computes relative positions on.

>>> Separation().rpz_m, Separation().hpz_m, Separation().lookahead_s
(9260.0, 304.8, 300.0)
>>> Separation(rpz_m=-1.0)
Traceback (most recent call last):
...
parley.tactical.errors.InvalidTracks: rpz_m must be a positive finite number, got -1.0
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from parley.tactical.errors import InvalidTracks

#: One international nautical mile, metres.
NM_M = 1852.0
#: One international foot, metres.
FT_M = 0.3048


class Geometry(enum.Enum):
    """How the relative position and velocity of a pair are computed.

    ``WGS84`` (the default): both aircraft are placed on the WGS84 ellipsoid (earth-centred
    cartesian coordinates); the pair's relative position and the two velocity vectors are projected
    on the tangent plane at the pair's mid-normal. Exact chord geometry: the relative-position error is
    the chord-versus-arc difference, d^3 / (24 R^2), about 6 mm at 10 NM; valid at any latitude and
    across the antimeridian, and each velocity is turned by the convergence of meridians between the
    aircraft and the pair's frame.

    ``SPHERE``: the same construction on a sphere of radius 6 371 km (isolates the ellipsoid's effect).

    ``FLAT``: BlueSky's "kwik" flat-earth approximation on the 6 371 km sphere: east offset
    ``R * dlon * cos(mean lat)``, north offset ``R * dlat``, each velocity taken unturned in its own
    local east/north axes. Its errors (0.3 % in distance from the sphere, meridian convergence ignored,
    wrong near the poles) are why Parley does not use it by default; it is here to reproduce BlueSky's
    decisions exactly when comparing against it. Only :class:`~parley.tactical.allpairs.AllPairsDetector`
    and :func:`~parley.tactical.cpa.evaluate_pairs` accept it.
    """

    WGS84 = "wgs84"
    SPHERE = "sphere"
    FLAT = "flat"


@dataclass(frozen=True, slots=True)
class Separation:
    """Default minima for every aircraft that does not override them.

    - ``rpz_m``: horizontal protected-zone radius (default 5 NM).
    - ``hpz_m``: vertical half-height of the protected zone (default 1000 ft).
    - ``lookahead_s``: how far ahead the state is extrapolated (default 300 s).
    - ``vertical_tolerance_m``: the vertical minimum actually applied is ``hpz - tolerance``, so two
      aircraft exactly ``hpz`` apart (adjacent flight levels) are separated whatever the rounding of
      their altitudes; 0 gives the strict rule ``|dalt| < hpz`` (BlueSky's C++ detector).
    """

    rpz_m: float = 5 * NM_M
    hpz_m: float = 1000 * FT_M
    lookahead_s: float = 300.0
    vertical_tolerance_m: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("rpz_m", "hpz_m", "lookahead_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise InvalidTracks(f"{name} must be a positive finite number, got {value!r}")
        tol = self.vertical_tolerance_m
        if not (math.isfinite(tol) and tol >= 0.0):
            raise InvalidTracks(f"vertical_tolerance_m must be a finite number >= 0, got {tol!r}")


#: The defaults: 5 NM, 1000 ft, 300 s, 1 mm vertical tolerance.
DEFAULT_SEPARATION = Separation()
