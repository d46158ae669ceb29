import sys

from cxdesk.cli import main

sys.exit(main())
