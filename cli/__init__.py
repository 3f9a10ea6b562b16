"""The sub-commands of ``python cluster.py`` (also installed as ``zafka``).

Owns: argument parsing and printing for the Kafka-style tools — ``topics``, ``configs``,
``produce``, ``consume``, ``groups``, ``perf-produce``, ``perf-consume`` — built on the
public client library.  Every error reaches the user as one line on stderr and a non-zero
exit status.

Must never: talk to nodes except through ``client`` (and ``transport`` for status), or be
imported by anything but ``cluster.py`` and tests.
"""

__all__: list[str] = []
