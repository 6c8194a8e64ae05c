"""The interaction LAMMPS uses: ``pair_style quip`` with a GAP, or a stand-in pair style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ase.data import atomic_numbers

from gst_flows.md.lammps.plugin import plugin_path

__all__ = ["LammpsPotential", "quote"]


def quote(text: str) -> str:
    """Quote one LAMMPS command argument (LAMMPS understands "..." and '...').

    Parameters
    ----------
    text
        The argument.

    Returns
    -------
    str
        ``text`` as is when it needs no quotes, else quoted.
    """
    if text and not any(c in text for c in " \t\"'#$&"):
        return text
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return f'"""{text}"""'


@dataclass(frozen=True)
class LammpsPotential:
    """The interaction LAMMPS uses: ``pair_style quip`` with a GAP, or a stand-in.

    Build one with :meth:`gap`, :meth:`lennard_jones` or :meth:`custom`.

    Attributes
    ----------
    pair_style
        The ``pair_style`` command arguments.
    pair_coeff
        ``pair_coeff`` argument lines; ``{species}`` is replaced by the symbols of the
        atom types in order and ``{numbers}`` by their atomic numbers.
    load_plugin
        Load the gst-flows ``pair_style quip`` plugin before ``pair_style``.
    name
        Short description for documents and logs.
    species
        Symbols of atom types 1, 2, ... this potential needs whatever the structure holds
        (``pair_style pod`` maps every fitted species to a type); empty: the species of
        the structure, by atomic number.
    """

    pair_style: str
    pair_coeff: tuple[str, ...]
    load_plugin: bool = False
    name: str = ""
    species: tuple[str, ...] = ()

    @classmethod
    def gap(
        cls, param_filename: str | Path, init_args: str = "IP GAP", load_plugin: bool = True
    ) -> LammpsPotential:
        """A GAP (or any QUIP potential) through ``pair_style quip``.

        Parameters
        ----------
        param_filename
            The potential XML file (its sparseX files alongside).
        init_args
            QUIP init string, e.g. ``"IP GAP label=GAP_2017_6_17_60_4_3_56_165"``.
        load_plugin
            Load the gst-flows plugin (False for a LAMMPS built with ML-QUIP).

        Returns
        -------
        LammpsPotential
            The potential.
        """
        xml = Path(param_filename).expanduser().resolve()
        if not xml.is_file():
            raise FileNotFoundError(xml)
        return cls(
            pair_style="quip",
            pair_coeff=(f"* * {quote(str(xml))} {quote(init_args)} {{numbers}}",),
            load_plugin=load_plugin,
            name=f"quip:{xml.name}",
        )

    @classmethod
    def lennard_jones(cls, epsilon: float = 0.05, sigma: float = 2.7, cutoff: float = 5.0) -> LammpsPotential:
        """A species-blind Lennard-Jones stand-in for plumbing tests at any scale.

        It is not a model of GST: use it to test protocols, I/O and scaling where the
        physics of the potential does not matter.

        Parameters
        ----------
        epsilon
            Well depth (eV).
        sigma
            Zero-crossing distance (Å).
        cutoff
            Cutoff (Å); the potential is shifted to zero there.

        Returns
        -------
        LammpsPotential
            The potential.
        """
        return cls(
            pair_style=f"lj/cut {cutoff:g}",
            pair_coeff=(f"* * {epsilon:.10g} {sigma:.10g}",),
            load_plugin=False,
            name=f"lj/cut eps={epsilon:g} sigma={sigma:g} rc={cutoff:g}",
        )

    @classmethod
    def custom(
        cls, pair_style: str, pair_coeff: Sequence[str], name: str = "", species: Sequence[str] = ()
    ) -> LammpsPotential:
        """Any pair style built into the LAMMPS used (e.g. ``table``, ``eam/alloy``).

        Parameters
        ----------
        pair_style
            ``pair_style`` arguments.
        pair_coeff
            ``pair_coeff`` argument lines (``{species}``/``{numbers}`` are substituted).
        name
            Description.
        species
            Atom types the potential needs, in order (see :attr:`species`).

        Returns
        -------
        LammpsPotential
            The potential.
        """
        return cls(pair_style, tuple(pair_coeff), False, name or pair_style, tuple(species))

    def type_species(self, atoms) -> list[str]:
        """Symbols of atom types 1, 2, ... for ``atoms``: :attr:`species` if set, else by atomic number.

        Raises
        ------
        ValueError
            When ``atoms`` holds a species the potential was not made for.
        """
        present = set(atoms.get_chemical_symbols())
        if not self.species:
            return sorted(present, key=lambda s: atomic_numbers[s])
        if missing := present - set(self.species):
            raise ValueError(
                f"the structure holds {', '.join(sorted(missing))}, which {self.name} was not fitted on "
                f"(its species: {' '.join(self.species)})"
            )
        return list(self.species)

    def commands(self, species: Sequence[str]) -> list[str]:
        """LAMMPS commands that set up this potential for the given type order.

        Parameters
        ----------
        species
            Chemical symbols of atom types 1, 2, ...

        Returns
        -------
        list of str
            ``plugin load`` (if needed), ``pair_style``, ``pair_coeff`` and
            ``pair_modify shift yes`` for ``lj/cut``.
        """
        subs = {
            "species": " ".join(species),
            "numbers": " ".join(str(atomic_numbers[s]) for s in species),
        }
        cmds = []
        if self.load_plugin:
            cmds.append(f"plugin load {quote(str(plugin_path()))}")
        cmds.append(f"pair_style {self.pair_style}")
        cmds.extend(f"pair_coeff {line.format(**subs)}" for line in self.pair_coeff)
        if self.pair_style.startswith("lj/cut"):
            cmds.append("pair_modify shift yes")
        return cmds
