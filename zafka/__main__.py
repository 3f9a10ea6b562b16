"""``python -m zafka``: the same command line as ``zafka`` and ``python cluster.py``."""

import sys

from zafka.cli.main import main

sys.exit(main())
