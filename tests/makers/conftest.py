"""Fixtures of the maker tests: the analysis test structures and the MD stand-in potential."""

import sys
from pathlib import Path

TESTS = Path(__file__).parents[1]
for folder in ("analysis", "md"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))
