"""Fixtures shared by the test modules."""

from __future__ import annotations

import sys
from pathlib import Path

# The suite imports helpers as the ``tests`` package from the repository root.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
