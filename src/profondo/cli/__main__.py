"""``python -m profondo.cli``: the ``profondo`` command."""

import sys

from . import main

sys.exit(main())
