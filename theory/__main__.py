"""``python -m theory verify [--full] [--only NAME] [--jobs N] [--out DIR]``.

See :mod:`theory.cli` for every command."""

import sys

from .cli import main

sys.exit(main())
