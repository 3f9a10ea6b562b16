"""Golden bytes: every durable format, pinned by files checked into ``tests/storage/golden``.

Each test encodes known values and compares the bytes with the checked-in file, then decodes
the file back.  A rename, a refactor or a new field that changes what zafka writes fails
here; if the change is intended, it needs a new format version (``core.durable``) and a
reader for the old one, and then new golden files: ``ZAFKA_WRITE_GOLDEN=1 pytest <this file>``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from zafka.core import group_codec
from zafka.core.durable import (
    DURABLE,
    decode_metadata_snapshot,
    decode_raft_entry,
    encode_metadata_snapshot,
    encode_raft_entry,
)
from zafka.core.messages import (
    AclBinding,
    AclOperation,
    AclPermission,
    AllocateProducerIds,
    AlterConfigs,
    AlterPartition,
    AlterPartitionReassignment,
    BrokerRecord,
    ChangeLeader,
    CompletePartitionReassignment,
    CreateAcls,
    CreatePartitions,
    CreateTopic,
    DeleteAcls,
    DeleteTopic,
    FenceBroker,
    IdentityRecord,
    MetadataImage,
    PartitionRecord,
    PatternType,
    PutIdentity,
    RaftEntry,
    RegisterBroker,
    ResourceType,
    RevokeIdentity,
    SnapshotMeta,
    TopicPartition,
    TopicRecord,
    UnfenceBroker,
)
from zafka.core.raft_types import HardState, Ready, Snapshot
from zafka.storage.checkpoints import (
    HIGH_WATERMARK_CHECKPOINT,
    LEADER_EPOCH_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    LeaderEpochCache,
    read_offset_checkpoint,
    write_offset_checkpoint,
)
from zafka.storage.files import DiskDirectory
from zafka.storage.raft_store import ENTRIES_FILE, HARD_STATE_FILE, SNAPSHOT_FILE, RaftStore

from tests.core.test_durable import COMMAND_TYPES

GOLDEN = Path(__file__).parent / "golden"
WRITE = os.environ.get("ZAFKA_WRITE_GOLDEN") == "1"

ALICE = IdentityRecord(name="alice", role="client",
                       public_key="rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
READ_ORDERS = AclBinding(principal="User:alice", operation=AclOperation.READ,
                         resource_type=ResourceType.TOPIC, resource_name="orders")
DENY_PREFIX = AclBinding(principal="User:*", operation=AclOperation.WRITE,
                         resource_type=ResourceType.TOPIC, resource_name="audit-",
                         pattern_type=PatternType.PREFIXED, permission=AclPermission.DENY,
                         host="10.0.0.7")
COMMANDS = {
    "register_broker": RegisterBroker(broker_id=1, address="tcp://127.0.0.1:9301",
                                      incarnation="5f0c", kafka_address="127.0.0.1:9092"),
    "fence_broker": FenceBroker(broker_id=2, broker_epoch=17),
    "unfence_broker": UnfenceBroker(broker_id=2, broker_epoch=17),
    "create_topic": CreateTopic(topic_id="q8tW", name="orders", assignment=((1, 2), (2, 3)),
                                configs=(("cleanup.policy", "compact"), ("retention.ms", -1),
                                         ("unclean.leader.election.enable", True)),
                                internal=False),
    "delete_topic": DeleteTopic(name="orders", topic_id="q8tW"),
    "create_partitions": CreatePartitions(name="orders", topic_id="q8tW", total_count=3,
                                          assignment=((3, 1),)),
    "alter_configs": AlterConfigs(name="orders", set_configs=(("segment.bytes", 1 << 20),),
                                  delete_configs=("retention.ms",)),
    "change_leader": ChangeLeader(topic="orders", partition=1, partition_epoch=4, leader=3,
                                  isr=(3,)),
    "alter_partition": AlterPartition(topic="orders", partition=0, broker_id=1,
                                      broker_epoch=9, leader_epoch=2, partition_epoch=5,
                                      new_isr=(1, 2)),
    "allocate_producer_ids": AllocateProducerIds(broker_id=1, broker_epoch=9, count=1000),
    "alter_partition_reassignment": AlterPartitionReassignment(
        topic="orders", partition=0, partition_epoch=6, target=(2, 3, 4), leader=2),
    "complete_partition_reassignment": CompletePartitionReassignment(
        topic="orders", partition=0, partition_epoch=7, leader=2),
    "put_identity": PutIdentity(identity=ALICE),
    "revoke_identity": RevokeIdentity(name="alice", public_key=ALICE.public_key),
    "create_acls": CreateAcls(bindings=(READ_ORDERS, DENY_PREFIX)),
    "delete_acls": DeleteAcls(bindings=(DENY_PREFIX,)),
}
IMAGE = MetadataImage(
    offset=42,
    brokers=(BrokerRecord(broker_id=1, address="tcp://127.0.0.1:9301", broker_epoch=3,
                          incarnation="5f0c", fenced=False, kafka_address="127.0.0.1:9092"),
             BrokerRecord(broker_id=2, address="tcp://127.0.0.1:9302", broker_epoch=8,
                          incarnation="77aa", fenced=True)),
    topics=(TopicRecord(topic_id="q8tW", name="orders", num_partitions=1,
                        configs=(("retention.ms", 86_400_000),)),
            TopicRecord(topic_id="c0ff", name="__consumer_offsets", num_partitions=1,
                        internal=True)),
    partitions=(PartitionRecord(topic="orders", topic_id="q8tW", partition=0, replicas=(1, 2),
                                isr=(1,), leader=1, leader_epoch=4, partition_epoch=9,
                                adding_replicas=(2,)),
                PartitionRecord(topic="__consumer_offsets", topic_id="c0ff", partition=0,
                                replicas=(1,), isr=(1,), leader=1, leader_epoch=0,
                                partition_epoch=0)),
    next_producer_id=2000,
    identities=(ALICE,),
    revoked_keys=("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",),
    acls=(READ_ORDERS, DENY_PREFIX))


def check_golden(name: str, data: bytes) -> bytes:
    """Compare ``data`` with the golden file ``name`` byte for byte; return the file's bytes."""
    path = GOLDEN / name
    if WRITE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"{path} is missing (ZAFKA_WRITE_GOLDEN=1 writes it)"
    golden = path.read_bytes()
    assert data == golden, f"{name}: the encoding changed\n new {data.hex()}\n was {golden.hex()}"
    return golden


