"""A party node's HTTP interfaces: the F3548 USS peer API (``/uss/v1``), the native operations API
(``/ops/v1``) and the InterUSS flight-planning test interface (``/flight_planning/v1``)."""
