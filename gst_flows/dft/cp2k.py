"""CP2K labelling: input writing, running (through custodian) and parsing.

The default protocol follows the project's reference settings: PBEsol (CP2K's ``&PBE`` with
``PARAMETRIZATION PBESOL``), DZVP-MOLOPT-SR-GTH basis sets, GTH-PBE pseudopotentials (no PBEsol
ones exist for Ge, Sb, Te), 300 Ry / REL_CUTOFF 50 Ry, EPS_SCF 1e-6, diagonalisation with
Fermi-Dirac smearing, Broyden mixing, a Monkhorst-Pack mesh from a k-point spacing (0.12 Å⁻¹), and
analytical stress. Results are converted to eV, eV/Å and GPa here, once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.units import Bohr, GPa, Hartree

from gst_flows.dft.common import ProtocolSettings, check_protocol, settings_digest

__all__ = [
    "Cp2kError",
    "Cp2kResult",
    "Cp2kSettings",
    "kpoint_mesh",
    "label_structure",
    "parse_cp2k_output",
    "run_cp2k",
    "write_cp2k_input",
]

INPUT_FILE = "cp2k.inp"
OUTPUT_FILE = "cp2k.out"
PROJECT = "gst"
VALENCE = {"Ge": 4, "Sb": 5, "Te": 6}
BASIS_FILE = "BASIS_MOLOPT"
POTENTIAL_FILE = "GTH_POTENTIALS"

HA_BOHR_TO_EV_ANG = Hartree / Bohr
AU_TIME_FS = 2.4188843265857e-2  # atomic unit of time, fs


class Cp2kError(RuntimeError):
    """CP2K failed, or its output could not be parsed, after all corrections."""


# Fields added to the protocol later, with the value that behaves as before they existed.
_LATER_FIELDS: dict[str, Any] = {"scf_method": "diagonalization"}


@dataclass(frozen=True)
class Cp2kSettings(ProtocolSettings):
    """The CP2K labelling protocol.

    Parameters
    ----------
    functional
        ``"PBESOL"`` or ``"PBE"`` (GGA through CP2K's ``&PBE`` section).
    cutoff, rel_cutoff
        Plane-wave cutoffs of the multigrid, Ry.
    eps_scf
        SCF convergence threshold (Ha).
    max_scf
        Maximum number of SCF iterations.
    kpoint_spacing
        Largest allowed spacing between k-points, Å⁻¹ (2π included). The mesh is never
        reduced to Γ for small cells: ``n_i = ceil(|b_i| / spacing)``. The default, 0.12, is
        the coarsest spacing within 0.5 meV/atom and 0.01 eV/Å RMS of 0.1 on a rattled
        14-atom rock-salt Ge1Sb2Te4 cell (measured with
        :class:`~gst_flows.flows.convergence.Cp2kConvergenceMaker`; docs/dft-codes.md,
        "Protocol convergence"); the earlier 0.25 was 1.1 meV/atom and 0.040 eV/Å off there.
    gamma_only
        Force a Γ-only calculation (only for large cells or isolated atoms).
    smearing_temperature
        Fermi-Dirac electronic temperature, K.
    added_mos_fraction
        Extra MOs as a fraction of the occupied ones (at least 8 are added).
    mixing_alpha, nbroyden
        Broyden mixing parameters (``nbroyden`` is CP2K's ``NBUFFER``, the keyword custodian's
        SCF handler adjusts).
    uks
        Spin-polarised (unrestricted) calculation.
    multiplicity
        Spin multiplicity (only with ``uks``; 0 lets CP2K choose).
    scf_method
        ``"diagonalization"`` (smearing, Broyden mixing; metals and k-points) or ``"ot"``
        (orbital transformation, integer occupations, Γ only; used for free atoms).
    basis, potential
        Basis-set and pseudopotential names per element.
    overrides
        Nested CP2K input sections merged over the generated input, e.g.
        ``{"FORCE_EVAL": {"DFT": {"SCF": {"MAX_SCF": 200}}}}``.
    """

    functional: str = "PBESOL"
    cutoff: float = 300.0
    rel_cutoff: float = 50.0
    eps_scf: float = 1e-6
    max_scf: int = 100
    kpoint_spacing: float = 0.12
    gamma_only: bool = False
    smearing_temperature: float = 500.0
    added_mos_fraction: float = 0.3
    mixing_alpha: float = 0.2
    nbroyden: int = 8
    uks: bool = False
    multiplicity: int = 0
    scf_method: str = "diagonalization"
    basis: dict[str, str] = field(default_factory=lambda: dict.fromkeys(VALENCE, "DZVP-MOLOPT-SR-GTH"))
    potential: dict[str, str] = field(
        default_factory=lambda: {el: f"GTH-PBE-q{q}" for el, q in VALENCE.items()}
    )
    overrides: dict[str, Any] = field(default_factory=dict)

    code_name: ClassVar[str] = "CP2K"

    def __post_init__(self) -> None:
        check_protocol(self, ("cutoff", "rel_cutoff", "eps_scf", "kpoint_spacing"))
        if self.scf_method not in {"diagonalization", "ot"}:
            raise ValueError(f"scf_method must be 'diagonalization' or 'ot', not {self.scf_method!r}")
        if self.scf_method == "ot" and not self.gamma_only:
            raise ValueError("scf_method 'ot' needs gamma_only (CP2K's OT has no k-points)")
        if self.max_scf < 1:
            raise ValueError(f"max_scf must be at least 1, got {self.max_scf}")

    def settings_hash(self) -> str:
        """Hash of everything that changes a label (SHA-1 of the canonical JSON).

        Fields added after labels were stored are left out while they hold the value that
        reproduces the earlier behaviour, so existing labels keep their hash.
        """
        values = {k: v for k, v in self.as_dict().items() if _LATER_FIELDS.get(k, object()) != v}
        return settings_digest(values)

    def missing_elements(self, symbols: Iterable[str]) -> dict[str, str]:
        """Elements this protocol cannot label, each with what it lacks.

        An element needs a basis set and a pseudopotential in the protocol; when CP2K's data
        files are found (``$CP2K_DATA_DIR`` or ``/usr/share/cp2k``) the named ones must also
        exist there for that element.

        Parameters
        ----------
        symbols
            Chemical symbols of the structures to label.

        Returns
        -------
        dict[str, str]
            Element to a short description of what is missing; empty when all can be labelled.
        """
        missing: dict[str, str] = {}
        for element in sorted(set(symbols)):
            lacks = []
            for kind, table, filename in (
                ("basis set", self.basis, BASIS_FILE),
                ("pseudopotential", self.potential, POTENTIAL_FILE),
            ):
                name = table.get(element)
                if name is None:
                    lacks.append(f"no {kind}")
                else:
                    known = _cp2k_data_names(filename)
                    if known is not None and (element, name) not in known:
                        lacks.append(f"no {kind} {name} in {filename}")
            if lacks:
                missing[element] = " and ".join(lacks)
        return missing


@dataclass
class Cp2kResult:
    """Parsed result of one CP2K energy-and-forces run (eV, eV/Å, GPa)."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None
    scf_converged: bool
    version: str
    kpoints: tuple[int, int, int] | None
    walltime: float | None
    directory: str
    corrections: list[dict] = field(default_factory=list)

    def virial(self, volume: float) -> np.ndarray | None:
        """Virial in eV: ``-stress * volume`` (stress in the ASE sign convention)."""
        if self.stress is None:
            return None
        return -self.stress * GPa * volume


def _cp2k_data_dir() -> Path | None:
    for candidate in (os.environ.get("CP2K_DATA_DIR"), "/usr/share/cp2k/data", "/usr/share/cp2k"):
        if candidate and (Path(candidate) / BASIS_FILE).is_file():
            return Path(candidate)
    return None


@functools.cache
def _cp2k_data_names(filename: str) -> frozenset[tuple[str, str]] | None:
    """``(element, name)`` pairs defined in a CP2K basis or potential file (None: not found)."""
    directory = _cp2k_data_dir()
    if directory is None or not (directory / filename).is_file():
        return None
    names = set()
    # A definition starts with the element symbol and its names (aliases follow the first).
    header = re.compile(r"^\s*([A-Z][a-z]?)\s+([A-Za-z][\w.+-]*(?:\s+[A-Za-z][\w.+-]*)*)\s*$")
    for line in (directory / filename).read_text(errors="replace").splitlines():
        match = header.match(line)
        if match:
            names.update((match.group(1), name) for name in match.group(2).split())
    return frozenset(names)


def kpoint_mesh(atoms: Atoms, spacing: float) -> tuple[int, int, int]:
    """Monkhorst-Pack mesh with k-point spacing at most ``spacing`` Å⁻¹ (2π included)."""
    recip = 2 * math.pi * np.linalg.norm(atoms.cell.reciprocal(), axis=1)
    return tuple(max(1, math.ceil(length / spacing - 1e-9)) for length in recip)


def _section(name: str, body: list[str], param: str = "") -> list[str]:
    head = f"&{name} {param}".rstrip()
    return [head, *("  " + line for line in body), f"&END {name}"]


def _render_overrides(values: dict[str, Any]) -> dict[str, Any]:
    return {k.upper(): (_render_overrides(v) if isinstance(v, dict) else v) for k, v in values.items()}


def write_cp2k_input(
    atoms: Atoms,
    settings: Cp2kSettings | None = None,
    directory: str | Path = ".",
    motion: list[str] | None = None,
    velocities: np.ndarray | None = None,
) -> Path:
    """Write ``cp2k.inp`` for an energy, forces and stress calculation (or MD).

    Parameters
    ----------
    atoms
        A periodic structure with Ge, Sb, Te (or elements given basis and potential).
    settings
        The protocol; the defaults when omitted.
    directory
        Directory to write into (created when missing).
    motion
        Lines of a ``&MOTION`` section; when given the run type is ``MD``.
    velocities
        Initial velocities, Å/fs (MD only).

    Returns
    -------
    Path
        The input file.
    """
    settings = settings or Cp2kSettings()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    symbols = sorted(set(atoms.get_chemical_symbols()))
    missing = [s for s in symbols if s not in settings.basis or s not in settings.potential]
    if missing:
        raise ValueError(f"no basis set or pseudopotential configured for {missing}")
    nelec = sum(VALENCE.get(s, 0) for s in atoms.get_chemical_symbols())
    added_mos = max(8, math.ceil(settings.added_mos_fraction * nelec / 2))

    if settings.scf_method == "ot":
        # Integer occupations with orbital transformation: robust for open-shell free atoms.
        solver = [
            "SCF_GUESS ATOMIC",
            *_section("OT", ["MINIMIZER DIIS", "PRECONDITIONER FULL_ALL"], "ON"),
            *_section("OUTER_SCF", [f"EPS_SCF {settings.eps_scf:.3e}", "MAX_SCF 20"], "ON"),
        ]
        max_scf = min(settings.max_scf, 50)
    else:
        solver = [
            f"ADDED_MOS {added_mos}",
            *_section(
                "SMEAR",
                [
                    "METHOD FERMI_DIRAC",
                    f"ELECTRONIC_TEMPERATURE [K] {settings.smearing_temperature}",
                ],
                "ON",
            ),
            *_section("DIAGONALIZATION", ["ALGORITHM STANDARD"], "ON"),
            *_section(
                "MIXING",
                [
                    "METHOD BROYDEN_MIXING",
                    f"ALPHA {settings.mixing_alpha}",
                    f"NBUFFER {settings.nbroyden}",
                ],
                "T",
            ),
        ]
        max_scf = settings.max_scf
    scf = [
        f"EPS_SCF {settings.eps_scf:.3e}",
        f"MAX_SCF {max_scf}",
        *solver,
        *_section("PRINT", _section("RESTART", [], "OFF")),
    ]
    dft = [
        f"BASIS_SET_FILE_NAME {BASIS_FILE}",
        f"POTENTIAL_FILE_NAME {POTENTIAL_FILE}",
        f"UKS {'T' if settings.uks else 'F'}",
        *([f"MULTIPLICITY {settings.multiplicity}"] if settings.uks and settings.multiplicity else []),
        *_section("MGRID", [f"CUTOFF {settings.cutoff}", f"REL_CUTOFF {settings.rel_cutoff}"]),
        *_section("QS", ["EPS_DEFAULT 1.0E-12"]),
        *_section("SCF", scf),
        *_section(
            "XC",
            _section(
                "XC_FUNCTIONAL",
                _section(
                    "PBE",
                    [f"PARAMETRIZATION {'PBESOL' if settings.functional.upper() == 'PBESOL' else 'ORIG'}"],
                ),
            ),
        ),
    ]
    mesh = None if settings.gamma_only else kpoint_mesh(atoms, settings.kpoint_spacing)
    if mesh is not None and mesh != (1, 1, 1):
        dft += _section(
            "KPOINTS",
            [
                "SCHEME MONKHORST-PACK " + " ".join(map(str, mesh)),
                "SYMMETRY F",
                "FULL_GRID F",
                "PARALLEL_GROUP_SIZE -1",
            ],
        )
    cell = atoms.cell.array
    subsys = _section(
        "CELL",
        [
            *(f"{v} {x:.10f} {y:.10f} {z:.10f}" for v, (x, y, z) in zip("ABC", cell, strict=True)),
            "PERIODIC " + ("XYZ" if all(atoms.pbc) else "NONE"),
        ],
    )
    subsys += _section(
        "COORD",
        [
            f"{s} {x:.10f} {y:.10f} {z:.10f}"
            for s, (x, y, z) in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)
        ],
    )
    if velocities is not None:
        v_au = np.asarray(velocities) / Bohr * AU_TIME_FS
        subsys += _section("VELOCITY", [f"{x:.12e} {y:.12e} {z:.12e}" for x, y, z in v_au])
    for s in symbols:
        subsys += _section(
            "KIND", [f"BASIS_SET {settings.basis[s]}", f"POTENTIAL {settings.potential[s]}"], s
        )
    force_eval = [
        "METHOD QS",
        "STRESS_TENSOR ANALYTICAL",
        *_section("DFT", dft),
        *_section("SUBSYS", subsys),
        *_section(
            "PRINT",
            [
                *_section("FORCES", [], "ON"),
                *_section("STRESS_TENSOR", [], "ON"),
            ],
        ),
    ]
    run_type = "MD" if motion else "ENERGY_FORCE"
    glob = [f"PROJECT {PROJECT}", f"RUN_TYPE {run_type}", "PRINT_LEVEL MEDIUM"]
    sections = [*_section("GLOBAL", glob), *_section("FORCE_EVAL", force_eval)]
    if motion:
        sections += _section("MOTION", motion)
    text = "\n".join(sections) + "\n"
    path = directory / INPUT_FILE
    if settings.overrides:
        from pymatgen.io.cp2k.inputs import Cp2kInput

        cp2k_input = Cp2kInput.from_str(text)
        cp2k_input.update(_render_overrides(settings.overrides), strict=False)
        cp2k_input.write_file(input_filename=INPUT_FILE, output_dir=str(directory))
    else:
        path.write_text(text)
    return path


