"""``python -m berg`` runs the command line."""

import sys

from berg.cli import main

sys.exit(main())
