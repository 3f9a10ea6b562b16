"""The whole command line: ``zafka`` (installed), ``python -m zafka`` and, in a checkout,
``python cluster.py`` — all three run ``zafka.cli.main.main``.

Owns: argument parsing and printing for the launcher's commands (``run``, the default, plus
``status``, ``add-broker`` and ``node``: ``cli/run.py``) and the Kafka-style tools —
``topics``, ``configs``, ``produce``, ``consume``, ``groups``, ``perf-produce``,
``perf-consume``, ``reassign``, ``chaos`` — built on the launcher (``zafka.launcher``) and the
public client library.  Every error reaches the user as one line on stderr and a non-zero
exit status.

Must never: talk to nodes except through ``client`` and the launcher (and ``transport`` for
status), or be imported by anything but the entry points and tests.
"""

__all__: list[str] = []
