"""RTL tests: every test here is marked ``rtl``; helpers live in ``rtl_util.py`` and ``cases.py``."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