def test_every_command_the_state_machine_applies_has_a_golden_sample() -> None:
    assert {type(c) for c in COMMANDS.values()} == set(COMMAND_TYPES)
    assert all(DURABLE.tag_of(type(c)) == tag for tag, c in COMMANDS.items())


@pytest.mark.parametrize("tag", sorted(COMMANDS))
def test_raft_entry_of_each_metadata_command(tag: str) -> None:
    entry = RaftEntry(term=7, index=1234, command=COMMANDS[tag])
    golden = check_golden(f"raft-entry-{tag}.bin", encode_raft_entry(entry))
    assert decode_raft_entry(golden) == entry


def test_raft_entry_of_the_leaders_no_op() -> None:
    entry = RaftEntry(term=7, index=1, command=None)
    assert decode_raft_entry(check_golden("raft-entry-no-op.bin", encode_raft_entry(entry))) \
        == entry


def test_records_written_before_kafka_addresses_decode_with_none() -> None:
    """``kafka_address`` was added with a default: bytes written before it still decode."""
    entry = decode_raft_entry((GOLDEN / "raft-entry-register_broker-without-kafka.bin")
                              .read_bytes())
    assert entry.command == dataclasses.replace(COMMANDS["register_broker"], kafka_address="")
    image = decode_metadata_snapshot((GOLDEN / "metadata-snapshot-without-kafka.bin")
                                     .read_bytes())
    assert image.brokers[0] == dataclasses.replace(IMAGE.brokers[0], kafka_address="")


def test_snapshots_written_before_identities_and_acls_decode_with_none() -> None:
    """``identities``, ``revoked_keys`` and ``acls`` came with defaults: older images decode."""
    image = decode_metadata_snapshot((GOLDEN / "metadata-snapshot-without-acls.bin")
                                     .read_bytes())
    assert image == dataclasses.replace(IMAGE, identities=(), revoked_keys=(), acls=())


def test_metadata_snapshot() -> None:
    golden = check_golden("metadata-snapshot.bin", encode_metadata_snapshot(IMAGE))
    assert decode_metadata_snapshot(golden) == IMAGE


STORE_ENTRIES = (RaftEntry(term=1, index=43, command=None),
                 RaftEntry(term=1, index=44, command=COMMANDS["fence_broker"]),
                 RaftEntry(term=2, index=45, command=COMMANDS["create_topic"]))
