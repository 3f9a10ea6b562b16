"""Bad input never crashes or hangs a node: every request type brokers, group coordinators
and coordinators accept, fuzzed (wrong types, huge sizes, negative offsets, unknown topics and
partitions), gets an error reply or is dropped and counted; garbage frames reach the frame
decoder and are dropped and counted.  After each input the node must still run and answer a
``StatusRequest`` (whose details carry the transport counters).

The requests are built from the catalogue's own type hints: most fields get a value of the
declared type, drawn towards the edges (negative, zero, 2**31, 2**63, unknown names, empty and
oversized byte strings); some get a value of a wrong type.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import pickle
import time
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from zafka.actors.base import handler_name
from zafka.actors.broker import BrokerActor
from zafka.actors.coordinator import CoordinatorActor
from zafka.actors.group import GroupActor
from zafka.chaos.harness import CHAOS_TUNABLES
from zafka.core import messages
from zafka.core.errors import ClusterAuthorizationFailed, RequestTimedOut, ZafkaError
from zafka.core.messages import FindCoordinatorRequest, StatusReply, StatusRequest, catalogue
from zafka.storage.records import Record, encode_batch
from zafka.transport import codec
from zafka.transport.cluster_file import ClusterFile, client_bind_url
from zafka.transport.remote import Postbox

from zafka.launcher import Cluster

REPLY_TIMEOUT_S = 2.0
NOT_FUZZED = {"SetFaults", "Shutdown", "Relay"}  # test hooks and plumbing, not requests


def requests_served_by(actor: type) -> list[type]:
    """Catalogue request types the actor class has a handler for."""
    return sorted((c for c in catalogue() if c.__name__.endswith("Request")
                   and c.__name__ not in NOT_FUZZED and hasattr(actor, handler_name(c))),
                  key=lambda c: c.__name__)


TARGETS: list[tuple[str, str, type]] = (
    [("broker-1", "broker", c) for c in requests_served_by(BrokerActor)]
    + [("broker-1", "group", c) for c in requests_served_by(GroupActor)]
    + [("coordinator-1", "coordinator", c) for c in requests_served_by(CoordinatorActor)])

# --- values -----------------------------------------------------------------------------

EDGE_INTS = [-(2**63), -(2**31), -2, -1, 0, 1, 2, 3, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**70]
NAMES = ["fuzz", "no-such-topic", "", "__consumer_offsets", "x" * 300, "../../etc", "fuzz\x00"]
BATCH = encode_batch([Record(key=b"k", value=b"v", timestamp_ms=0)])
BLOBS = [b"", b"\x00" * 61, BATCH, BATCH[:30], BATCH[:-1], b"\xff" * 2000,
         bytes(2 * 1024 * 1024), os.urandom(200)]

wrong_type = st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=8),
                       st.binary(max_size=16), st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                       st.sampled_from(EDGE_INTS))


def typed(hint: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the declared type ``hint``, drawn towards the edges."""
    origin = typing.get_origin(hint)
    if hint is int:
        return st.one_of(st.sampled_from(EDGE_INTS), st.integers(-10, 10**6))
    if hint is bool:
        return st.booleans()
    if hint is float:
        return st.one_of(st.floats(), st.sampled_from([0.0, -1.0, 1e300]))
    if hint is str:
        return st.one_of(st.sampled_from(NAMES), st.text(max_size=20))
    if hint in (bytes, bytearray, memoryview) or hint is messages.Blob:
        return st.sampled_from(BLOBS).map(lambda b: memoryview(bytearray(b)))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return message_of(hint, depth + 1)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(field_value(args[0], depth + 1), max_size=3).map(tuple)
        return st.tuples(*(field_value(a, depth + 1) for a in args))
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(typed(a, depth) for a in typing.get_args(hint)))
    if origin is dict:
        return st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)
    if hint is type(None):
        return st.none()
    return wrong_type


def field_value(hint: Any, depth: int) -> st.SearchStrategy[Any]:
    """A value of the declared type (nested messages at most four deep)."""
    if depth > 3:
        return st.just(()) if typing.get_origin(hint) is tuple else typed(hint, 0)
    return typed(hint, depth)


