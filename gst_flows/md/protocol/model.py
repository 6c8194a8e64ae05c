"""The :class:`Protocol` model: stages run one after another on one structure.

Besides its stages, a protocol knows its totals, the energy each stage injects and removes
(:meth:`Protocol.energy_plan`), whether it can run on a given structure
(:meth:`Protocol.validate_for`) and its serialised forms (dictionary, MSON, YAML, hash).
"""

# Annotations are evaluated when the classes are defined (no ``from __future__ import
# annotations``): the classes name the package as their module (see ``__init__``), where
# ``typing.get_type_hints`` could not resolve string annotations.
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import yaml
from pydantic import BeforeValidator, Field, model_validator

from gst_flows.md.protocol.actions import Action, ElectricField, GradedInjection, InjectEnergy, RemoveHeat
from gst_flows.md.protocol.groups import fixed_mask, graded_groups, select_atoms
from gst_flows.md.protocol.quantities import ProtocolError, StrictModel, Temperature
from gst_flows.md.protocol.stages import Stage, expand_pulse_trains
from gst_flows.md.units import KB, ev_to_fj

if TYPE_CHECKING:
    from ase import Atoms

__all__ = ["Protocol", "StageEnergy", "iter_actions"]


def _current_temperature(atoms: "Atoms") -> float:
    n = len(atoms)
    return 2 * atoms.get_kinetic_energy() / (3 * n * KB) if n else 0.0


@dataclass(frozen=True)
class StageEnergy:
    """Energy a stage adds or takes out through its actions (a plan, before any compute).

    Attributes
    ----------
    stage
        Stage name.
    injected
        Energy injected, eV.
    removed
        Energy removed, eV.
    injection_rate, removal_rate
        The corresponding constant rates, eV/fs.
    """

    stage: str
    injected: float
    removed: float
    injection_rate: float
    removal_rate: float


