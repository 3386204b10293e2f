"""Shared test fixtures: where ../shared lives, and small helpers."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the project's shared material (parity fixtures, sequences); overridable for unusual layouts
SHARED = Path(os.environ.get("STMTRACK_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED} (set STMTRACK_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def sequences_dir(shared_dir) -> Path:
    return shared_dir / "data" / "sequences"
