"""Frame codec: envelopes to ZeroMQ frames and back, with an allow-listing unpickler.

Owns: the wire format.  An envelope is pickled with protocol 5; every ``memoryview`` or
``bytearray`` inside it of at least ``OUT_OF_BAND_MIN_BYTES`` travels as its own ZeroMQ frame
(out-of-band), so record batches are copied neither when sent nor when received: the receiver
gets a ``memoryview`` over the frame.  Frame 0 is the pickle; frames 1.. are the buffers.

Decoding accepts only the classes of the message catalogue (``core.messages.catalogue()``)
that may cross a process boundary (not ``Audience.LOCAL``).
Anything else — a class outside the catalogue, a truncated or garbage pickle, a body that is
not an ``Envelope``, a field that does not hold its declared type (``transport.validate``) —
raises ``DecodeError`` and is never executed.  Encoding checks field types too, so a sender's
bug fails in the sender.

Must never: touch sockets, import pykka, or fall back to an unrestricted unpickler.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from typing import Any

from zafka.core.messages import Audience, Envelope, audience_of, catalogue
from zafka.transport.validate import FieldTypeError, check_message

OUT_OF_BAND_MIN_BYTES = 1024
PICKLE_PROTOCOL = 5


class DecodeError(Exception):
    """A frame set that is not a well-formed envelope of catalogue messages."""


class EncodeError(Exception):
    """An envelope whose body is not a catalogue message."""


# Process-local calls are not in the wire's allow-list at all: no peer can make one decode.
_WIRE = frozenset(c for c in catalogue() if audience_of(c) is not Audience.LOCAL)
_ALLOWED: dict[tuple[str, str], Any] = {
    (cls.__module__, cls.__qualname__): cls for cls in _WIRE
}
_ALLOWED[("builtins", "memoryview")] = memoryview
_ALLOWED[("builtins", "bytes")] = bytes
_CATALOGUE = _WIRE


class _Pickler(pickle.Pickler):
    """Sends large bytes-likes out of band; everything else in band."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is memoryview or type(obj) is bytearray:
            if len(obj) < OUT_OF_BAND_MIN_BYTES:
                return bytes, (bytes(obj),)
            return memoryview, (pickle.PickleBuffer(obj),)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    """Resolves only allow-listed classes."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DecodeError(f"class {module}.{name} is not in the message catalogue") from None


def encode(envelope: Envelope) -> list[Any]:
    """The frames of ``envelope``: [pickle, *out-of-band buffers] (buffers not copied)."""
    if type(envelope.body) not in _CATALOGUE:
        raise EncodeError(f"{type(envelope.body).__qualname__} is not a catalogue message")
    try:
        check_message(envelope.body)
    except FieldTypeError as error:  # a bug in the sender: fail where it happened
        raise EncodeError(f"malformed message: {error}") from None
    buffers: list[pickle.PickleBuffer] = []
    stream = io.BytesIO()
    _Pickler(stream, protocol=PICKLE_PROTOCOL, buffer_callback=buffers.append).dump(envelope)
    return [stream.getbuffer(), *(b.raw() for b in buffers)]


def decode(frames: Sequence[Any]) -> Envelope:
    """The envelope in ``frames`` (bytes-likes or zmq Frames); raises ``DecodeError``."""
    if not frames:
        raise DecodeError("no frames")
    try:
        head = memoryview(frames[0])
        buffers = [memoryview(f) for f in frames[1:]]
        value = _Unpickler(io.BytesIO(head), buffers=buffers).load()
    except DecodeError:
        raise
    except Exception as exc:  # any malformed pickle: truncated, wrong opcode, bad arguments
        raise DecodeError(f"malformed frame: {type(exc).__name__}: {exc}") from None
    if type(value) is not Envelope:
        raise DecodeError(f"frame holds {type(value).__qualname__}, not an Envelope")
    if type(value.body) not in _CATALOGUE:
        raise DecodeError(f"body {type(value.body).__qualname__} is not a catalogue message")
    try:
        check_message(value)
        check_message(value.body)
    except FieldTypeError as error:
        raise DecodeError(f"malformed message: {error}") from None
    return value


def dumps(value: Any) -> bytes:
    """Catalogue objects as bytes (for snapshots that travel or rest on disk)."""
    stream = io.BytesIO()
    _Pickler(stream, protocol=PICKLE_PROTOCOL).dump(value)
    return stream.getvalue()


def loads(data: bytes | memoryview) -> Any:
    """The value ``dumps`` made, through the allow-listing unpickler; ``DecodeError`` else."""
    try:
        return _Unpickler(io.BytesIO(data)).load()
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"malformed data: {type(exc).__name__}: {exc}") from None


__all__ = ["DecodeError", "EncodeError", "OUT_OF_BAND_MIN_BYTES", "decode", "dumps", "encode",
           "loads"]
