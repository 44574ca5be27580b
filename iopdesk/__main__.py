import sys

from iopdesk.cli import main

sys.exit(main())
