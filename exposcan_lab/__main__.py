"""``python -m exposcan_lab``."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
