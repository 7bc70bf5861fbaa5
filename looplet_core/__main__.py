"""``python -m looplet_core show|eval|diff``: see ``looplet_core.cli``."""

import sys

from looplet_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