def message_of(cls: type, depth: int = 0) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, vars(messages))
    fields = {f.name: field_value(hints[f.name], depth) for f in dataclasses.fields(cls)}
    return st.fixed_dictionaries(fields).map(lambda values: cls(**values))


def fuzzed_request() -> st.SearchStrategy[tuple[str, str, Any]]:
    return st.sampled_from(TARGETS).flatmap(
        lambda t: message_of(t[2]).map(lambda message: (t[0], t[1], message)))


# --- the cluster under fuzz -------------------------------------------------------------


def small_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One coordinator and one broker with a topic "fuzz" of two partitions and the
    consumer offsets topic, its coordinator leading."""
    from zafka.client.admin import Admin

    with Cluster(brokers=1, coordinators=1, tunables=dict(CHAOS_TUNABLES),
                 data_dir=tmp_path_factory.mktemp("fuzz")) as cluster:
        with Admin(str(cluster.cluster_file_path)) as admin:
            admin.create_topic("fuzz", partitions=2, replication_factor=1)
        cluster.ref("broker-1", "broker").ask(FindCoordinatorRequest(group_id="g"), 10).result()
        yield cluster


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from small_cluster(tmp_path_factory)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster like ``small`` that no fuzzer touched (wrong-type cases run on it)."""
    yield from small_cluster(tmp_path_factory)


def status(cluster: Cluster, name: str) -> StatusReply:
    reply = cluster.ref(name).ask(StatusRequest(), 5).result()
    assert isinstance(reply, StatusReply)
    return reply


def assert_still_serving(cluster: Cluster, name: str, what: str) -> None:
    """The node runs and answers; a crashed node is restarted (for the next input) and the
    input that crashed it reported."""
    node = cluster.node(name)
    try:
        status(cluster, name)
        return
    except ZafkaError:
        pass
    crashed = not node.running()
    cluster.restart(name)
    cluster.wait_for_coordinator_leader(timeout=15)
    pytest.fail(f"{name} {'crashed' if crashed else 'stopped answering'} after {what}; see "
                f"{cluster.data_dir}/logs/{name}.log")


def send_raw(cluster: Cluster, name: str, frames: list[bytes]) -> None:
    """Send ``frames`` to node ``name`` as an authenticated peer that skips the encoder's
    checks (a buggy or hostile peer)."""
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 1000
    assert cluster.config.credentials is not None
    cluster.config.credentials.apply_client(socket)
    socket.connect(cluster.node(name).spec.address)
    try:
        socket.send_multipart(frames)
    finally:
        socket.close()


def raw_envelope(actor: str, body: Any) -> list[bytes]:
    """The frames of an envelope for ``actor`` pickled as is, with no reply wanted."""
    return [pickle.dumps(messages.Envelope(source="tcp://127.0.0.1:1", reply_to="", dest=actor,
                                           correlation_id=1, body=body), protocol=5)]


def dropped_undecodable(cluster: Cluster, name: str) -> int:
    return int(status(cluster, name).transport.get("dropped_undecodable", 0))


def test_every_request_type_is_fuzzed() -> None:
    names = {c.__name__ for _, _, c in TARGETS}
    assert {"ProduceRequest", "FetchRequest", "ListOffsetsRequest", "JoinGroupRequest",
            "OffsetCommitRequest", "CreateTopicsRequest", "MetadataFetchRequest"} <= names
    assert len(TARGETS) >= 25


@settings(max_examples=250, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(request=fuzzed_request())
def test_fuzzed_requests_get_an_answer_or_a_counted_drop_never_a_crash(
        small: Cluster, request: tuple[str, str, Any]) -> None:
    name, actor, message = request
    try:
        cluster_ref = small.ref(name, actor)
        cluster_ref.ask(message, REPLY_TIMEOUT_S).result()
    except RequestTimedOut:
        pass  # dropped (or held as a long poll): allowed, as long as the node still answers
    except ZafkaError:
        pass  # an error reply
    except codec.EncodeError:
        return  # this side's encoder refuses it; the raw-frame fuzzer below sends such ones
    assert_still_serving(small, name, f"{actor} <- {message!r:.2000}")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(st.one_of(st.binary(max_size=300), st.sampled_from(
    [codec.encode(messages.Envelope(source="tcp://127.0.0.1:1", reply_to="", dest="node",
                                    correlation_id=1, body=StatusRequest()))[0].tobytes()[:-3],
     b"\x80\x05K\x01.", b"\x80\x05\x95" + b"\xff" * 8, b"cos\nsystem\n(S'true'\ntR."])),
    min_size=1, max_size=4))
