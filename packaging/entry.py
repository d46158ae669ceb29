"""Entry point of the frozen program: the same as the ``cxdesk`` console script."""
import sys

from cxdesk.main import main

if __name__ == "__main__":
    sys.exit(main())
