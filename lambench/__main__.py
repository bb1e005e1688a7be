"""`python -m lambench` runs the command-line interface."""

import sys

from lambench.cli.main import main

sys.exit(main())
