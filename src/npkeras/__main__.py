"""``python -m npkeras`` runs the command line."""

import sys

from npkeras.cli import main

sys.exit(main())
