"""The foundation with real processes: transport across processes, authentication, failure
of nodes, the launcher's promises (ready, stop, restart, no orphans)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zafka.actors.base import BaseActor
from zafka.actors.runtime import NodeRuntime
from zafka.core.config import Tunables
from zafka.core.errors import RequestTimedOut
from zafka.core.messages import (
    Echo,
    EchoReply,
    Envelope,
    FaultRule,
    Relay,
    SetFaults,
    StatusReply,
    StatusRequest,
)
from zafka.transport import codec

from zafka.launcher import Cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small(cluster_factory) -> Cluster:  # type: ignore[no-untyped-def]
    return cluster_factory(brokers=1, coordinators=1, testing=True)


class Collector(BaseActor):
    """Records every EchoReply it is told."""

    def __init__(self, runtime: NodeRuntime, name: str, received: list[object],
                 arrived: threading.Event) -> None:
        super().__init__(runtime, name)
        self.received = received
        self.arrived = arrived

    def on_echo_reply(self, message: EchoReply, envelope: Envelope) -> None:
        self.received.append(message.payload)
        self.arrived.set()


def test_ask_and_tell_cross_processes_both_ways(small: Cluster) -> None:
    reply = small.ref("broker-1").ask(Echo(payload={"n": 1}), 5).result()
    assert reply == EchoReply(payload={"n": 1})

    runtime = NodeRuntime(role="client", node_id=0, bind_url="tcp://127.0.0.1:0",
                          credentials=small.config.credentials, tunables=Tunables()).start()
    try:
        received: list[object] = []
        arrived = threading.Event()
        ref = Collector.start(runtime, "collector", received, arrived)
        runtime.register("collector", ref)
        small.ref("coordinator-1").tell(Relay(address=runtime.address, actor="collector",
                                              payload=("from", "node")))
        assert arrived.wait(5), "the node's tell never reached our actor"
        assert received == [("from", "node")]
    finally:
        runtime.stop()


def test_a_killed_node_times_out_asks_and_serves_again_after_restart(small: Cluster) -> None:
    small.kill("broker-1")
    began = time.monotonic()
    with pytest.raises(RequestTimedOut):
        small.ref("broker-1").ask(StatusRequest(), 0.5).result(timeout=5)
    assert time.monotonic() - began < 3, "an ask to a dead node must fail, not hang"
    small.restart("broker-1")
    reply = small.ref("broker-1").ask(StatusRequest(), 5).result()
    assert isinstance(reply, StatusReply) and reply.pid == small.node("broker-1").pid


def test_an_ask_in_flight_fails_at_once_when_its_peer_dies(small: Cluster) -> None:
    small.ref("broker-1").tell(SetFaults(rules=(FaultRule(kind="delay", delay_ms=10_000),)))
    time.sleep(0.3)
    future = small.ref("broker-1").ask(Echo(payload="held"), 30)
    time.sleep(0.3)  # the request has arrived; its reply is held by the delay rule
    began = time.monotonic()
    small.kill("broker-1")
    with pytest.raises(RequestTimedOut, match="connection .* lost"):
        future.result(timeout=10)
    assert time.monotonic() - began < 5, "the lost connection must fail the ask early"


def transport_stats(cluster: Cluster, name: str) -> dict[str, int]:
    return cluster.ref(name).ask(StatusRequest(), 5).result().transport


def raw_socket(cluster: Cluster, name: str, with_credentials: bool) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    if with_credentials:
        cluster.config.credentials.apply_client(sock)
    sock.connect(cluster.node(name).spec.address)
    return sock


def test_a_peer_without_credentials_is_refused_and_counted(small: Cluster) -> None:
    runtime = NodeRuntime(role="client", node_id=0, bind_url="tcp://127.0.0.1:0",
                          credentials=small.config.credentials, tunables=Tunables()).start()
    try:
        received: list[object] = []
        arrived = threading.Event()
        runtime.register("collector", Collector.start(runtime, "collector", received, arrived))
        sock = raw_socket(small, "broker-1", with_credentials=False)
        # Were this frame ever executed, the node would tell our collector.
        env = Envelope(source="tcp://127.0.0.1:1", reply_to="", dest="node", correlation_id=1,
                       body=Relay(address=runtime.address, actor="collector", payload="leak"))
        sock.send_multipart(codec.encode(env))
        deadline = time.monotonic() + 5
        while transport_stats(small, "broker-1").get("handshake_failed", 0) < 1:
            assert time.monotonic() < deadline, "the refused handshake was not counted"
            time.sleep(0.1)
        assert not arrived.wait(1.0), "a frame from an unauthenticated peer was executed"
        assert small.ref("broker-1").ask(Echo(payload=1), 5).result() == EchoReply(payload=1)
        sock.close()
    finally:
        runtime.stop()


class Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_code_is_dropped_and_counted(small: Cluster,
                                                             tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    sock = raw_socket(small, "broker-1", with_credentials=True)
    evil = Envelope(source="x", reply_to="", dest="node", correlation_id=1,
                    body=Exploit(str(marker)))
    sock.send_multipart([pickle.dumps(evil, protocol=5)])
    deadline = time.monotonic() + 5
    while transport_stats(small, "broker-1").get("dropped_undecodable", 0) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not marker.exists(), "the node executed code from a frame"
    assert small.ref("broker-1").ask(Echo(payload=2), 5).result() == EchoReply(payload=2)
    sock.close()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(st.binary(max_size=2000), min_size=1, max_size=5))
def test_random_garbage_frames_never_crash_a_node(shared_small: Cluster,
                                                  frames: list[bytes]) -> None:
    sock = raw_socket(shared_small, "broker-1", with_credentials=True)
    sock.send_multipart(frames)
    sock.close()
    assert shared_small.ref("broker-1").ask(Echo(payload=3), 5).result() == EchoReply(payload=3)
    assert shared_small.node("broker-1").running()


@pytest.fixture(scope="module")
def shared_small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with Cluster(brokers=1, coordinators=1, data_dir=tmp_path_factory.mktemp("c")) as cluster:
        yield cluster


def test_a_one_mebibyte_payload_crosses_processes_without_a_copy(small: Cluster) -> None:
    payload = bytearray(os.urandom(1 << 20))
    reply = small.ref("broker-1").ask(Echo(payload=memoryview(payload)), 10).result()
    assert isinstance(reply.payload, memoryview), "the payload was copied into bytes"
    assert type(reply.payload.obj).__name__ == "Frame", "the payload is not a view of the frame"
    assert reply.payload == payload


def test_an_actor_failure_ends_the_node_and_leaves_its_traceback(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from zafka.actors.base import BaseActor
        from zafka.actors.node import setup_logging
        from zafka.actors.runtime import NodeRuntime
        from zafka.core.config import Tunables
        from zafka.core.messages import Echo

        class Broken(BaseActor):
            def on_echo(self, message, envelope):
                raise RuntimeError("handler bug on purpose")

        setup_logging(Path({str(tmp_path)!r}), "broker-9", "ERROR")
        runtime = NodeRuntime(role="broker", node_id=9, bind_url="tcp://127.0.0.1:0",
                              credentials=None, tunables=Tunables()).start()
        ref = Broken.start(runtime, "broken")
        runtime.register("broken", ref)
        runtime.postbox.send(runtime.address, "broken", Echo(payload=1))
        time.sleep(10)
        sys.exit(0)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert result.returncode == 70
    log_text = (tmp_path / "logs" / "broker-9.log").read_text()
    assert "handler bug on purpose" in log_text and "Traceback" in log_text


def test_an_even_coordinator_count_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "cluster.py", "--coordinators", "2",
                             "--data-dir", str(tmp_path / "d")], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "odd number" in result.stderr and "majority" in result.stderr
    assert not (tmp_path / "d").exists()


def test_restart_on_the_same_data_dir_brings_back_the_same_cluster(cluster_factory,
                                                                    tmp_path: Path) -> None:
    first = cluster_factory(brokers=1, coordinators=1, data_dir=tmp_path)
    before = json.loads((tmp_path / "cluster.json").read_text())
    assert oct((tmp_path / "cluster.json").stat().st_mode & 0o777) == "0o600"
    first.stop()
    second = cluster_factory(brokers=1, coordinators=1, data_dir=tmp_path)
    assert json.loads((tmp_path / "cluster.json").read_text()) == before
    assert second.ref("broker-1").ask(Echo(payload=1), 5).result() == EchoReply(payload=1)


def launch(tmp_path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "cluster.py", "--brokers", "3", "--data-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "ready in" in line:
            return proc
    proc.kill()
    raise AssertionError(f"launcher never became ready: {proc.stderr.read()}")  # type: ignore


def node_pids(tmp_path: Path) -> list[int]:
    out = subprocess.run([sys.executable, "cluster.py", "status", "--json", "--cluster",
                          str(tmp_path / "cluster.json")], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    rows = json.loads(out.stdout)["nodes"]
    assert [r["state"] for r in rows] == ["up"] * 6
    return [r["pid"] for r in rows]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def wait_all_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def test_ctrl_c_stops_every_child_and_exits_zero(tmp_path: Path) -> None:
    proc = launch(tmp_path)
    pids = node_pids(tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert wait_all_gone(pids, 5) == []


def test_children_never_outlive_a_killed_launcher(tmp_path: Path) -> None:
    proc = launch(tmp_path)
    pids = node_pids(tmp_path)
    proc.kill()
    proc.wait()
    assert wait_all_gone(pids, 10) == [], "node processes outlived their launcher"


def test_a_child_that_dies_is_reported_with_its_exit_status(tmp_path: Path) -> None:
    proc = launch(tmp_path)
    pids = node_pids(tmp_path)
    os.kill(pids[3], signal.SIGKILL)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert "broker-1" in err and "exited unexpectedly" in err and "-9" in err
    assert wait_all_gone(pids, 5) == []


def test_status_json_reports_down_nodes(small: Cluster) -> None:
    small.kill("broker-1")
    out = subprocess.run([sys.executable, "cluster.py", "status", "--json", "--cluster",
                          str(small.cluster_file_path), "--timeout", "0.5"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 3
    states = {(r["role"], r["id"]): r["state"] for r in json.loads(out.stdout)["nodes"]}
    assert states == {("coordinator", 1): "up", ("broker", 1): "down"}
