"""`python -m agentsup ...`: the same program as the `agentsup` script, for an
environment whose scripts directory is not on PATH."""

import sys

from agentsup.cli import main

sys.exit(main())
