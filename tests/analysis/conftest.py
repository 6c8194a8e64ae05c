"""Fixtures for the analysis tests."""

import pytest
from analysis_structures import diamond_ge, rocksalt_gete
from ase import Atoms


@pytest.fixture
def gete() -> Atoms:
    return rocksalt_gete(3)


@pytest.fixture
def diamond() -> Atoms:
    return diamond_ge(2)
