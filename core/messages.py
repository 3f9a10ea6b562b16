"""The message catalogue: every message between actors or processes.

Each message is a frozen, slotted, keyword-only dataclass with a one-line docstring, declared
with ``@message``.  The transport's allow-listing unpickler accepts exactly the classes that
``catalogue()`` returns (plus ``core.errors.ErrorCode``), so a class that is not declared here
can never be decoded from the wire.

Bulk bytes (record batches) are carried as ``memoryview`` / ``bytearray`` fields: the codec
sends them as out-of-band ZeroMQ frames and the receiver gets a ``memoryview`` over the frame,
copied neither way.  ``bytes`` fields are fine for small values (they travel in-band).

The file is split into sections, one per protocol; each section is owned by one layer.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, TypeVar

from core.errors import ErrorCode

T = TypeVar("T")

# The type of record-batch payloads on the wire (bytes in memory, memoryview after receipt).
Blob = bytes | bytearray | memoryview


def message(cls: type[T]) -> type[T]:
    """Declare a catalogue message: frozen, slotted, keyword-only dataclass."""
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


# =====================================================================================
# Section: transport and node plumbing (owner: transport/, actors/base.py)
# =====================================================================================


@message
class Envelope:
    """What travels between processes: a body addressed to an actor, with its reply path."""

    source: str  # address of the sending process ("tcp://127.0.0.1:9301")
    reply_to: str  # actor name at ``source`` that receives the reply ("" = none)
    dest: str  # actor name at the receiving process
    correlation_id: int
    body: Any


@message
class Tick:
    """One logical tick from the process ticker."""

    count: int


@message
class ErrorReply:
    """A request failed; ``code`` names the Kafka-style error."""

    code: ErrorCode
    message: str = ""


@message
class StatusRequest:
    """Ask a node actor for its status."""


@message
class StatusReply:
    """A node's role, identity and role-specific details."""

    role: str
    node_id: int
    pid: int
    address: str
    details: dict[str, Any]


@message
class Echo:
    """Ask an actor to send ``payload`` back (transport tests and benchmarks)."""

    payload: Any


@message
class EchoReply:
    """The payload of an ``Echo``, returned."""

    payload: Any


@message
class Shutdown:
    """Ask a node process to stop cleanly."""


# =====================================================================================
# Section: raft (owner: core/raft.py)
# =====================================================================================


# =====================================================================================
# Section: metadata commands and controller requests (owner: core/metadata.py)
# =====================================================================================


# =====================================================================================
# Section: replication, produce and fetch (owner: core/replication.py, actors/)
# =====================================================================================


# =====================================================================================
# Section: consumer groups and offsets (owner: actors/group.py, client/)
# =====================================================================================


def catalogue() -> frozenset[type]:
    """Every class the wire may carry: the dataclasses and enums declared in this module."""
    found: set[type] = {ErrorCode}
    for value in globals().values():
        if not isinstance(value, type) or value.__module__ != __name__:
            continue
        if dataclasses.is_dataclass(value) or issubclass(value, enum.Enum):
            found.add(value)
    return frozenset(found)


__all__ = [
    "Blob", "Echo", "EchoReply", "Envelope", "ErrorReply", "Shutdown", "StatusReply",
    "StatusRequest", "Tick", "catalogue", "message",
]
