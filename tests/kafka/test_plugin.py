"""The pytest plugin as a user's test suite meets it: installed with the package (the
``pytest11`` entry point), nothing to import or configure, the ``zafka_cluster`` fixture
giving a real cluster that confluent-kafka and kafka-python reach with its settings.

The user's suite is written to a temporary directory and run by a separate ``pytest``, so
the plugin is found the way it is found in anyone's project; that run must leave no node
process behind.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_SUITE = textwrap.dedent('''
    import json
    from pathlib import Path

    from confluent_kafka import Consumer, Producer


    def test_orders_round_trip(zafka_cluster):
        producer = Producer(zafka_cluster.kafka_config)
        producer.produce("orders", b"order-1")
        assert producer.flush(30) == 0
        consumer = Consumer({**zafka_cluster.kafka_config, "group.id": "billing",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["orders"])
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        consumer.close()
        assert message is not None and message.value() == b"order-1"


    def test_the_same_cluster_for_the_whole_session(zafka_cluster):
        servers = zafka_cluster.bootstrap_servers.split(",")
        assert len(servers) == 3
        assert Path(zafka_cluster.cluster_file).exists()
        assert json.loads(Path(zafka_cluster.cluster_file).read_text())["cluster_id"]
        assert zafka_cluster.kafka_python_config["bootstrap_servers"] == \\
            zafka_cluster.kafka_config["bootstrap.servers"]
        Path("pids.txt").write_text(" ".join(
            str(n.process.pid) for n in zafka_cluster.cluster.nodes))
''')

CREATE_TOPIC = textwrap.dedent('''
    import pytest
    from confluent_kafka.admin import AdminClient, NewTopic


    @pytest.fixture(scope="session", autouse=True)
    def orders_topic(zafka_cluster):
        admin = AdminClient(zafka_cluster.kafka_config)
        admin.create_topics([NewTopic("orders", 3, 3)])["orders"].result(30)
''')


def test_a_users_suite_gets_a_cluster_from_the_installed_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_orders.py").write_text(USER_SUITE)
    (tmp_path / "conftest.py").write_text(CREATE_TOPIC)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert len(pids) == 6
    still_running = [pid for pid in pids if Path(f"/proc/{pid}").exists()
                     and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
    assert still_running == []