def test_garbage_frames_are_dropped_and_counted_by_the_frame_decoder(
        small: Cluster, frames: list[bytes]) -> None:
    name = "broker-1"
    before = status(small, name).transport.get("dropped_undecodable", 0)
    send_raw(small, name, frames)
    for _ in range(100):
        counters = status(small, name).transport
        if counters.get("dropped_undecodable", 0) > before:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"the frames {frames!r} were neither answered nor counted as dropped")
    assert_still_serving(small, name, f"frames {frames!r}")


def nothing_in(cls: type) -> Any:
    """An instance of request type ``cls`` with every field None (the wrong type, except
    where a field is optional).  Sent as raw frames, so only the receiver's decoder stands
    between it and the handler; a registration with ``broker_id=None`` that got through
    would be committed to the metadata log and fail every coordinator applying it."""
    return cls(**{f.name: None for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("name,actor,request_type", TARGETS,
                         ids=[f"{a}-{c.__name__}" for _, a, c in TARGETS])
def test_a_request_with_fields_of_the_wrong_type_is_dropped_not_fatal(
        pristine: Cluster, name: str, actor: str, request_type: type) -> None:
    message = nothing_in(request_type)
    before = dropped_undecodable(pristine, name)
    send_raw(pristine, name, raw_envelope(actor, message))
    time.sleep(0.3)
    assert_still_serving(pristine, name, f"{actor} <- {message!r}")
    print(f"{message!r}: dropped_undecodable {before} -> {dropped_undecodable(pristine, name)}")


@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(TARGETS), data=st.data())
def test_requests_with_fields_of_any_type_never_crash_a_node(
        pristine: Cluster, target: tuple[str, str, type], data: st.DataObject) -> None:
    name, actor, cls = target
    values = {f.name: data.draw(st.one_of(wrong_type, field_value(
        typing.get_type_hints(cls, vars(messages))[f.name], 0)), label=f.name)
        for f in dataclasses.fields(cls)}
    message = cls(**values)
    try:
        frames = raw_envelope(actor, message)
    except (pickle.PicklingError, TypeError):
        return  # not even picklable (a memoryview inside): no peer can send it
    send_raw(pristine, name, frames)
    assert_still_serving(pristine, name, f"{actor} <- {message!r:.2000}")


# --- as an application: node-only messages -------------------------------------------------

NODE_ONLY = sorted((c for c in catalogue() if dataclasses.is_dataclass(c)
                    and c is not messages.Envelope
                    and messages.audience_of(c) in (messages.Audience.NODE,
                                                    messages.Audience.TESTING)),
                   key=lambda c: c.__name__)


@pytest.fixture(scope="module")
def as_client(small: Cluster) -> Iterator[Postbox]:
    """A program holding only the application's client file."""
    config = ClusterFile.load(small.client_file_path)
    postbox = Postbox(client_bind_url(config), credentials=config.credentials).start()
    yield postbox
    postbox.stop()


@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_node_only_messages_sent_with_the_client_file_are_refused_and_counted(
        small: Cluster, as_client: Postbox, data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(NODE_ONLY), label="type")
    message = data.draw(message_of(cls), label="message")
    name, actor = data.draw(st.sampled_from([("broker-1", "broker"), ("broker-1", "node"),
                                             ("broker-1", "group"),
                                             ("coordinator-1", "coordinator")]))
    before = status(small, name).transport.get(f"refused.{cls.__name__}", 0)
    try:
        as_client.ask(small.node(name).spec.address, actor, message, REPLY_TIMEOUT_S).result()
    except codec.EncodeError:
        return  # this side's encoder refuses it (a field of the wrong type)
    except ClusterAuthorizationFailed:
        pass
    else:
        pytest.fail(f"{cls.__name__} from a client was answered")
    assert status(small, name).transport.get(f"refused.{cls.__name__}", 0) == before + 1
