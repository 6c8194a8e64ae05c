"""Formation energies from the elements, reference against a potential (a physical check)."""

import numpy as np
import pytest
from ase.build import bulk, fcc111
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from gst_flows.fit import predict
from gst_flows.fit.data import ENERGY_KEY
from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.formation import format_formation_table, formation_energies


class _Shifted(Calculator):
    """EMT with energy offsets: per atom of an element, and per atom of frames of one element only."""

    implemented_properties = ("energy", "forces")

    def __init__(self, per_atom=None, pure=None):
        super().__init__()
        self.per_atom, self.pure = per_atom or {}, pure or {}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        emt = EMT()
        energy = emt.get_potential_energy(atoms)
        symbols = atoms.get_chemical_symbols()
        energy += sum(self.per_atom.get(s, 0.0) for s in symbols)
        if len(set(symbols)) == 1:
            energy += self.pure.get(symbols[0], 0.0) * len(atoms)
        self.results = {"energy": energy, "forces": emt.get_forces(atoms)}


def _frames():
    """fcc Cu and Au, L1_2 Cu3Au, L1_0 CuAu and a rattled Cu supercell, EMT-labelled."""
    cu, au = bulk("Cu", "fcc", a=3.61, cubic=True), bulk("Au", "fcc", a=4.08, cubic=True)
    cu3au = bulk("Cu", "fcc", a=3.75, cubic=True)
    cu3au.symbols[0] = "Au"
    cuau = bulk("Cu", "fcc", a=3.85, cubic=True)
    cuau.symbols[[0, 1]] = "Au"
    big_cu = cu.repeat((2, 1, 1))
    big_cu.rattle(0.05, seed=1)  # a second, higher-energy Cu frame: not the reference
    frames = [cu, au, cu3au, cuau, big_cu]
    for frame in frames:
        frame.info[ENERGY_KEY] = EMT().get_potential_energy(frame)
    return frames


def _by_hand(frames):
    """E/N - sum_i x_i mu_i, with mu_i the lowest energy per atom of a pure-i frame."""
    per_atom = [f.info[ENERGY_KEY] / len(f) for f in frames]
    mu = {}
    for frame, e in zip(frames, per_atom, strict=True):
        if len(set(frame.symbols)) == 1:
            mu[frame.symbols[0]] = min(mu.get(frame.symbols[0], np.inf), e)
    return {
        frame.get_chemical_formula(mode="metal", empirical=True): e
        - sum(mu[s] for s in frame.get_chemical_symbols()) / len(frame)
        for frame, e in zip(frames, per_atom, strict=True)
        if len(set(frame.symbols)) > 1
    }


def test_formation_energies_match_the_definition_and_ignore_atomic_reference_energies():
    frames = _frames()
    expected = _by_hand(frames)
    assert expected["AuCu3"] < 0  # EMT puts Cu3Au below the elements
    # a potential whose atoms carry other isolated-atom energies: same formation energies
    result = formation_energies(predict(frames, _Shifted(per_atom={"Cu": 0.7, "Au": -1.3})))
    assert set(result.by_formula) == set(expected)
    for formula, value in expected.items():
        assert result.by_formula[formula].dft == pytest.approx(value, abs=1e-9)
        assert result.by_formula[formula].predicted == pytest.approx(value, abs=1e-9)
    assert result.rmse == pytest.approx(0.0, abs=1e-9)
    assert result.wrong_sign == 0
    assert result.n_compounds == 2
    assert result.references["Cu"] == pytest.approx(frames[0].info[ENERGY_KEY] / 4)


def test_elements_put_too_low_raise_the_compounds_above_them():
    frames = _frames()
    expected = _by_hand(frames)
    shift = -0.4  # eV/atom, on every pure-Au frame: the potential's Au crystal too low
    result = formation_energies(predict(frames, _Shifted(pure={"Au": shift})))
    for formula, x_au in (("AuCu", 0.5), ("AuCu3", 0.25)):
        assert result.by_formula[formula].predicted == pytest.approx(expected[formula] - x_au * shift)
    errors = np.array([-0.5 * shift, -0.25 * shift])
    assert result.rmse == pytest.approx(np.sqrt(np.mean(errors**2)))
    # Cu3Au: below the elements by DFT's measure, above them by the potential's
    pairs = (("AuCu", 0.5), ("AuCu3", 0.25))
    assert result.wrong_sign == sum((expected[f] < 0) != (expected[f] - x * shift < 0) for f, x in pairs)
    assert result.wrong_sign >= 1
    table = format_formation_table(result, "t", name="pot")
    assert "AuCu3" in table and f"{1000 * expected['AuCu3']:.1f}" in table


def test_missing_element_is_a_clear_error():
    frames = [f for f in _frames() if set(f.symbols) != {"Au"}]
    with pytest.raises(FitInputError, match="Au"):
        formation_energies(predict(frames, EMT()))
    assert formation_energies(predict(frames, EMT()), required=False) is None
    only_elements = [f for f in _frames() if len(set(f.symbols)) == 1]
    with pytest.raises(FitInputError, match="two elements"):
        formation_energies(predict(only_elements, EMT()))


def test_a_slab_and_a_bulk_of_one_element_take_the_lower_as_reference():
    frames = _frames()
    slab = fcc111("Au", (1, 1, 3), a=4.08, vacuum=5.0, periodic=True)
    slab.info[ENERGY_KEY] = EMT().get_potential_energy(slab)
    result = formation_energies(predict([*frames, slab], EMT()))
    assert result.references["Au"] == pytest.approx(frames[1].info[ENERGY_KEY] / 4)


def test_a_gap_that_saw_the_element_crystals_knows_the_formation_energies(
    cp2k_frames, element_frames, tiny_hp, tmp_path
):
    """Real CP2K labels: rock-salt GeTe and Ge1Sb2Te4 (DFT: GeTe 160-190 meV/atom below the
    elements) and the three elements' crystals. Judged on the rattled element crystals, which
    neither fit trained on, with the compounds: the fit on the compounds alone misses the
    formation energies by far more than the fit that also saw the ideal element crystals."""
    from gst_flows.fit import fit_gap
    from gst_flows.fit.data import is_isolated_atom
    from gst_flows.md.potential import gap_calculator

    ideal, rattled = element_frames[0::2], element_frames[1::2]
    compounds = [f for f in cp2k_frames if not is_isolated_atom(f)]
    judged = [*compounds, *rattled]
    errors = {}
    for name, extra in (("compounds only", []), ("with the elements", ideal)):
        fit = fit_gap([*cp2k_frames, *extra], tiny_hp, tmp_path / name.replace(" ", "_"), timeout_s=300)
        result = formation_energies(predict(judged, gap_calculator(fit.potential_path)))
        assert result.by_formula["GeTe"].dft < -0.15  # DFT: GeTe forms from the elements
        errors[name] = result.rmse
    assert errors["with the elements"] < 0.5 * errors["compounds only"], errors
