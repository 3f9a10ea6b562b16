"""``python cluster.py --brokers 3``: zafka's command line from a source checkout.

The same as the installed ``zafka`` command; everything lives in ``zafka.cli`` (run
``python cluster.py --help``).
"""

import sys

from zafka.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
