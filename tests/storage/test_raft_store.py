"""The raft store and its in-memory twin: one shared suite, plus each one's crash behaviour."""

from __future__ import annotations

import os
import pickle
import random
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import crc32c
import pytest
from zafka.core.config import Tunables
from zafka.core.durable import FORMAT_VERSION, DurableFormatError
from zafka.core.errors import CorruptRecord
from zafka.core.messages import DeleteTopic, RaftEntry, SnapshotMeta
from zafka.core.raft import RaftNode
from zafka.core.raft_types import HardState, PersistentState, Ready, Role, Snapshot
from zafka.storage.raft_store import ENTRIES_FILE, HARD_STATE_FILE, MemoryRaftStore, RaftStore


def command(name: str) -> DeleteTopic:
    """A metadata command to store (any catalogue command has a durable encoding)."""
    return DeleteTopic(name=name, topic_id=f"id-{name}")


Store = RaftStore | MemoryRaftStore


@pytest.fixture(params=["disk", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """``open_store()``: the same durable store, opened again (as after a restart)."""
    memory = MemoryRaftStore()

    def open_store() -> Store:
        return RaftStore(tmp_path / "raft") if request.param == "disk" else memory

    yield open_store


def entries(terms: list[int], start: int = 1) -> tuple[RaftEntry, ...]:
    return tuple(RaftEntry(term=t, index=start + i, command=command(f"t{start + i}"))
                 for i, t in enumerate(terms))


def test_a_new_store_is_empty(stores: Callable[[], Store]) -> None:
    assert stores().load() == PersistentState()


def test_entries_and_hard_state_survive_a_restart(stores: Callable[[], Store]) -> None:
    store = stores()
    hard = HardState(term=2, voted_for=3, commit=2)
    store.persist(Ready(hard_state=hard, entries=entries([1, 2, 2])))
    store.persist(Ready(entries=entries([2], start=4)))
    state = stores().load()
    assert state.hard_state == hard and state.entries == entries([1, 2, 2, 2])
    assert state.entries[0].command == command("t1")


def test_a_vote_for_nobody_round_trips(stores: Callable[[], Store]) -> None:
    stores().persist(Ready(hard_state=HardState(term=7, voted_for=None, commit=0)))
    assert stores().load().hard_state == HardState(term=7, voted_for=None, commit=0)


def test_a_conflicting_suffix_is_truncated_before_new_entries_are_appended(
        stores: Callable[[], Store]) -> None:
    store = stores()
    store.persist(Ready(entries=entries([1, 1, 2, 2])))
    store.persist(Ready(truncate_from=3, entries=entries([3, 3, 3], start=3)))
    store.persist(Ready(entries=entries([3], start=6)))
    assert stores().load().entries == entries([1, 1, 3, 3, 3, 3])


def test_a_snapshot_compacts_the_log_prefix(stores: Callable[[], Store]) -> None:
    store = stores()
    store.persist(Ready(entries=entries([1, 1, 1, 2, 2]), hard_state=HardState(term=2,
                                                                               commit=4)))
    snapshot = Snapshot(meta=SnapshotMeta(index=3, term=1), data=b"state@3")
    store.persist(Ready(snapshot=snapshot))
    store.persist(Ready(entries=entries([2], start=6)))
    state = stores().load()
    assert state.snapshot == snapshot and state.entries == entries([2, 2, 2], start=4)


def test_a_received_snapshot_replaces_the_whole_log(stores: Callable[[], Store]) -> None:
    store = stores()
    store.persist(Ready(entries=entries([1, 1, 2])))
    snapshot = Snapshot(meta=SnapshotMeta(index=6, term=3), data=b"six")
    store.persist(Ready(snapshot=snapshot, truncate_from=7,
                        hard_state=HardState(term=3, commit=6)))
    store.persist(Ready(entries=entries([3], start=7)))
    state = stores().load()
    assert state.snapshot == snapshot and state.entries == entries([3], start=7)


def run_until_leader(raft: RaftNode, store: Store) -> list[RaftEntry]:
    """Tick a single-voter node until it leads and has committed; return what it applied."""
    applied: list[RaftEntry] = []
    while raft.role is not Role.LEADER or raft.commit_index < raft.log.last_index:
        raft.tick()
        while raft.has_ready():
            ready = raft.ready()
            store.persist(ready)
            applied.extend(ready.committed_entries)
            raft.advance(ready)
    return applied


def test_a_node_restarted_from_the_store_recovers_its_log_and_commits(
        stores: Callable[[], Store]) -> None:
    tunables = Tunables(election_ticks=10, heartbeat_ticks=2)
    raft = RaftNode(1, [1], stores().load(), tunables, random.Random(1))
    run_until_leader(raft, stores())
    for name in ("a", "b"):
        raft.propose(command(name))
    ready = raft.ready()
    stores().persist(ready)
    raft.advance(ready)
    restarted = RaftNode(1, [1], stores().load(), tunables, random.Random(2))
    assert restarted.log.slice(1, 4) == raft.log.slice(1, 4)
    assert restarted.term == raft.term and restarted.voted_for == 1
    applied = run_until_leader(restarted, stores())
    assert [e.command for e in applied] == [None, command("a"), command("b"),
                                            None]
    assert restarted.term == raft.term + 1


# ------------------------------------------------------------------------- disk only
def test_a_torn_tail_is_dropped_and_appending_continues(tmp_path: Path) -> None:
    RaftStore(tmp_path).persist(Ready(entries=entries([1, 1, 1])))
    path = tmp_path / ENTRIES_FILE
    os.truncate(path, path.stat().st_size - 3)  # the last record is torn
    store = RaftStore(tmp_path)
    assert store.load().entries == entries([1, 1])
    store.persist(Ready(entries=entries([2], start=3)))
    assert RaftStore(tmp_path).load().entries == entries([1, 1, 2])


def flip(path: Path, position: int, bit: int = 0) -> None:
    blob = bytearray(path.read_bytes())
    blob[position] ^= 1 << bit
    path.write_bytes(bytes(blob))


def three_records(directory: Path) -> list[int]:
    """Write entries 1-3, one per persist; the byte offset of each record and the end."""
    store = RaftStore(directory)
    ends = [0]
    for index in (1, 2, 3):
        store.persist(Ready(entries=entries([1], start=index)))
        ends.append((directory / ENTRIES_FILE).stat().st_size)
    return ends


def test_a_damaged_last_record_is_cut_as_a_torn_tail(tmp_path: Path) -> None:
    ends = three_records(tmp_path)
    flip(tmp_path / ENTRIES_FILE, ends[2] + 12)  # inside the last record's payload
    store = RaftStore(tmp_path)
    assert store.load().entries == entries([1, 1])
    assert (tmp_path / ENTRIES_FILE).stat().st_size == ends[2], "the tail is cut"
    store.persist(Ready(entries=entries([2], start=3)))
    assert RaftStore(tmp_path).load().entries == entries([1, 1, 2])


def test_damage_before_the_tail_is_refused_naming_the_file_and_offset(tmp_path: Path) -> None:
    """Cutting there would silently drop entries that may be committed: refuse instead."""
    ends = three_records(tmp_path)
    path = tmp_path / ENTRIES_FILE
    flip(path, ends[1] + 12)  # inside the second record's payload
    with pytest.raises(DurableFormatError, match=f"byte {ends[1]}: damaged record") as caught:
        RaftStore(tmp_path)
    assert caught.value.source == str(path) and caught.value.offset == ends[1]
    assert path.stat().st_size == ends[3], "nothing is cut"


def test_every_single_bit_flip_is_cut_in_the_last_record_and_refused_before_it(
        tmp_path: Path) -> None:
    """Length, CRC, version, index, term or command: each byte of each record, one bit."""
    ends = three_records(tmp_path)
    path = tmp_path / ENTRIES_FILE
    original = path.read_bytes()
    for position in range(ends[3]):
        path.write_bytes(original)
        flip(path, position, bit=position % 8)
        if position >= ends[2]:
            assert RaftStore(tmp_path).load().entries == entries([1, 1]), position
        else:
            with pytest.raises(DurableFormatError):
                RaftStore(tmp_path)


def rewrite_payload(path: Path, payload: bytes) -> None:
    """Replace the file's only record's payload (with a matching CRC: not damage)."""
    path.write_bytes(struct.pack(">II", len(payload), crc32c.crc32c(payload)) + payload)


def test_an_unknown_format_version_is_refused_not_cut(tmp_path: Path) -> None:
    RaftStore(tmp_path).persist(Ready(entries=entries([1])))
    path = tmp_path / ENTRIES_FILE
    payload = path.read_bytes()[8:]
    rewrite_payload(path, bytes([FORMAT_VERSION + 1]) + payload[1:])
    with pytest.raises(DurableFormatError, match="byte 8: unknown format version 2"):
        RaftStore(tmp_path)
    assert path.stat().st_size > 0


def test_a_pickled_entry_of_an_older_zafka_is_refused_not_cut(tmp_path: Path) -> None:
    """Before durable formats a payload was [u64 index][u64 term][pickle]: version byte 0."""
    path = tmp_path / ENTRIES_FILE
    old = struct.pack(">QQ", 1, 1) + pickle.dumps(command("t1"), protocol=5)
    tmp_path.mkdir(exist_ok=True)
    rewrite_payload(path, old)
    with pytest.raises(DurableFormatError, match="unknown format version 0"):
        RaftStore(tmp_path)


def test_a_gap_in_the_indexes_is_refused(tmp_path: Path) -> None:
    store = RaftStore(tmp_path)
    store.persist(Ready(entries=entries([1])))
    record = (tmp_path / ENTRIES_FILE).read_bytes()
    RaftStore(tmp_path / "other").persist(Ready(entries=entries([1, 1, 1])))
    third = (tmp_path / "other" / ENTRIES_FILE).read_bytes()[2 * len(record):]
    (tmp_path / ENTRIES_FILE).write_bytes(record + third)
    with pytest.raises(DurableFormatError, match=f"byte {len(record)}: entry 3 follows entry 1"):
        RaftStore(tmp_path)


def test_a_commit_index_beyond_the_surviving_log_is_refused(tmp_path: Path) -> None:
    RaftStore(tmp_path).persist(Ready(entries=entries([1, 1]),
                                      hard_state=HardState(term=1, commit=2)))
    path = tmp_path / ENTRIES_FILE
    os.truncate(path, path.stat().st_size - 1)
    with pytest.raises(CorruptRecord):
        RaftStore(tmp_path)


def test_a_corrupt_hard_state_file_is_refused(tmp_path: Path) -> None:
    RaftStore(tmp_path).persist(Ready(hard_state=HardState(term=4, voted_for=1, commit=0)))
    blob = bytearray((tmp_path / HARD_STATE_FILE).read_bytes())
    blob[-1] ^= 0x01
    (tmp_path / HARD_STATE_FILE).write_bytes(bytes(blob))
    with pytest.raises(CorruptRecord):
        RaftStore(tmp_path)


def test_a_crash_between_writing_a_snapshot_and_cutting_the_log_keeps_a_valid_log(
        tmp_path: Path) -> None:
    """§7: entries that do not follow the snapshot's last entry are discarded on load."""
    store = RaftStore(tmp_path)
    store.persist(Ready(entries=entries([1, 1, 2, 2])))
    entries_before = (tmp_path / ENTRIES_FILE).read_bytes()
    snapshot = Snapshot(meta=SnapshotMeta(index=3, term=3), data=b"s")
    store.persist(Ready(snapshot=snapshot, truncate_from=4))
    (tmp_path / ENTRIES_FILE).write_bytes(entries_before)  # as if the cut never happened
    state = RaftStore(tmp_path).load()
    assert state.snapshot == snapshot and state.entries == ()


# ----------------------------------------------------------------------- memory only
def test_memory_crash_loses_staged_writes_but_keeps_flushed_ones() -> None:
    store = MemoryRaftStore()
    store.persist(Ready(entries=entries([1]), hard_state=HardState(term=1, commit=1)))
    store.stage(Ready(entries=entries([1, 1], start=2), hard_state=HardState(term=1, commit=3)))
    store.crash()
    state = store.load()
    assert state.entries == entries([1]) and state.hard_state.commit == 1


def test_memory_crash_mid_persist_keeps_a_prefix_of_the_writes_in_order() -> None:
    """Whatever prefix survives, the hard state is written last and the log stays valid."""
    outcomes = set()
    for seed in range(40):
        store = MemoryRaftStore()
        store.persist(Ready(entries=entries([1, 1, 1])))
        store.stage(Ready(truncate_from=2, entries=entries([2, 2], start=2),
                          hard_state=HardState(term=2, voted_for=1, commit=3)))
        store.crash(random.Random(seed))
        state = store.load()
        terms = tuple(e.term for e in state.entries)
        assert terms in {(1, 1, 1), (1,), (1, 2), (1, 2, 2)}
        assert state.hard_state.term == 0 or terms == (1, 2, 2)
        outcomes.add((terms, state.hard_state.term))
    assert len(outcomes) == 5
