"""``python -m profondo.cli``: the ``profondo`` command."""

import sys

from . import main

if __name__ == "__main__":  # importing this module (a checkpoint may name it) runs nothing
    sys.exit(main())