STORE_SNAPSHOT = Snapshot(meta=SnapshotMeta(index=42, term=1),
                          data=encode_metadata_snapshot(IMAGE))
STORE_HARD_STATE = HardState(term=2, voted_for=3, commit=44)


def test_raft_store_files(tmp_path: Path) -> None:
    """The whole raft directory: framed entries, hard state and snapshot files."""
    store = RaftStore(tmp_path / "raft")
    store.persist(Ready(snapshot=STORE_SNAPSHOT, entries=STORE_ENTRIES,
                        hard_state=STORE_HARD_STATE))
    copy = tmp_path / "golden-copy"
    copy.mkdir()
    for name in (ENTRIES_FILE, HARD_STATE_FILE, SNAPSHOT_FILE):
        golden = check_golden(name, (tmp_path / "raft" / name).read_bytes())
        (copy / name).write_bytes(golden)
    state = RaftStore(copy).load()
    assert state.entries == STORE_ENTRIES and state.hard_state == STORE_HARD_STATE
    assert state.snapshot == STORE_SNAPSHOT
    assert decode_metadata_snapshot(state.snapshot.data) == IMAGE


def test_a_vote_for_nobody(tmp_path: Path) -> None:
    RaftStore(tmp_path).persist(Ready(hard_state=HardState(term=5, voted_for=None, commit=0)))
    check_golden("raft-hardstate-no-vote", (tmp_path / HARD_STATE_FILE).read_bytes())
    shutil.copy(GOLDEN / "raft-hardstate-no-vote", tmp_path / "copy")
    (tmp_path / "copy").replace(tmp_path / HARD_STATE_FILE)
    assert RaftStore(tmp_path).load().hard_state == HardState(term=5, voted_for=None)


@pytest.mark.parametrize("name", [RECOVERY_POINT_CHECKPOINT, HIGH_WATERMARK_CHECKPOINT])
def test_offset_checkpoints(tmp_path: Path, name: str) -> None:
    directory = DiskDirectory(tmp_path)
    write_offset_checkpoint(directory, name, 1_234_567)
    golden = check_golden(name, (tmp_path / name).read_bytes())
    (tmp_path / name).write_bytes(golden)
    assert read_offset_checkpoint(directory, name) == 1_234_567


def test_leader_epoch_checkpoint(tmp_path: Path) -> None:
    cache = LeaderEpochCache(DiskDirectory(tmp_path))
    for epoch, start in ((0, 0), (2, 150), (5, 4_000)):
        cache.assign(epoch, start)
    golden = check_golden(LEADER_EPOCH_CHECKPOINT,
                          (tmp_path / LEADER_EPOCH_CHECKPOINT).read_bytes())
    (tmp_path / LEADER_EPOCH_CHECKPOINT).write_bytes(golden)
    assert LeaderEpochCache(DiskDirectory(tmp_path)).entries == cache.entries


OFFSET = group_codec.OffsetAndMetadata(offset=812, metadata="checkpoint 7", leader_epoch=3)
GROUP = group_codec.GroupMetadata(
    protocol_type="consumer", generation_id=4, protocol_name="range", leader="m-1",
    members=(group_codec.MemberMetadata(
        member_id="m-1", client_id="app", client_host="/127.0.0.1", session_timeout_ms=10_000,
        rebalance_timeout_ms=30_000, subscription=b"\x00\x01sub", assignment=b"\x00\x01asg"),))


def test_consumer_offsets_records() -> None:
    """The records the group coordinator keeps in ``__consumer_offsets`` (on disk there)."""
    tp = TopicPartition("orders", 2)
    key = check_golden("consumer-offsets-offset-key.bin", group_codec.offset_key("g", tp))
    assert group_codec.decode_key(key) == group_codec.OffsetRecordKey("g", tp)
    key = check_golden("consumer-offsets-group-key.bin", group_codec.group_key("g"))
    assert group_codec.decode_key(key) == group_codec.GroupRecordKey("g")
    value = check_golden("consumer-offsets-offset-value.bin", group_codec.encode_offset(OFFSET))
    assert group_codec.decode_offset(value) == OFFSET
    value = check_golden("consumer-offsets-group-value.bin", group_codec.encode_group(GROUP))
    assert group_codec.decode_group(value) == GROUP