class Protocol(StrictModel):
    """An MD protocol: stages run one after another on one structure.

    Parameters
    ----------
    name
        Short name.
    description
        What the protocol models, and its source.
    stages
        The stages; :class:`PulseTrain` entries (``{pulse_train: {...}}`` in YAML) are expanded.
    initial_temperature
        Temperature of the Maxwell–Boltzmann velocities drawn at the start, K. None keeps
        velocities the structure carries, or draws them at the first stage's start temperature
        when it has none.
    seed
        Seed of the velocity and thermostat random numbers; None draws one (recorded in the
        outputs).
    temperature_ceiling
        Highest temperature a stage may ask for or an injection may be expected to reach, K.
    reference_atoms
        Number of atoms the energies of the actions were written for (the published cell);
        :meth:`scaled_to` rescales energies and rates to another size.
    """

    name: str = "protocol"
    description: str = ""
    stages: Annotated[list[Stage], BeforeValidator(expand_pulse_trains)] = Field(min_length=1)
    initial_temperature: Temperature | None = None
    seed: int | None = None
    temperature_ceiling: Temperature = 5000.0
    reference_atoms: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _checks(self) -> "Protocol":
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        for stage in self.stages:
            hot = stage.max_temperature
            if hot is not None and hot > self.temperature_ceiling:
                raise ValueError(
                    f"stage {stage.name!r} asks for {hot:g} K, above the temperature ceiling "
                    f"{self.temperature_ceiling:g} K (temperature_ceiling)"
                )
        self.energy_plan()
        return self

    # -- totals

    @property
    def n_steps(self) -> int:
        """Total number of timesteps."""
        return sum(s.n_steps for s in self.stages)

    @property
    def duration(self) -> float:
        """Total simulated time, fs."""
        return sum(s.duration for s in self.stages)

    def stage_start_steps(self) -> list[int]:
        """Global step at which each stage starts."""
        starts, total = [], 0
        for stage in self.stages:
            starts.append(total)
            total += stage.n_steps
        return starts

    def stage(self, name: str) -> Stage:
        """Return the stage called ``name``."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r} in protocol {self.name!r}")

    def start_temperature(self) -> float | None:
        """Temperature of freshly drawn velocities, K (None: leave atoms at rest)."""
        if self.initial_temperature is not None:
            return self.initial_temperature
        return self.stages[0].start_temperature

    def energy_plan(self) -> list[StageEnergy]:
        """Energy each stage injects and removes, from the actions alone.

        Raises
        ------
        ValueError
            When a ``remove_heat`` without an energy has nothing left to remove.
        """
        plan, balance = [], 0.0
        for stage in self.stages:
            injected = sum(
                a.total_energy(stage.duration)
                for a in stage.actions
                if isinstance(a, InjectEnergy | GradedInjection)
            )
            removed = 0.0
            for action in stage.actions_of(RemoveHeat):
                removed = action.energy if action.energy is not None else balance
                if removed <= 0:
                    raise ValueError(
                        f"stage {stage.name!r}: remove_heat without an energy removes what "
                        "earlier stages injected, and they injected nothing"
                    )
            balance += injected - removed
            plan.append(
                StageEnergy(
                    stage.name, injected, removed, injected / stage.duration, removed / stage.duration
                )
            )
        return plan

    # -- checks against a structure

    def validate_for(self, atoms: "Atoms") -> None:
        """Check that the protocol can run on ``atoms``, before any compute.

        Checks per-atom arrays named by actions (present, right length, non-empty selection of
        mobile atoms), charges for every species under a field, that some atoms move, that
        no injection is expected to heat its atoms above :attr:`temperature_ceiling` (taking a
        heat capacity of 3 k_B per atom and no heat flow out: an upper estimate), and that no
        heat removal takes more energy than its atoms hold at the temperature expected when
        it starts (3 k_B per atom: the most a removal can take before the kinetic energy runs
        out).

        Parameters
        ----------
        atoms
            The starting structure, with its role arrays (``fixed``, ``region``, ...).

        Raises
        ------
        ProtocolError
            Listing every problem found.
        """
        problems: list[str] = []
        n_atoms = len(atoms)
        symbols = sorted(set(atoms.get_chemical_symbols()))
        temperature = self.start_temperature()
        if temperature is None:
            temperature = 0.0
        if atoms.get_momenta().any() and self.initial_temperature is None:
            temperature = max(temperature, _current_temperature(atoms))
        plans = {p.stage: p for p in self.energy_plan()}
        for stage in self.stages:
            where = f"stage {stage.name!r}"
            try:
                fixed = fixed_mask(atoms, stage)
            except ProtocolError as err:
                problems.append(f"fix_atoms: {err}")
                continue
            mobile = ~fixed
            n_mobile = int(mobile.sum())
            if n_mobile == 0:
                problems.append(f"{where}: every atom is fixed")
                continue
            if stage.temperature is not None:
                temperature = stage.end_temperature
            peak_rise, total_rise = 0.0, 0.0
            for action in stage.actions:
                if isinstance(action, InjectEnergy | GradedInjection | RemoveHeat):
                    try:
                        group = select_atoms(atoms, action.region, action.region_value) & mobile
                    except ProtocolError as err:
                        problems.append(f"{where}, {action.kind}: {err}")
                        continue
                    if not group.any():
                        what = f"'{action.region}' array" if action.region else "structure"
                        problems.append(
                            f"{where}, {action.kind}: no mobile atom selected by the {what}"
                            + (f" (value {action.region_value})" if action.region_value else "")
                        )
                        continue
                if isinstance(action, InjectEnergy):
                    energy = action.total_energy(stage.duration)
                    peak_rise = max(peak_rise, energy / (3 * KB * group.sum()))
                    total_rise += energy / (3 * KB * n_mobile)
                elif isinstance(action, GradedInjection):
                    energy = action.total_energy(stage.duration)
                    groups = graded_groups(atoms, action, stage.duration, mobile)
                    per_atom = max(rate * stage.duration / m.sum() for m, rate in groups)
                    peak_rise = max(peak_rise, per_atom / (3 * KB))
                    total_rise += energy / (3 * KB * n_mobile)
                elif isinstance(action, ElectricField):
                    present = sorted(set(np.asarray(atoms.get_chemical_symbols())[mobile]))
                    missing = [s for s in present if s not in action.charges]
                    if missing:
                        given = ", ".join(sorted(action.charges)) or "none"
                        problems.append(
                            f"{where}, electric_field: no charge for {', '.join(missing)} "
                            f"(charges given for {given})"
                        )
            if peak_rise and temperature + peak_rise > self.temperature_ceiling:
                problems.append(
                    f"{where}: the injected energy is expected to heat its atoms to about "
                    f"{temperature + peak_rise:,.0f} K, above the temperature ceiling "
                    f"{self.temperature_ceiling:,.0f} K: lower the energy, enlarge the region "
                    "or raise temperature_ceiling"
                )
            plan = plans[stage.name]
            for action in stage.actions_of(RemoveHeat):
                group = select_atoms(atoms, action.region, action.region_value) & mobile
                held = 3 * KB * int(group.sum()) * temperature
                if group.any() and plan.removed > held:
                    problems.append(
                        f"{where}, remove_heat: removing {plan.removed:.4g} eV needs more "
                        f"kinetic energy than its {int(group.sum())} atoms can give: at the "
                        f"expected {temperature:,.0f} K they hold about {held:.4g} eV of heat "
                        "(3 k_B per atom, kinetic and potential) and the run would stop when "
                        "their kinetic energy ran out; remove less energy"
                    )
            temperature += total_rise - plan.removed / (3 * KB * n_mobile)
        problems = list(dict.fromkeys(problems))
        if problems:
            head = f"protocol {self.name!r} cannot run on {atoms.get_chemical_formula()} "
            head += f"({n_atoms} atoms, species {', '.join(symbols)}):"
            raise ProtocolError("\n  ".join([head, *problems]))

    # -- transformations

    def scaled_to(self, n_atoms: int) -> "Protocol":
        """Return a copy with action energies scaled by ``n_atoms / reference_atoms``.

        Energy per atom, hence the temperature reached, stays that of the published cell.

        Raises
        ------
        ValueError
            When :attr:`reference_atoms` is not set.
        """
        if self.reference_atoms is None:
            raise ValueError(f"protocol {self.name!r} has no reference_atoms to scale from")
        factor = n_atoms / self.reference_atoms
        data = self.to_dict()
        for stage in data["stages"]:
            for action in stage["actions"]:
                for key in ("rate", "energy"):
                    if action.get(key) is not None and action["kind"] != "electric_field":
                        action[key] *= factor
        data["reference_atoms"] = n_atoms
        return Protocol.from_dict(data)

    # -- serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dictionary (all fields, internal units)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Protocol":
        """Build from :meth:`to_dict` output or a YAML mapping."""
        data = {k: v for k, v in data.items() if not k.startswith("@")}
        return cls.model_validate(data)

    def as_dict(self) -> dict[str, Any]:
        """MSON form (``@module``/``@class``), for jobflow and FireWorks."""
        return {"@module": type(self).__module__, "@class": type(self).__name__, **self.to_dict()}

    def to_yaml(self, path: str | Path | None = None) -> str:
        """YAML text of the protocol (fields left at their defaults omitted).

        Parameters
        ----------
        path
            Also write it there when given.
        """
        data = self.model_dump(mode="json", exclude_defaults=True)
        for stage, model in zip(data["stages"], self.stages, strict=True):
            if model.actions:
                # the tag ``kind`` has a default, so exclude_defaults drops it: put it back
                stage["actions"] = [
                    {"kind": m.kind, **{k: v for k, v in d.items() if k != "kind"}}
                    for d, m in zip(stage["actions"], model.actions, strict=True)
                ]
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> "Protocol":
        """Load from a YAML file path or YAML text."""
        text = source
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and Path(source).exists()
        ):
            text = Path(source).read_text()
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError("a protocol file must hold a mapping with a 'stages' list")
        return cls.from_dict(data)

    def hash(self) -> str:
        """SHA-256 of the canonical JSON form (restarts check it)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> str:
        """Describe the stages in a few lines."""
        lines = [f"{self.name}: {len(self.stages)} stages, {self.duration / 1000:g} ps, {self.n_steps} steps"]
        plan = {p.stage: p for p in self.energy_plan()}
        for stage in self.stages:
            temp = ""
            if stage.temperature is not None:
                a, b = stage.start_temperature, stage.end_temperature
                temp = f" {a:g} K" if a == b else f" {a:g}→{b:g} K"
            extra = [a.kind for a in stage.actions]
            energy = plan[stage.name]
            if energy.injected:
                extra.append(f"+{energy.injected:g} eV ({ev_to_fj(energy.injected):.3g} fJ)")
            if energy.removed:
                extra.append(f"-{energy.removed:g} eV")
            lines.append(
                f"  {stage.name}: {stage.ensemble}{temp}, {stage.duration / 1000:g} ps"
                + (f" [{', '.join(extra)}]" if extra else "")
            )
        return "\n".join(lines)


def iter_actions(protocol: Protocol) -> Iterator[tuple[Stage, Action]]:
    """Every (stage, action) pair in order."""
    for stage in protocol.stages:
        for action in stage.actions:
            yield stage, action
