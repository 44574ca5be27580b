"""Developer tools: screenshots of the real window on the demo clinic and the helpers only they
use. The product never imports this package (tests/test_rooms.py); the command line loads it
only for `iopdesk demo --screenshot`."""
