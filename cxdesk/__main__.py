import sys

from cxdesk.main import main

sys.exit(main())
