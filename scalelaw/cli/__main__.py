"""``python -m scalelaw.cli``: the command line (same as ``python -m scalelaw``)."""

import sys

from scalelaw.cli import main

sys.exit(main())