_FLOAT = r"[-+]?\d+\.\d+(?:[EeDd][-+]?\d+)?"


def parse_cp2k_output(directory: str | Path, natoms: int) -> Cp2kResult:
    """Parse energy, forces and stress from ``cp2k.out`` in ``directory``.

    Energies are converted from Ha to eV, forces from Ha/bohr to eV/Å; the stress is returned
    in GPa in the ASE sign convention (tensile positive), i.e. the negative of the pressure
    tensor CP2K prints.

    Raises
    ------
    Cp2kError
        When the output is missing, incomplete, or the SCF did not converge.
    """
    path = Path(directory) / OUTPUT_FILE
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise Cp2kError(f"no CP2K output in {directory}: {exc.strerror}") from None
    energies = re.findall(r"ENERGY\| Total FORCE_EVAL \( QS \) energy[^:]*:\s+(" + _FLOAT + ")", text)
    if not energies:
        abort = re.search(r"\[ABORT\].*?\n(.*?)\n", text, re.S)
        reason = abort.group(1).strip(" *\n") if abort else "no total energy in output"
        raise Cp2kError(f"CP2K did not finish in {directory}: {reason}")
    scf_failed = "SCF run NOT converged" in text or "*** SCF run NOT converged ***" in text
    if scf_failed:
        raise Cp2kError(f"SCF did not converge in {directory}")
    energy = float(energies[-1].replace("D", "E")) * Hartree

    block = text.rsplit("ATOMIC FORCES in [a.u.]", 1)
    if len(block) != 2:
        raise Cp2kError(f"no forces in CP2K output in {directory}")
    rows = re.findall(
        r"^\s+\d+\s+\d+\s+\S+\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + ")",
        block[1].split("SUM OF ATOMIC FORCES")[0],
        re.M,
    )
    if len(rows) != natoms:
        raise Cp2kError(f"expected forces on {natoms} atoms, found {len(rows)} in {directory}")
    forces = np.array(rows, dtype=float) * HA_BOHR_TO_EV_ANG

    stress = None
    stress_block = text.rsplit("STRESS| Analytical stress tensor [GPa]", 1)
    if len(stress_block) == 2:
        srows = re.findall(
            r"STRESS\|\s+[xyz]\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + ")",
            stress_block[1],
        )[:3]
        if len(srows) == 3:
            stress = -np.array(srows, dtype=float)

    version = re.search(r"CP2K\| version string:\s+(.*)", text)
    walltime = re.search(r"CP2K\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)", text)
    mesh = re.search(r"BRILLOUIN\| K-point scheme\s+Monkhorst-Pack\s*\n.*?(\d+)\s+(\d+)\s+(\d+)", text, re.S)
    return Cp2kResult(
        energy=energy,
        forces=forces,
        stress=stress,
        scf_converged=not scf_failed,
        version=version.group(1).strip() if version else "unknown",
        kpoints=tuple(int(x) for x in mesh.groups()) if mesh else None,
        walltime=float(walltime.group(1)) if walltime else None,
        directory=str(directory),
    )


