"""Reading a partition straight from its leader, as the chaos checkers do.

Owns: nothing; helpers that ask a broker for whole partitions (no client library), so the
checkers see exactly what the leader serves.
"""

from __future__ import annotations

from zafka.client.admin import Admin
from zafka.core.errors import error_for
from zafka.core.messages import FetchPartition, FetchRequest
from zafka.storage.records import decode_batches
from zafka.transport.remote import RemoteRef

from zafka.launcher import Cluster


def leader_of(admin: Admin, topic: str, partition: int) -> int:
    return admin.describe_topic(topic).partitions[partition].leader


def broker_ref(cluster: Cluster, broker_id: int) -> RemoteRef:
    """The broker actor of ``broker_id`` — a node of ``cluster``, or one that joined it."""
    if any(n.name == f"broker-{broker_id}" for n in cluster.nodes):
        return cluster.ref(f"broker-{broker_id}", "broker")
    with Admin(str(cluster.cluster_file_path)) as admin:
        address = next(b["address"] for b in admin.describe_cluster()["brokers"]
                       if b["id"] == broker_id)
    return RemoteRef(cluster.postbox, address, "broker")


def read_partition(cluster: Cluster, admin: Admin, topic: str, partition: int,
                   ) -> list[tuple[int, bytes | None]]:
    """Every (offset, value) below the high watermark, read from the leader."""
    info = admin.describe_topic(topic).partitions[partition]
    ref = broker_ref(cluster, info.leader)
    offset = info.log_start_offset
    out: list[tuple[int, bytes | None]] = []
    while offset < info.high_watermark:
        reply = ref.ask(FetchRequest(replica_id=-1, max_wait_ms=0, min_bytes=1,
                                     max_bytes=1 << 22, partitions=(FetchPartition(
                                         topic=topic, partition=partition,
                                         fetch_offset=offset, partition_max_bytes=1 << 22),)),
                        10).result()
        part = reply.partitions[0]
        if part.error:
            raise error_for(part.error, "fetch failed")
        records = [r for r in decode_batches(part.records) if r.offset >= offset]
        if not records:
            break
        out.extend((r.offset, r.value) for r in records)
        offset = records[-1].offset + 1
    return out
