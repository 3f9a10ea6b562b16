"""Child process for the crash test: append + flush in a loop, print each flushed offset."""

from __future__ import annotations

import sys

from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.records import Record, encode_batch


def main(directory: str) -> None:
    log = PartitionLog.open(directory, LogConfig(segment_bytes=64 * 1024), lambda: 0)
    counter = 0
    while True:
        for _ in range(counter % 3 + 1):
            records = [Record(b"%d" % counter, b"v" * (counter % 700), timestamp_ms=counter)
                       for _ in range(counter % 7 + 1)]
            log.append_as_leader(encode_batch(records), leader_epoch=1)
            counter += 1
        print(log.flush(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
