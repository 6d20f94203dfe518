"""``python -m firmware`` is the ``stocktaker`` command."""

import sys

from firmware.cli import main

sys.exit(main())
