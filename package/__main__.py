"""``python -m attnscope``: the ``attnscope`` command."""

import sys

from attnscope.core.cli import main

if __name__ == "__main__":
    sys.exit(main())
