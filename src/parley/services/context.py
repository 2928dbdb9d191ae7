"""What every DSS use case needs: storage, time, randomness and policy, injected by bootstrap."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from parley.domain.errors import InvalidInput
from parley.domain.limits import MAX_URL_LENGTH
from parley.ports.clock import Clock
from parley.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class DssContext:
    """Dependencies and policy of the DSS use cases."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    #: Accept ``http://`` USS base URLs (local deployments); otherwise only ``https://``.
    allow_http_base_urls: bool = True
    #: Attempts after the first when a transaction loses a race with a concurrent one.
    max_retries: int = 20
    #: Source of random bytes for OVN salts and generated ids.
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)

    def validate_base_url(self, url: str, what: str = "uss_base_url") -> str:
        """A USS base URL: absolute http(s) URL with a host, no trailing '/'."""
        if not url:
            raise InvalidInput(f"{what} is required")
        if len(url) > MAX_URL_LENGTH:
            raise InvalidInput(f"{what} is longer than {MAX_URL_LENGTH} characters")
        parts = urlsplit(url)
        allowed = ("https", "http") if self.allow_http_base_urls else ("https",)
        if parts.scheme not in allowed:
            raise InvalidInput(f"{what} must be an {' or '.join(allowed)} URL, got `{url}`")
        if not parts.hostname:
            raise InvalidInput(f"{what} `{url}` has no host")
        return url
