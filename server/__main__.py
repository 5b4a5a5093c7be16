"""`python -m devassist.server` is the `devassist` command."""

import sys

from devassist.server.cli import main

sys.exit(main())
