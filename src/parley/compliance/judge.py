"""The requester's judgement of a clearance certificate: checked against its own request, not the
obligor's word (used by the requester's node, and offline by ``parley line verify``).

The zone is the request's volume grown by the buffers the request asked for (``buffer``: ``h_m``,
``v_m``; :data:`~parley.compliance.zone.DEFAULT_BUFFER_H_M` and ``_V_M`` when it names none). A
certificate judged with smaller buffers than requested fails; so does one without samples, or with
samples that are malformed; the rest is :func:`~parley.compliance.certificate.verify_certificate`
and, with the requester's own surveillance, :func:`~parley.compliance.certificate.cross_check`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from parley.compliance.certificate import cross_check, verdict, verify_certificate
from parley.compliance.samples import NEAR_MARGIN_M, Sample, samples_from_json
from parley.compliance.zone import DEFAULT_BUFFER_H_M, DEFAULT_BUFFER_V_M, Zone
from parley.domain.errors import InvalidInput
from parley.domain.operations import TelemetrySample
from parley.line.bodies import RequestType
from parley.line.entry import Entry
from parley.line.lifecycle import Thread

Json = dict[str, Any]

#: How long before and after the shared samples the requester's own surveillance is read, seconds.
SURVEILLANCE_SLACK_S = 30.0


def buffers(body: Mapping[str, Any]) -> tuple[float, float]:
    """The horizontal and vertical buffers a request asks for (the defaults when it names none)."""
    buffer = body.get("buffer")
    if isinstance(buffer, Mapping):
        return float(buffer["h_m"]), float(buffer["v_m"])
    return DEFAULT_BUFFER_H_M, DEFAULT_BUFFER_V_M


def zone_of(request: Entry) -> Zone:
    """The zone a ``vacate`` or ``hold_clear`` request names: its volume plus its buffers."""
    h, v = buffers(request.body)
    return Zone.from_volume(
        request.body["volume"], buffer_h_m=h, buffer_v_m=v, name=str(request.body.get("subject", "")),
        where="body.volume",
    )  # fmt: skip


def inside(zone: Zone) -> Callable[[Sample], bool]:
    """Whether a sample lies inside the zone grown by its buffers."""
    return lambda s: zone.contains(s.lat, s.lng, s.alt_m)


def near(zone: Zone) -> Callable[[Sample], bool]:
    """Whether a sample lies within :data:`NEAR_MARGIN_M` of the zone grown by its buffers."""
    return lambda s: zone.margin_m(s.lat, s.lng, s.alt_m) <= NEAR_MARGIN_M


def judge(
    thread: Thread,
    certificate: Entry,
    *,
    accept: Mapping[str, Any] | None,
    evidence: str | Mapping[str, Any] | None,
    surveillance: Callable[[datetime, datetime], Sequence[TelemetrySample]] | None = None,
) -> Json:
    """The verdict body a requester signs on ``certificate`` (an entry of ``thread``): checked against
    the request's own zone (volume and requested buffers), the deadline, the aircraft the acceptance
    named (``accept``'s ``affected``, when present), the shared samples (``evidence``, JSON text), and,
    when ``surveillance(start, end)`` gives positions of the requester's own feed, cross-checked."""
    request = thread.request
    zone = zone_of(request)
    body = certificate.body
    extra: list[str] = []
    try:
        if (
            float(body["zone"]["buffer_h_m"]) < zone.buffer_h_m
            or float(body["zone"]["buffer_v_m"]) < zone.buffer_v_m
        ):
            extra.append(
                f"certificate: judged with buffers {body['zone']['buffer_h_m']} m / {body['zone']['buffer_v_m']} m, "
                f"less than the {zone.buffer_h_m:g} m / {zone.buffer_v_m:g} m requested"
            )
    except (KeyError, TypeError, ValueError):
        pass  # verify_certificate names a malformed body
    samples: dict[str, tuple[Sample, ...]] = {}
    if evidence is None:
        extra.append("certificate: no samples were shared with it")
    else:
        try:
            shared = json.loads(evidence) if isinstance(evidence, str) else evidence
            if not isinstance(shared, dict):
                raise InvalidInput("evidence: expected an object of samples by aircraft")
            samples = {str(k): samples_from_json(v, f"evidence.{k}") for k, v in shared.items()}
        except (ValueError, InvalidInput) as error:
            extra.append(f"certificate: samples refused: {getattr(error, 'message', error)}")
    affected_ids = None if accept is None or "affected" not in accept else list(accept["affected"])
    check = verify_certificate(
        body,
        samples=samples,
        inside=inside(zone),
        deadline=thread.deadline,
        hold_until=zone.end if thread.type is RequestType.HOLD_CLEAR else None,
        affected=affected_ids,
    )
    agreement = None
    if surveillance is not None and samples and check.ok and not extra:
        times = [s.t for track in samples.values() for s in track]
        slack = timedelta(seconds=SURVEILLANCE_SLACK_S)
        own = surveillance(min(times) - slack, max(times) + slack)
        if own:
            tracks: dict[str, list[Sample]] = {}
            for s in own:
                tracks.setdefault(s.operation_id, []).append(Sample(s.t, s.lat, s.lng, s.alt_m))
            agreement = cross_check(samples, tracks)
    result = verdict(check, agreement)
    out: Json = {"recipient": certificate.party, "certificate": certificate.hash, **result.to_json()}
    if extra:
        out["outcome"] = "failed"
        out["reasons"] = (extra + list(out.get("reasons", [])))[:100]
    return out
