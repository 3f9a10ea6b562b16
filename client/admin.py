"""Admin: create, list, describe, grow and configure topics; describe the cluster.

Shaped after kafka-python's ``KafkaAdminClient``: every call blocks until the controller has
committed the change (or raises the Kafka-named error: ``TopicAlreadyExists``,
``InvalidReplicationFactor``, ``InvalidPartitions``, ``UnknownTopicOrPartition``,
``InvalidConfig``, ``InvalidTopic``, ``NoQuorum``, ...).

    from zafka.client import Admin
    with Admin("data/cluster.json") as admin:
        admin.create_topic("orders", partitions=3, replication_factor=3)
        admin.alter_configs("orders", {"retention.ms": 60000})
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from zafka.client import admin_groups, admin_security
from zafka.client.controller import ControllerClient
from zafka.core.errors import (
    ErrorCode,
    InvalidReplicaAssignment,
    InvalidRequest,
    ZafkaError,
    error_for,
)
from zafka.core.messages import (
    AclBinding,
    AlterConfigsRequest,
    AlterPartitionReassignmentsRequest,
    AlterTopicConfigs,
    CreatePartitionsRequest,
    CreateTopicsRequest,
    DeleteTopicsRequest,
    DescribeConfigsRequest,
    DescribeTopicsRequest,
    ElectionType,
    ElectLeadersRequest,
    IdentityRecord,
    ListPartitionReassignmentsRequest,
    ListTopicsRequest,
    NewPartitions,
    NewTopic,
    OngoingReassignment,
    PartitionRecord,
    ReplicaRole,
    ReplicaStatusRequest,
    TopicDescription,
)
from zafka.core.placement import decommission_plan, generate_reassignment
from zafka.core.reassignment import target_replicas
from zafka.transport.cluster_file import ClusterFile, client_bind_url, resolve_path
from zafka.transport.remote import Postbox

DEFAULT_TIMEOUT_S = 30.0
REASSIGNMENT_ATTEMPTS = 5
"""Tries for a partition whose reassignment raced with another change to it (stale epoch)."""
Plan = dict[tuple[str, int], tuple[int, ...]]
"""Target replicas by (topic, partition)."""


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One partition as ``describe_topic`` reports it (-1 where the leader did not answer)."""

    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader_epoch: int
    log_start_offset: int
    log_end_offset: int
    high_watermark: int


