"""``python -m vidground ARGS``: the CLI (``vidground serve`` starts its children this way)."""

import sys

from vidground.cli import main

sys.exit(main(sys.argv[1:]))
