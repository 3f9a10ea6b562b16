"""Real coordinators and their durable formats: restarted on their own files, a metadata
snapshot and the log after it come back; damage before the tail of the Raft log stops the
coordinator with one log line; a snapshot it cannot read is dropped, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest
from zafka.client import Admin
from zafka.core.durable import (
    FORMAT_VERSION,
    RAFT_SNAPSHOT_DATA_OFFSET,
    decode_metadata_snapshot,
)
from zafka.core.messages import InstallSnapshot, SnapshotMeta
from zafka.storage.raft_store import ENTRIES_FILE, SNAPSHOT_FILE

from tests.conftest import FAST_TUNABLES
from tests.integration.wire import wait_until
from zafka.launcher import ClusterError


def test_a_coordinator_restarts_from_its_metadata_snapshot_and_log(cluster_factory,
                                                                   tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tunables = {**FAST_TUNABLES, "raft_snapshot_every_entries": 4}
    first = cluster_factory(brokers=1, coordinators=1, data_dir=tmp_path, tunables=tunables)
    with Admin(str(first.cluster_file_path)) as admin:
        for name in ("a", "b", "c", "d", "e"):
            admin.create_topic(name, partitions=1, replication_factor=1)
    first.stop()
    raft = tmp_path / "coordinator-1" / "raft"
    image = decode_metadata_snapshot((raft / SNAPSHOT_FILE).read_bytes()[:-4][
        RAFT_SNAPSHOT_DATA_OFFSET:])
    assert image.offset > 4 and image.topics, "a snapshot with topics in it was written"

    second = cluster_factory(brokers=1, coordinators=1, data_dir=tmp_path, tunables=tunables)
    with Admin(str(second.cluster_file_path)) as admin:
        assert admin.list_topics() == ["a", "b", "c", "d", "e"]


def test_damage_before_the_tail_of_the_raft_log_refuses_to_start_with_one_line(
        cluster_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = cluster_factory(brokers=1, coordinators=1, data_dir=tmp_path)
    with Admin(str(first.cluster_file_path)) as admin:
        admin.create_topic("kept", partitions=1, replication_factor=1)
    first.stop()
    log_file = tmp_path / "coordinator-1" / "raft" / ENTRIES_FILE
    blob = bytearray(log_file.read_bytes())
    blob[12] ^= 0x01  # inside the first record's payload; more records follow
    log_file.write_bytes(bytes(blob))

    with pytest.raises(ClusterError, match="coordinator-1 exited with status 65"):
        cluster_factory(brokers=1, coordinators=1, data_dir=tmp_path)
    log = (tmp_path / "logs" / "coordinator-1.log").read_text()
    refusals = [line for line in log.splitlines() if "refuses to start" in line]
    assert len(refusals) == 1, log
    assert f"{log_file}: byte 0: damaged record" in refusals[0]
    assert "Traceback" not in log
    assert "Traceback" not in (tmp_path / "logs" / "coordinator-1.stderr").read_text()
    assert log_file.read_bytes() == bytes(blob), "nothing was cut"


def test_a_snapshot_a_coordinator_cannot_read_is_dropped_not_fatal(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    """As from a leader running a newer format: logged once, the follower keeps its state."""
    cluster = cluster_factory(brokers=1, coordinators=3)
    leader = cluster.coordinator_leader()
    assert leader is not None
    leader_name, term = leader
    follower = next(n for n in cluster.coordinators if n.name != leader_name)
    snapshot = InstallSnapshot(from_id=int(leader_name.split("-")[1]),
                               to_id=follower.spec.node_id, term=term,
                               meta=SnapshotMeta(index=1_000_000, term=term),
                               data=bytes([FORMAT_VERSION + 1]) + b"from the future")
    for _ in range(3):
        cluster.ref(follower.name, "coordinator").tell(snapshot)
    log = cluster.data_dir / "logs" / f"{follower.name}.log"
    wait_until(lambda: "dropped: a snapshot from coordinator" in log.read_text(),
               what="the snapshot dropped")
    assert cluster.status_of(follower).coordinator is not None, "still serving"
    assert follower.running()
    dropped = [line for line in log.read_text().splitlines() if "dropped: a snapshot" in line]
    assert len(dropped) == 1 and "byte 0: unknown format version 2" in dropped[0]
    with Admin(str(cluster.cluster_file_path)) as admin:
        admin.create_topic("after", partitions=1, replication_factor=1)
        assert admin.list_topics() == ["after"]
