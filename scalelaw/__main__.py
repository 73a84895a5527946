"""``python -m scalelaw``: the command line."""

import sys

from scalelaw.cli import main

sys.exit(main())
