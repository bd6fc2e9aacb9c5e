#!/usr/bin/env python
"""Same as the ``countycare`` command, for developers used to manage.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from countycare.cli import main

if __name__ == "__main__":
    main(sys.argv[1:] or ["--help"])
