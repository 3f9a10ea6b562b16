"""The frame codec: round trips, out-of-band buffers, and the allow-listing unpickler."""

from __future__ import annotations

import io
import os
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zafka.core.messages import (
    CoordinatorStatus,
    Echo,
    Envelope,
    NodeRole,
    RaftRole,
    RegisteredBroker,
    StatusReply,
)
from zafka.transport import codec


def envelope(body: object) -> Envelope:
    return Envelope(source="tcp://127.0.0.1:1", reply_to="r", dest="d", correlation_id=7,
                    body=body)


def test_round_trip_keeps_every_field() -> None:
    sent = envelope(StatusReply(
        role=NodeRole.COORDINATOR, node_id=2, pid=3, address="a", transport={"sent": 4},
        undeliverable=0, coordinator=CoordinatorStatus(
            raft_role=RaftRole.LEADER, term=3, leader_id=None, commit_index=9,
            applied_index=8, is_controller=True, metadata_offset=7, topics=1,
            brokers=(RegisteredBroker(broker_id=1, fenced=False, epoch=5, address="b"),))))
    assert codec.decode([bytes(f) for f in codec.encode(sent)]) == sent


def test_large_buffers_travel_out_of_band_and_arrive_as_views_of_the_frame() -> None:
    payload = bytearray(os.urandom(1 << 20))
    frames = codec.encode(envelope(Echo(payload=memoryview(payload))))
    assert len(frames) == 2
    assert len(frames[0]) < 1024, "the record bytes must not be inside the pickle"
    payload[0] ^= 0xFF
    assert frames[1][0] == payload[0], "encoding must not copy the buffer: they share memory"
    received = bytearray(frames[1])  # stands in for the ZeroMQ frame
    decoded = codec.decode([frames[0], received])
    assert isinstance(decoded.body.payload, memoryview)
    assert decoded.body.payload == payload
    received[1] ^= 0xFF
    assert decoded.body.payload[1] == received[1], "decoding must not copy the frame"


def test_small_buffers_stay_in_band() -> None:
    frames = codec.encode(envelope(Echo(payload=memoryview(b"x" * 100))))
    assert len(frames) == 1
    assert codec.decode(frames).body.payload == b"x" * 100


class Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, ("touch /tmp/zafka-pwned",)


def test_a_pickle_of_a_class_outside_the_catalogue_is_refused_and_never_run(tmp_path) -> None:
    evil = pickle.dumps(envelope(Exploit()), protocol=5)
    with pytest.raises(codec.DecodeError, match="not in the message catalogue"):
        codec.decode([evil])
    assert not os.path.exists("/tmp/zafka-pwned")


def test_a_non_catalogue_body_is_refused_at_encode() -> None:
    with pytest.raises(codec.EncodeError):
        codec.encode(envelope({"a": 1}))


def test_a_frame_that_is_not_an_envelope_is_refused() -> None:
    with pytest.raises(codec.DecodeError, match="not an Envelope"):
        codec.decode([pickle.dumps(Echo(payload=1), protocol=5)])


def test_an_envelope_whose_body_is_not_a_message_is_refused() -> None:
    stream = io.BytesIO()
    pickle.Pickler(stream, protocol=5).dump(envelope(("a", "tuple")))
    with pytest.raises(codec.DecodeError, match="not a catalogue message"):
        codec.decode([stream.getvalue()])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=0, max_size=4))
def test_garbage_frames_only_ever_raise_decode_error(frames: list[bytes]) -> None:
    try:
        codec.decode(frames)
    except codec.DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(min_value=0, max_value=199))
def test_corrupted_real_frames_only_ever_raise_decode_error(noise: bytes, at: int) -> None:
    frame = bytearray(codec.encode(envelope(Echo(payload=[1, "two", b"three"])))[0])
    frame[at % len(frame):at % len(frame) + len(noise)] = noise
    try:
        codec.decode([bytes(frame)])
    except codec.DecodeError:
        pass