def _own_process_job(*args: Any, **kwargs: Any):
    """A custodian ``Cp2kJob`` that stops only its own CP2K when a handler intervenes.

    custodian's ``Cp2kJob.terminate`` runs ``killall cp2k.psmp``, which also ends every other
    CP2K on the node (other jobs, other users' runs). This job starts CP2K in a process group
    of its own and terminates that group only.
    """
    import signal
    import subprocess

    from custodian.cp2k.jobs import Cp2kJob

    class OwnProcessCp2kJob(Cp2kJob):
        def run(self, directory="./"):
            cmd = [*self.cp2k_cmd, "-i", self.input_file]
            with (
                open(os.path.join(directory, self.output_file), "w") as out,
                open(os.path.join(directory, self.stderr_file), "w", buffering=1) as err,
            ):
                self._process = subprocess.Popen(
                    cmd, cwd=directory, stdout=out, stderr=err, start_new_session=True
                )
            return self._process

        def terminate(self, directory="./"):
            process = getattr(self, "_process", None)
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)

    return OwnProcessCp2kJob(*args, **kwargs)


def _custodian_handlers(walltime: float | None):
    from custodian.cp2k.handlers import (
        AbortHandler,
        FrozenJobErrorHandler,
        NumericalPrecisionHandler,
        StdErrHandler,
        UnconvergedScfErrorHandler,
        WalltimeHandler,
    )

    handlers = [
        StdErrHandler(std_err="std_err.txt"),
        UnconvergedScfErrorHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE),
        AbortHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE),
        NumericalPrecisionHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE),
        FrozenJobErrorHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE, timeout=3600),
    ]
    if walltime:
        handlers.append(WalltimeHandler(output_file=OUTPUT_FILE, enable_checkpointing=False))
    return handlers


