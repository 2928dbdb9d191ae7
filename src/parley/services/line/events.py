"""In-process fan-out of a node's line events to its live subscribers (the SSE stream)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

Json = dict[str, Any]

#: Events a slow subscriber may fall behind by before it is dropped.
QUEUE_SIZE = 1000


class EventHub:
    """Publish events to every current subscriber; a subscriber that cannot keep up is closed."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Json | None]] = set()

    def publish(self, event: Json) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Json | None]]:
        queue: asyncio.Queue[Json | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)
