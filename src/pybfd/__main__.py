"""`python -m pybfd`: the same as the `pybfd` command (see `pybfd.cli`)."""

import sys

from pybfd.cli import main

sys.exit(main())