def run_cp2k(
    atoms: Atoms,
    settings: Cp2kSettings | None = None,
    directory: str | Path = ".",
    command: list[str] | None = None,
    omp_threads: int = 1,
    use_custodian: bool = True,
    max_errors: int = 5,
    walltime: float | None = None,
) -> Cp2kResult:
    """Run CP2K on ``atoms`` in ``directory`` and return the parsed result.

    Parameters
    ----------
    atoms
        Structure to label.
    settings
        The protocol; defaults when omitted.
    directory
        Run directory (created).
    command
        CP2K command as a list (``-i cp2k.inp`` is appended); default from the settings file.
    omp_threads
        ``OMP_NUM_THREADS`` for the run.
    use_custodian
        Run under custodian with CP2K error handlers (SCF, aborts, frozen jobs).
    max_errors
        Corrections custodian may apply before giving up.
    walltime
        Seconds; enables custodian's walltime handler.

    Raises
    ------
    Cp2kError
        When CP2K fails after all corrections.
    """
    if command is None:
        from gst_flows.settings import get_settings

        command = get_settings().cp2k_command
    directory = Path(directory).resolve()
    write_cp2k_input(atoms, settings, directory)
    env_backup = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(omp_threads)
    corrections: list[dict] = []
    try:
        if use_custodian:
            from custodian import Custodian

            job = _own_process_job(command, input_file=INPUT_FILE, output_file=OUTPUT_FILE, backup=True)
            cust = Custodian(
                _custodian_handlers(walltime),
                [job],
                max_errors=max_errors,
                directory=str(directory),
                checkpoint=False,
                gzipped_output=False,
                polling_time_step=1,
                monitor_freq=5,
            )
            # Some custodian CP2K handlers open files relative to the working directory.
            try:
                with contextlib.chdir(directory):
                    run_log = cust.run()
            except Exception as exc:
                raise Cp2kError(f"CP2K failed after corrections in {directory}: {exc}") from exc
            corrections = [c for step in run_log for c in step.get("corrections", [])]
        else:
            import subprocess

            with open(directory / OUTPUT_FILE, "w") as out, open(directory / "std_err.txt", "w") as err:
                proc = subprocess.run(
                    [*command, "-i", INPUT_FILE], cwd=directory, stdout=out, stderr=err, check=False
                )
            if proc.returncode != 0:
                raise Cp2kError(f"CP2K exited with code {proc.returncode} in {directory}")
    finally:
        if env_backup is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_backup
    result = parse_cp2k_output(directory, len(atoms))
    result.corrections = [json.loads(json.dumps(c, default=str)) for c in corrections]
    for leftover in directory.glob(f"{PROJECT}-RESTART*.wfn*"):
        leftover.unlink()
    return result


def label_structure(
    atoms: Atoms,
    settings: Cp2kSettings | None = None,
    directory: str | Path | None = None,
    **run_kwargs: Any,
) -> Cp2kResult:
    """Label one structure with CP2K (energy eV, forces eV/Å, stress GPa).

    A thin convenience over :func:`run_cp2k` for scripts and notebooks: when ``directory`` is
    omitted a temporary directory is used and removed afterwards.
    """
    if directory is not None:
        return run_cp2k(atoms, settings, directory, **run_kwargs)
    import tempfile

    tmp = tempfile.mkdtemp(prefix="gst-cp2k-")
    try:
        return run_cp2k(atoms, settings, tmp, **run_kwargs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
