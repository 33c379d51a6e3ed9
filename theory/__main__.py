"""``python -m theory verify [--full] [--only NAME] [--jobs N] [--out DIR]``; see :mod:`theory.cli`."""

import sys

from .cli import main

sys.exit(main())
