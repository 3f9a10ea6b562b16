"""Transport throughput between two processes, beside raw pyzmq in the same run.

``python -m benchmarks.transport_bench [--quick] [--json FILE]``

Measures one-way throughput from this process to an echo process that acknowledges every
``window`` messages, for (a) batched ~100 KB frames and (b) small messages, each through
zafka's transport with authentication on (CURVE), with it off, and through raw pyzmq
DEALER/ROUTER sockets carrying the same bytes.  Prints a table with the ratio zafka / raw.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import threading
import time
from typing import Any

import zmq
from zafka.core.messages import Echo, EchoReply, Envelope
from zafka.transport.auth import Credentials
from zafka.transport.remote import Postbox

WINDOW = 64


def zafka_server(credentials: Credentials | None, ready: Any) -> None:
    postbox = Postbox(credentials=credentials)

    def on_envelope(envelope: Envelope) -> None:
        if envelope.reply_to:
            postbox.send(envelope.source, envelope.reply_to, EchoReply(payload=None),
                         correlation_id=envelope.correlation_id)

    postbox.set_local_handler(on_envelope)
    postbox.start()
    ready.send(postbox.address)
    threading.Event().wait()


def raw_server(ready: Any) -> None:
    sock = zmq.Context().socket(zmq.ROUTER)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    ready.send(f"tcp://127.0.0.1:{port}")
    count = 0
    while True:
        frames = sock.recv_multipart(copy=False)
        count += 1
        if count % WINDOW == 0:
            sock.send_multipart([frames[0].bytes, b"ack"])


def run_zafka(address: str, credentials: Credentials | None, payload: Any,
              messages: int) -> float:
    client = Postbox(credentials=credentials).start()
    try:
        client.ask(address, "x", Echo(payload=None), 10).result()
        began = time.perf_counter()
        for i in range(messages):
            if (i + 1) % WINDOW == 0:
                client.ask(address, "x", Echo(payload=payload), 30).result()
            else:
                while not client.send(address, "x", Echo(payload=payload)):
                    time.sleep(0.001)
        return time.perf_counter() - began
    finally:
        client.stop()


def run_raw(address: str, payload: bytes, messages: int) -> float:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(address)
    began = time.perf_counter()
    for i in range(messages):
        sock.send_multipart([b"h", payload], copy=len(payload) < 65536)
        if (i + 1) % WINDOW == 0:
            sock.recv_multipart()
    elapsed = time.perf_counter() - began
    sock.close(linger=0)
    return elapsed


def start(target: Any, *args: Any) -> tuple[Any, str]:
    parent, child = mp.Pipe()
    proc = mp.Process(target=target, args=(*args, child), daemon=True)
    proc.start()
    return proc, parent.recv()


def measure(kind: str, size: int, messages: int, repeats: int) -> dict[str, Any]:
    payload = os.urandom(size)
    blob = memoryview(bytearray(payload))
    creds = Credentials.generate()
    results: dict[str, Any] = {"kind": kind, "payload_bytes": size, "messages": messages}
    for label, runner in (("raw_pyzmq", None), ("zafka_curve", creds), ("zafka_plain", None)):
        if label == "raw_pyzmq":
            proc, address = start(raw_server)
            times = [run_raw(address, payload, messages) for _ in range(repeats)]
        else:
            proc, address = start(zafka_server, runner)
            times = [run_zafka(address, runner, blob if size >= 1024 else payload, messages)
                     for _ in range(repeats)]
        proc.terminate()
        elapsed = statistics.median(times)
        results[label] = {"msgs_per_s": messages / elapsed,
                          "mb_per_s": messages * size / elapsed / 1e6}
    results["ratio_curve_vs_raw"] = (results["zafka_curve"]["mb_per_s"]
                                     / results["raw_pyzmq"]["mb_per_s"])
    results["ratio_plain_vs_raw"] = (results["zafka_plain"]["mb_per_s"]
                                     / results["raw_pyzmq"]["mb_per_s"])
    return results


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    repeats = 3
    scale = 1 if args.quick else 4
    rows = [measure("batched frames", 100_000, 1_000 * scale, repeats),
            measure("small messages", 100, 10_000 * scale, repeats)]
    print(f"{'workload':<16}{'path':<14}{'msgs/s':>12}{'MB/s':>10}{'vs raw':>8}")
    for row in rows:
        for label in ("raw_pyzmq", "zafka_curve", "zafka_plain"):
            ratio = row[label]["mb_per_s"] / row["raw_pyzmq"]["mb_per_s"]
            print(f"{row['kind']:<16}{label:<14}{row[label]['msgs_per_s']:>12,.0f}"
                  f"{row[label]['mb_per_s']:>10,.1f}{ratio:>8.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"transport": rows}, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
