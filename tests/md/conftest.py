"""Fixtures for the MD tests: a cheap Ge/Sb/Te pair potential, small cells, a small GAP."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gap_fixture import fit_small_gap, gst_cell, pair_calculator

DATA = Path(__file__).parent / "data"


@pytest.fixture
def pair_calc():
    return pair_calculator()


@pytest.fixture
def cell():
    """108-atom fcc-packed Ge/Sb/Te cell (about 12.7 Å cubic)."""
    return gst_cell(3, seed=0)


@pytest.fixture
def slab_cell():
    """108-atom cell with the top layer ``fixed`` and a bottom ``region`` (value 1)."""
    atoms = gst_cell(3, seed=1)
    z = atoms.positions[:, 2]
    atoms.new_array("fixed", z > z.max() - 0.5)
    region = np.zeros(len(atoms), dtype=np.int32)
    region[z < 4.0] = 1
    atoms.new_array("region", region)
    return atoms


@pytest.fixture(scope="session")
def small_gap(tmp_path_factory) -> Path:
    """Path of a small GAP xml (the committed fixture, or fitted once per session)."""
    committed = DATA / "small_gap" / "gap.xml"
    if committed.exists():
        return committed
    cache = os.environ.get("GST_FLOWS_TEST_GAP_DIR")
    outdir = Path(cache) if cache else tmp_path_factory.mktemp("small_gap")
    xml = outdir / "gap.xml"
    return xml if xml.exists() else fit_small_gap(outdir)
