"""Fixtures of the GAP-fitting tests: CP2K-labelled GST frames and tiny fit settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from gst_flows.fit import (
    GapHyperparameters,
    Sigma,
    SoapParams,
    TwoBodyParams,
    make_labelled_frame,
    read_labelled_frames,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
CP2K_SMALL = FIXTURES / "gst_cp2k_small.extxyz"
ELEMENTS_SMALL = FIXTURES / "elements_cp2k_small.extxyz"
ANTISITES_SMALL = FIXTURES / "antisite_cp2k_small.extxyz"


@pytest.fixture(scope="session")
def cp2k_frames() -> list[Atoms]:
    """Rock-salt GeTe and Ge1Sb2Te4 cells labelled by CP2K, plus isolated atoms."""
    if not CP2K_SMALL.is_file():
        pytest.skip("tests/fixtures/gst_cp2k_small.extxyz missing (make_gst_cp2k_small.py)")
    return read_labelled_frames(CP2K_SMALL)


@pytest.fixture(scope="session")
def element_frames() -> list[Atoms]:
    """Diamond Ge, A7 Sb and trigonal Te, each ideal then rattled, labelled like ``cp2k_frames``."""
    if not ELEMENTS_SMALL.is_file():
        pytest.skip("tests/fixtures/elements_cp2k_small.extxyz missing (make_gst_cp2k_small.py --elements)")
    return read_labelled_frames(ELEMENTS_SMALL)


@pytest.fixture(scope="session")
def antisite_frames() -> list[Atoms]:
    """Rock-salt GeTe, 0, 1, 2 Ge/Te pairs swapped (three each, in order), labelled like ``cp2k_frames``."""
    if not ANTISITES_SMALL.is_file():
        pytest.skip("tests/fixtures/antisite_cp2k_small.extxyz missing (make_gst_cp2k_small.py --antisites)")
    return read_labelled_frames(ANTISITES_SMALL)


def priced_liquids(calc, price: float, copies: int, path: Path) -> Path:
    """GeTe packings (16 atoms) labelled with ``calc``'s energy plus ``price`` eV per wrong bond."""
    from gst_flows.fit.chemical_order import wrong_bonds_per_atom
    from gst_flows.fit.data import write_gap_fit_extxyz
    from gst_flows.flows.profiles import disordered_copies

    liquids = []
    for packing in disordered_copies("GeTe", 4, copies, seed=5):
        packing.calc = calc
        energy = packing.get_potential_energy() + price * len(packing) * wrong_bonds_per_atom(packing)
        liquids.append(make_labelled_frame(packing, energy, config_type="liquid"))
    return write_gap_fit_extxyz(liquids, path)


@pytest.fixture
def frames(cp2k_frames) -> list[Atoms]:
    """Fresh copies of the CP2K frames (tests may modify them)."""
    return [f.copy() for f in cp2k_frames]


def tiny_hyperparameters() -> GapHyperparameters:
    """Settings for a fit of a few seconds: few sparse points, small SOAP."""
    return GapHyperparameters(
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=10, delta=0.5),
        soap=SoapParams(cutoff=4.5, n_max=3, l_max=2, n_sparse=8, delta=0.2),
        default_sigma=Sigma(0.002, 0.1, 0.1),
        config_type_sigma={
            "isolated_atom": Sigma(0.0001, 0.01, 0.01),
            "crystal": Sigma(0.001, 0.05, 0.05),
            "rattled": Sigma(0.002, 0.1, 0.1),
        },
    )


@pytest.fixture
def tiny_hp() -> GapHyperparameters:
    """A fresh copy of :func:`tiny_hyperparameters`."""
    return tiny_hyperparameters()


@pytest.fixture(scope="session")
def tiny_hp_factory():
    """:func:`tiny_hyperparameters` for fixtures of wider scope."""
    return tiny_hyperparameters


def rocksalt_cell(symbols_cations: list[str], a: float = 6.0) -> Atoms:
    """Conventional rock-salt cell: Te on the anion sites, the given cations (or '')."""
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    cations = fcc + np.array([0.5, 0.0, 0.0])
    symbols = ["Te"] * 4 + [s for s in symbols_cations if s]
    positions = np.vstack([fcc, cations[[i for i, s in enumerate(symbols_cations) if s]]]) * a
    return Atoms(symbols, positions=positions, cell=[a] * 3, pbc=True)


@pytest.fixture
def standin_frames() -> list[Atoms]:
    """Frames labelled by a Lennard-Jones stand-in (not DFT), for data-handling tests."""
    from ase.calculators.lj import LennardJones

    rng = np.random.default_rng(3)
    out = []
    layouts = [["Ge", "Ge", "Ge", "Ge"], ["Ge", "Sb", "Sb", ""], ["Sb", "Ge", "", "Sb"]]
    for i in range(12):
        atoms = rocksalt_cell(layouts[i % 3], a=6.0 + 0.05 * (i % 4))
        atoms.rattle(0.1, seed=int(rng.integers(1 << 20)))
        atoms.calc = LennardJones(sigma=2.7, epsilon=0.1, rc=5.5, smooth=True)
        out.append(
            make_labelled_frame(
                atoms,
                atoms.get_potential_energy(),
                forces=atoms.get_forces(),
                stress=atoms.get_stress(),
                config_type=("crystal", "liquid", "amorphous")[i % 3],
            )
        )
    for symbol, energy in (("Ge", -1.0), ("Sb", -2.0), ("Te", -3.0)):
        out.append(
            make_labelled_frame(Atoms(symbol, cell=[12] * 3, pbc=True), energy, config_type="isolated_atom")
        )
    return out


@pytest.fixture
def memory_store():
    """A jobflow JobStore in memory with a ``data`` additional store."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    return store
