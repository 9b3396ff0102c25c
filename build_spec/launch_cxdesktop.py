"""Entry point of the frozen app (PyInstaller starts here)."""

import sys

from cxdesktop.app import main

if __name__ == "__main__":
    sys.exit(main())
