import sys

from iopdesk.cli import main

# Guarded: a worker process (iopdesk/worker.py, "spawn") imports the main module again.
if __name__ == "__main__":
    sys.exit(main())