@dataclasses.dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic as ``describe_topic`` reports it."""

    name: str
    topic_id: str
    internal: bool
    partitions: list[PartitionInfo]


class ClientClosed(ZafkaError):
    """The client was used after ``close()``."""


def _raise_for(error: ErrorCode, message: str) -> None:
    if error != ErrorCode.NONE:
        raise error_for(error, message)


class Admin:
    """Administrative operations on a cluster, found through its cluster file."""

    def __init__(self, cluster: str | None = None, *, request_timeout_ms: int = 30_000) -> None:
        self.config_path = resolve_path(cluster)
        self.config = ClusterFile.load(self.config_path)
        self.timeout = request_timeout_ms / 1000
        self._postbox = Postbox(client_bind_url(self.config),
                                credentials=self.config.credentials).start()
        self._controller = ControllerClient(self._postbox,
                                            [c.address for c in self.config.coordinators])
        self._closed = False

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._postbox.stop()

    def _request(self, body: Any) -> Any:
        if self._closed:
            raise ClientClosed("this Admin client is closed")
        return self._controller.request(body, self.timeout)

    # --- credentials and ACLs (admins only, unless an ACL grants Alter on the cluster) ----

    def create_credentials(self, name: str, role: str = "client",
                           path: str | Path | None = None) -> Path:
        """Issue identity ``name`` (principal ``User:<name>``) and write its client file
        (default: ``<name>.json`` beside this admin's file); returns the path."""
        target = path or self.config_path.parent / f"{name}.json"
        return admin_security.create_credentials(self._request, self.config, name, role,
                                                 target)

    def revoke_credentials(self, name: str) -> None:
        """Take identity ``name`` back: every node refuses its key from now on."""
        admin_security.revoke_credentials(self._request, name)

    def describe_credentials(self) -> tuple[IdentityRecord, ...]:
        return admin_security.describe_credentials(self._request)

    def create_acls(self, bindings: Iterable[AclBinding]) -> None:
        admin_security.create_acls(self._request, bindings)

    def delete_acls(self, bindings: Iterable[AclBinding]) -> None:
        admin_security.delete_acls(self._request, bindings)

    def describe_acls(self) -> tuple[AclBinding, ...]:
        return admin_security.describe_acls(self._request)

    # --- topics -------------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                     config: Mapping[str, Any] | None = None) -> str:
        """Create one topic; returns its topic id."""
        return self.create_topics([(name, partitions, replication_factor, config)])[0]

    def create_topics(self, topics: Iterable[tuple[str, int, int, Mapping[str, Any] | None]],
                      ) -> list[str]:
        """Create several topics at once; raises the first error, after all were tried."""
        new = tuple(NewTopic(name=n, num_partitions=p, replication_factor=r,
                             configs=tuple((k, v) for k, v in (c or {}).items()))
                    for n, p, r, c in topics)
        reply = self._request(CreateTopicsRequest(topics=new))
        for result in reply.results:
            _raise_for(result.error, result.message)
        return [r.topic_id for r in reply.results]

    def delete_topic(self, name: str) -> None:
        reply = self._request(DeleteTopicsRequest(names=(name,)))
        for result in reply.results:
            _raise_for(result.error, result.message)

    def list_topics(self, include_internal: bool = False) -> list[str]:
        reply = self._request(ListTopicsRequest(include_internal=include_internal))
        return sorted(t.name for t in reply.topics)

    def describe_topic(self, name: str) -> TopicInfo:
        """Partitions of ``name``: leader, replicas, ISR, leader epoch, and — from each
        partition's leader — log start offset, log end offset and high watermark."""
        reply = self._request(DescribeTopicsRequest(names=(name,)))
        description: TopicDescription = reply.topics[0]
        _raise_for(description.error, description.message)
        offsets = self._leader_offsets(description, reply.brokers)
        partitions = []
        for record in sorted(description.partitions, key=lambda p: p.partition):
            start, end, hw = offsets.get(record.partition, (-1, -1, -1))
            partitions.append(PartitionInfo(
                partition=record.partition, leader=record.leader, replicas=record.replicas,
                isr=record.isr, leader_epoch=record.leader_epoch, log_start_offset=start,
                log_end_offset=end, high_watermark=hw))
        return TopicInfo(name=description.name, topic_id=description.topic_id,
                         internal=description.internal, partitions=partitions)

    def _leader_offsets(self, description: TopicDescription, brokers: Iterable[Any],
                        ) -> dict[int, tuple[int, int, int]]:
        addresses = {b.broker_id: b.address for b in brokers}
        leaders = {p.leader for p in description.partitions if p.leader in addresses}
        futures = [self._postbox.ask(addresses[b], "broker", ReplicaStatusRequest(),
                                     min(self.timeout, 5.0)) for b in sorted(leaders)]
        offsets: dict[int, tuple[int, int, int]] = {}
        for future in futures:
            try:
                status = future.result()
            except ZafkaError:
                continue  # that leader did not answer: its offsets stay unknown (-1)
            for replica in status.replicas:
                if replica.topic == description.name and replica.role is ReplicaRole.LEADER:
                    offsets[replica.partition] = (replica.log_start_offset,
                                                  replica.log_end_offset,
                                                  replica.high_watermark)
        return offsets

    def create_partitions(self, name: str, total: int) -> None:
        """Grow ``name`` to ``total`` partitions (a decrease is refused: InvalidPartitions)."""
        reply = self._request(CreatePartitionsRequest(
            topics=(NewPartitions(name=name, total_count=total),)))
        for result in reply.results:
            _raise_for(result.error, result.message)

    # --- configs ------------------------------------------------------------------------

    def describe_configs(self, name: str) -> dict[str, str]:
        """Every effective config of topic ``name``, as text."""
        reply = self._request(DescribeConfigsRequest(names=(name,)))
        result = reply.results[0]
        _raise_for(result.error, result.message)
        return {entry.name: entry.value for entry in result.entries}

    def config_entries(self, name: str) -> list[tuple[str, str, bool]]:
        """(key, value, is_default) for every config of topic ``name``."""
        reply = self._request(DescribeConfigsRequest(names=(name,)))
        result = reply.results[0]
        _raise_for(result.error, result.message)
        return [(e.name, e.value, e.is_default) for e in result.entries]

    def config_overrides(self, name: str) -> dict[str, str]:
        """Only the configs of ``name`` set explicitly (what Kafka calls dynamic configs)."""
        return {k: v for k, v, default in self.config_entries(name) if not default}

    def alter_configs(self, name: str, configs: Mapping[str, Any],
                      delete: Iterable[str] = ()) -> None:
        """Set ``configs`` and reset the keys in ``delete`` to their defaults."""
        reply = self._request(AlterConfigsRequest(topics=(AlterTopicConfigs(
            name=name, set_configs=tuple(configs.items()), delete_configs=tuple(delete)),)))
        for result in reply.results:
            _raise_for(result.error, result.message)

    # --- consumer groups ----------------------------------------------------------------

    def _broker_addresses(self) -> list[str]:
        reply = self._request(DescribeTopicsRequest(names=()))
        live = [b.address for b in reply.brokers if not b.fenced]
        return live or [b.address for b in self.config.brokers]

    def list_groups(self) -> list[dict[str, str]]:
        """Every consumer group: ``{"group", "state", "protocol_type"}``."""
        if self._closed:
            raise ClientClosed("this Admin client is closed")
        return admin_groups.list_groups(self._postbox, self._broker_addresses(),
                                        min(self.timeout, 5.0))

    def describe_group(self, group_id: str) -> admin_groups.GroupDescription:
        """Members and their partitions, committed offsets, end offsets and lag."""
        if self._closed:
            raise ClientClosed("this Admin client is closed")
        return admin_groups.describe_group(self._postbox, self._broker_addresses(), group_id,
                                           min(self.timeout, 10.0))

    # --- cluster ------------------------------------------------------------------------

    def describe_cluster(self) -> dict[str, Any]:
        """Brokers (id, address, epoch, fenced) and the controller's coordinator."""
        reply = self._request(DescribeTopicsRequest(names=()))
        controller = self._controller.coordinators[
            self._controller.guess % len(self._controller.coordinators)]
        return {"controller": controller,
                "brokers": [{"id": b.broker_id, "address": b.address, "epoch": b.broker_epoch,
                             "fenced": b.fenced} for b in reply.brokers]}

    # --- reassignments and leader elections ---------------------------------------------

    def alter_partition_reassignments(
        self, reassignments: Mapping[tuple[str, int], Sequence[int] | None],
    ) -> dict[tuple[str, int], ZafkaError | None]:
        """Start (target replicas) or cancel (None) reassignments (KIP-455).

        Returns, per partition, None if accepted or the Kafka-named error that refused it.
        A partition whose request raced with another change to it is tried again.
        """
        results: dict[tuple[str, int], ZafkaError | None] = {}
        todo = {key: None if target is None else tuple(target)
                for key, target in reassignments.items()}
        for _ in range(REASSIGNMENT_ATTEMPTS):
            if not todo:
                break
            reply = self._request(AlterPartitionReassignmentsRequest(reassignments=tuple(
                (topic, partition, target) for (topic, partition), target in todo.items())))
            for result in reply.results:
                key = (result.topic, result.partition)
                results[key] = (None if result.error == ErrorCode.NONE
                                else error_for(result.error, result.message))
                if result.error != ErrorCode.FENCED_LEADER_EPOCH:
                    todo.pop(key)
        return {key: results[key] for key in reassignments}

    def list_partition_reassignments(
        self, partitions: Iterable[tuple[str, int]] | None = None,
    ) -> dict[tuple[str, int], OngoingReassignment]:
        """The ongoing reassignments (of ``partitions``, or all): replicas, adding, removing."""
        reply = self._request(ListPartitionReassignmentsRequest(
            partitions=tuple(partitions or ())))
        return {(r.topic, r.partition): r for r in reply.reassignments}

    def elect_leaders(self, topics: Iterable[str] | None = None,
                      ) -> dict[tuple[str, int], ZafkaError | None]:
        """Preferred-leader election for every partition of ``topics`` (None = all topics).

        Returns, per partition, None if its preferred replica leads (now or already) or the
        error that prevented it (``LeaderNotAvailable``: the preferred replica is not live
        and in sync)."""
        keys = () if topics is None else tuple(sorted(
            (p.topic, p.partition) for p in self._partition_records(topics)))
        reply = self._request(ElectLeadersRequest(election_type=ElectionType.PREFERRED,
                                                  partitions=keys))
        return {(r.topic, r.partition): None if r.error == ErrorCode.NONE
                else error_for(r.error, r.message) for r in reply.results}

    def partition_assignments(self, topics: Iterable[str] | None = None) -> Plan:
        """The current replicas of every partition of ``topics`` (None = all topics)."""
        return {(p.topic, p.partition): p.replicas for p in self._partition_records(topics)}

    def generate_reassignment(self, topics: Iterable[str], brokers: Iterable[int]) -> Plan:
        """A balanced plan placing ``topics`` on ``brokers`` (kafka-reassign-partitions
        --generate): each topic keeps its replication factor; among the balanced layouts the
        one that moves the fewest replicas is chosen."""
        names = list(dict.fromkeys(topics))
        if not names:
            raise InvalidRequest("name at least one topic to plan a reassignment for")
        wanted = sorted(set(brokers))
        records, registered = self._describe(names)
        unknown = sorted(set(wanted) - registered)
        if unknown:
            raise InvalidReplicaAssignment(f"brokers {unknown} are not registered")
        plan: Plan = {}
        for name in names:
            current = tuple(target_replicas(p) for p in records if p.topic == name)
            for index, replicas in enumerate(generate_reassignment(current, wanted)):
                plan[(name, index)] = replicas
        return plan

    def plan_decommission(self, broker_id: int) -> Plan:
        """A plan moving every replica (internal topics included) off ``broker_id`` onto the
        other live brokers, moving nothing else; ``InvalidReplicationFactor`` if a topic's
        replication factor could not be kept.  Empty when the broker holds no replicas."""
        reply = self._request(DescribeTopicsRequest(names=()))
        brokers = {b.broker_id: b for b in reply.brokers}
        if broker_id not in brokers:
            raise InvalidRequest(f"broker {broker_id} is not registered")
        live = [b for b, record in brokers.items() if not record.fenced]
        assignment = {(p.topic, p.partition): target_replicas(p)
                      for t in reply.topics for p in t.partitions}
        return decommission_plan(assignment, broker_id, live)

    def hosted_replicas(self, broker_id: int) -> list[tuple[str, int]]:
        """The replicas broker ``broker_id`` runs right now, as it reports them."""
        reply = self._request(DescribeTopicsRequest(names=()))
        address = next((b.address for b in reply.brokers if b.broker_id == broker_id), None)
        if address is None:
            raise InvalidRequest(f"broker {broker_id} is not registered")
        status = self._postbox.ask(address, "broker", ReplicaStatusRequest(),
                                   min(self.timeout, 5.0)).result()
        return sorted((r.topic, r.partition) for r in status.replicas)

    def wait_for_reassignments(self, partitions: Iterable[tuple[str, int]],
                               timeout_s: float, poll_s: float = 0.2,
                               ) -> dict[tuple[str, int], OngoingReassignment]:
        """Wait until none of ``partitions`` is being reassigned or ``timeout_s`` passes;
        returns those still in progress (empty: all done)."""
        keys = list(partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            ongoing = self.list_partition_reassignments(keys) if keys else {}
            if not ongoing or time.monotonic() >= deadline:
                return ongoing
            time.sleep(poll_s)

    def _describe(self, topics: Iterable[str] | None,
                  ) -> tuple[list[PartitionRecord], set[int]]:
        names = () if topics is None else tuple(dict.fromkeys(topics))
        reply = self._request(DescribeTopicsRequest(names=names))
        records: list[PartitionRecord] = []
        for description in reply.topics:
            _raise_for(description.error, description.message)
            records += sorted(description.partitions, key=lambda p: p.partition)
        return records, {b.broker_id for b in reply.brokers}

    def _partition_records(self, topics: Iterable[str] | None) -> list[PartitionRecord]:
        return self._describe(topics)[0]


__all__ = ["Admin", "ClientClosed", "PartitionInfo", "Plan", "TopicInfo"]
