"""Protocols shipped with the package: generators (melt–quench, pulse trains, ...) and YAML files.

The YAML files live in ``gst_flows/data/protocols``; :func:`load_protocol` takes one of their
names, a path, a mapping or a :class:`~gst_flows.md.protocol.Protocol`.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gst_flows.md.protocol.actions import FixAtoms
from gst_flows.md.protocol.model import Protocol
from gst_flows.md.protocol.quantities import ProtocolError
from gst_flows.md.protocol.schedules import Ramp
from gst_flows.md.protocol.stages import PulseTrain, ResetPulse, SetPulse, Stage

__all__ = [
    "liquid_hold",
    "list_protocols",
    "load_protocol",
    "melt_anneal",
    "melt_quench",
    "partial_melt",
    "pulse_train",
]


def melt_quench(
    *,
    melt_temperature: float = 1200.0,
    melt_duration: float = 30_000.0,
    quench_temperature: float = 300.0,
    quench_rate: float = 10.0,
    heat_from: float | None = 300.0,
    heat_duration: float = 10_000.0,
    anneal_duration: float = 20_000.0,
    liquid_temperature: float | None = None,
    liquid_duration: float = 0.0,
    timestep: float = 2.0,
    thermostat: str = "langevin",
    name: str = "melt-quench",
) -> Protocol:
    """Melt–quench protocol (NVT): optional heating, melt, optional liquid hold, linear quench, anneal.

    Parameters
    ----------
    melt_temperature
        Temperature of the melt, K.
    melt_duration
        Time in the melt, fs.
    quench_temperature
        Final temperature, K.
    quench_rate
        Cooling rate, K/ps (10 K/ps = 10¹³ K/s).
    heat_from
        Start of a linear heating to the melt temperature, K; None starts in the melt.
    heat_duration
        Length of the heating, fs.
    anneal_duration
        Time at the final temperature, fs (0 for none).
    liquid_temperature, liquid_duration
        A hold of the melt at another temperature (e.g. a supercooled liquid) after the melt,
        K and fs; the quench then starts from it. None or a zero duration: no hold. A liquid
        held for picoseconds shows the potential's chemical order (homopolar clusters, or
        demixing where the potential wrongly favours it), which a 1 ps melt does not reach.
    timestep
        Timestep, fs.
    thermostat
        ``langevin`` or ``nose-hoover``.
    name
        Protocol name.
    """
    hold = liquid_temperature is not None and liquid_duration > 0
    if liquid_temperature is not None and liquid_duration < 0:
        raise ProtocolError(f"liquid_duration must not be negative, got {liquid_duration}")
    quench_from = liquid_temperature if hold else melt_temperature
    quench_fs = (quench_from - quench_temperature) / quench_rate * 1000.0
    quench_fs = round(quench_fs / timestep) * timestep
    common = {"ensemble": "nvt", "timestep": timestep, "thermostat": thermostat}
    stages = []
    if heat_from is not None:
        stages.append(
            Stage(
                name="heat",
                duration=heat_duration,
                tag="heat",
                temperature=Ramp(start=heat_from, end=melt_temperature),
                **common,
            )
        )
    stages += _melt_stages(
        melt_temperature, melt_duration, liquid_temperature if hold else None, liquid_duration, common
    )
    stages.append(
        Stage(
            name="quench",
            duration=quench_fs,
            tag="quench",
            temperature=Ramp(start=quench_from, end=quench_temperature),
            **common,
        )
    )
    if anneal_duration > 0:
        stages.append(
            Stage(
                name="anneal",
                duration=anneal_duration,
                tag="anneal",
                temperature=quench_temperature,
                **common,
            )
        )
    return Protocol(
        name=name,
        description=f"melt at {melt_temperature:g} K, "
        + (f"hold at {liquid_temperature:g} K for {liquid_duration / 1000:g} ps, " if hold else "")
        + f"quench at {quench_rate:g} K/ps to {quench_temperature:g} K",
        stages=stages,
    )


def melt_anneal(
    *,
    melt_temperature: float = 1200.0,
    melt_duration: float = 10_000.0,
    quench_duration: float = 2_000.0,
    anneal_temperature: float = 600.0,
    anneal_duration: float = 50_000.0,
    fixed: str | None = "fixed",
    timestep: float = 2.0,
    name: str = "melt-anneal",
) -> Protocol:
    """Crystallisation from a template (NVT): melt the mobile atoms, quench, anneal.

    On a crystallisation cell (:func:`gst_flows.structures.build_crystallisation_cell`) the
    ``fixed`` template bilayers stay crystalline while the middle melts, so every frame holds
    ordered and disordered regions side by side; during the anneal the crystal grows back
    from the template.

    Parameters
    ----------
    melt_temperature
        Temperature of the melt of the mobile atoms, K.
    melt_duration, quench_duration, anneal_duration
        Stage lengths, fs (the quench is a linear ramp to the anneal temperature).
    anneal_temperature
        Temperature of the anneal, K.
    fixed
        Per-atom array of the atoms held during every stage (None: none held).
    timestep
        Timestep, fs.
    name
        Protocol name.
    """
    common = {"ensemble": "nvt", "timestep": timestep, "actions": [FixAtoms(array=fixed)] if fixed else []}
    stages = [
        Stage(name="melt", duration=melt_duration, temperature=melt_temperature, tag="melt", **common),
        Stage(
            name="quench",
            duration=quench_duration,
            tag="quench",
            temperature=Ramp(start=melt_temperature, end=anneal_temperature),
            **common,
        ),
        Stage(
            name="anneal", duration=anneal_duration, temperature=anneal_temperature, tag="anneal", **common
        ),
    ]
    return Protocol(
        name=name,
        initial_temperature=melt_temperature,
        stages=stages,
        description=f"melt the mobile atoms at {melt_temperature:g} K, quench, anneal at "
        f"{anneal_temperature:g} K" + (f" with '{fixed}' atoms held" if fixed else ""),
    )


def liquid_hold(
    *,
    melt_temperature: float = 1500.0,
    melt_duration: float = 2000.0,
    liquid_temperature: float = 1000.0,
    liquid_duration: float = 12_000.0,
    timestep: float = 2.0,
    thermostat: str = "langevin",
    name: str = "liquid-hold",
) -> Protocol:
    """A liquid held for picoseconds (NVT): melt a packing, then hold it at ``liquid_temperature``.

    The potential's own chemical order shows in such a run: a potential that wrongly favours
    homopolar bonds lets the liquid demix within picoseconds (measured: a 90-atom Ge2Sb2Te5
    liquid of a GAP fitted without such frames, homopolar share 0.28 -> 0.51 in 6 ps at
    1,000 K, where DFT puts the demixed frames higher), which a 1 ps melt does not reach.

    Parameters
    ----------
    melt_temperature, melt_duration
        The melt that erases the starting cell's order, K and fs.
    liquid_temperature, liquid_duration
        The hold, K and fs.
    timestep
        Timestep, fs.
    thermostat
        ``langevin`` or ``nose-hoover``.
    name
        Protocol name.
    """
    common = {"ensemble": "nvt", "timestep": timestep, "thermostat": thermostat}
    return Protocol(
        name=name,
        description=f"melt at {melt_temperature:g} K, hold at {liquid_temperature:g} K "
        f"for {liquid_duration / 1000:g} ps",
        stages=_melt_stages(melt_temperature, melt_duration, liquid_temperature, liquid_duration, common),
    )


def _melt_stages(
    melt_temperature: float,
    melt_duration: float,
    liquid_temperature: float | None,
    liquid_duration: float,
    common: dict[str, Any],
) -> list[Stage]:
    """The melt (tag ``melt``) and, unless ``liquid_temperature`` is None, the hold (``liquid``)."""
    stages = [Stage(name="melt", duration=melt_duration, temperature=melt_temperature, tag="melt", **common)]
    if liquid_temperature is not None:
        held = {"duration": liquid_duration, "temperature": liquid_temperature, "tag": "liquid"}
        stages.append(Stage(name="liquid", **held, **common))
    return stages


def partial_melt(
    *,
    start_temperature: float = 600.0,
    end_temperature: float = 1200.0,
    duration: float = 30_000.0,
    fixed: str | None = "fixed",
    timestep: float = 2.0,
    name: str = "partial-melt",
) -> Protocol:
    """Melting of a crystal (NVT): heat the mobile atoms linearly through the melting point.

    With part of the crystal held (``fixed``), the frames run from the crystal through
    coexisting crystal and melt to a melt against the held template.

    Parameters
    ----------
    start_temperature, end_temperature
        Ends of the heating ramp, K.
    duration
        Length of the ramp, fs.
    fixed
        Per-atom array of the atoms held (None: none held).
    timestep
        Timestep, fs.
    name
        Protocol name.
    """
    stage = Stage(
        name="heat",
        ensemble="nvt",
        duration=duration,
        timestep=timestep,
        tag="melt",
        temperature=Ramp(start=start_temperature, end=end_temperature),
        actions=[FixAtoms(array=fixed)] if fixed else [],
    )
    return Protocol(
        name=name,
        initial_temperature=start_temperature,
        stages=[stage],
        description=f"heat from {start_temperature:g} to {end_temperature:g} K"
        + (f" with '{fixed}' atoms held" if fixed else ""),
    )


def pulse_train(
    pulses: Sequence[tuple[float, float]] | Sequence[SetPulse],
    *,
    reset: ResetPulse | None = None,
    repeat: int = 1,
    rest_temperature: float = 300.0,
    rest_duration: float = 0.0,
    fixed: str | None = None,
    timestep: float = 2.0,
    name: str = "cumulative-set",
) -> Protocol:
    """RESET + SET pulse-train protocol.

    Parameters
    ----------
    pulses
        ``(temperature K, duration fs)`` pairs or :class:`SetPulse` objects.
    reset
        The RESET first (default :class:`ResetPulse()`); pass ``ResetPulse`` parameters to
        change it.
    repeat
        How many times the whole pulse sequence is applied.
    rest_temperature, rest_duration
        Optional interval between pulses.
    fixed
        Name of a per-atom array of fixed atoms, if any.
    timestep
        Timestep, fs.
    name
        Protocol name.
    """
    items = [p if isinstance(p, SetPulse) else SetPulse(temperature=p[0], duration=p[1]) for p in pulses]
    train = PulseTrain(
        name="pulse",
        reset=reset if reset is not None else ResetPulse(),
        pulses=items * repeat,
        rest_temperature=rest_temperature,
        rest_duration=rest_duration,
        timestep=timestep,
        actions=[FixAtoms(array=fixed)] if fixed else [],
    )
    return Protocol(name=name, description="RESET then SET pulses", stages=[train])


# -- shipped files


def _protocol_dir() -> Path:
    return Path(str(resources.files("gst_flows") / "data" / "protocols"))


def list_protocols() -> list[str]:
    """Names of the protocols shipped with the package."""
    return sorted(p.stem for p in _protocol_dir().glob("*.yaml"))


def _protocol_file(path: Path) -> Protocol:
    """Load a protocol YAML file; a mistake in it raises one line naming the file and field."""
    from pydantic import ValidationError

    from gst_flows.errors import InputError, validation_message, yaml_message

    where = f"protocol {path}"
    try:
        return Protocol.from_yaml(path)
    except yaml.YAMLError as exc:
        raise InputError(yaml_message(exc), where=where, fix="fix the YAML syntax") from None
    except UnicodeDecodeError:
        raise InputError("not a text file", where=where, fix="give a protocol YAML file") from None
    except ValidationError as exc:
        raise InputError(
            validation_message(exc), where=where, fix="see docs/md.md for the protocol fields"
        ) from None
    except ProtocolError:
        raise
    except ValueError as exc:
        raise InputError(str(exc), where=where, fix="see docs/md.md for the protocol fields") from None


def load_protocol(source: str | Path | Protocol | dict[str, Any]) -> Protocol:
    """Load a protocol from a shipped name, a YAML path, a dictionary or a protocol.

    Parameters
    ----------
    source
        ``"mushroom_reset"`` (see :func:`list_protocols`), a path to a YAML file, a mapping or a
        :class:`Protocol`.

    Raises
    ------
    FileNotFoundError
        When ``source`` is neither a file nor a shipped name.
    gst_flows.errors.InputError
        For a file that is not valid YAML or not a valid protocol (one line naming the file,
        the field and the problem).
    """
    if isinstance(source, Protocol):
        return source
    if isinstance(source, dict):
        return Protocol.from_dict(source)
    path = Path(source)
    if path.is_file():
        return _protocol_file(path)
    shipped = _protocol_dir() / f"{Path(str(source)).stem}.yaml"
    if shipped.is_file() and path.suffix in ("", ".yaml"):
        return _protocol_file(shipped)
    raise FileNotFoundError(
        f"no protocol file {str(source)!r} and no shipped protocol of that name "
        f"(shipped: {', '.join(list_protocols())})"
    )
