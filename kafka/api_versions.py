"""ApiVersions (key 18), v0-v3.

Advertises exactly what the registry serves.  A client asking a version above v3 gets
Kafka's fallback: a v0 response with ``UNSUPPORTED_VERSION`` and the full list, from which
it picks a version both sides know (KIP-511).  The v3 request's client software name and
version are accepted and not checked.  Differs from Kafka: no supported or finalized
features are announced (zafka has no feature flags).
"""

from __future__ import annotations

from typing import Any

from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsV0
from zafka.kafka import codec
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import NO_THROTTLE, Context, Outcome, Respond, error, make

API_KEY = 18
APIS = {API_KEY: (0, 3)}


def response(cls: Any, context: Context, error_code: int = 0) -> Any:
    return make(cls, error_code=error(error_code), throttle_time=NO_THROTTLE,
                api_keys=lambda item: tuple(
                    make(item, api_key=key, min_version=low, max_version=high)
                    for key, (low, high) in sorted(context.supported.items())))


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    return Respond(response(codec.response_class(API_KEY, header.api_version), context))


def unsupported_version_response(context: Context) -> Any:
    """The v0 answer to an ApiVersions request of a version this broker does not know."""
    return response(ApiVersionsV0, context, error_code=35)


__all__ = ["APIS", "handle", "unsupported_version_response"]
