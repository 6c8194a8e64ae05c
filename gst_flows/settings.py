"""Configuration of gst-flows: one YAML file, overridable key by key from the environment.

The file is ``$GST_FLOWS_CONFIG`` when set, otherwise ``~/.config/gst-flows/config.yaml``
(``$XDG_CONFIG_HOME`` respected). Any key can be overridden by an environment variable
``GST_FLOWS_<KEY>`` (e.g. ``GST_FLOWS_DB_URI``). Environment beats file beats defaults.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

__all__ = ["GstFlowsSettings", "config_path", "default_data_dir", "get_settings"]


CONFIG_ENV = "GST_FLOWS_CONFIG"


def config_path() -> Path:
    """Return the path of the configuration file (it need not exist)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "gst-flows" / "config.yaml"


def default_data_dir() -> Path:
    """Return the default data directory (``$XDG_DATA_HOME/gst-flows``)."""
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "gst-flows"


class GstFlowsSettings(BaseSettings):
    """Settings of gst-flows.

    Leave ``db_uri`` unset to use the embedded MongoDB-protocol server (started on demand,
    bound to 127.0.0.1, data under ``data_dir``).
    """

    model_config = SettingsConfigDict(env_prefix="GST_FLOWS_", extra="forbid")

    db_uri: str | None = Field(
        None, description="MongoDB URI of the user's database; unset means the embedded server."
    )
    database: str = Field("gst_flows", description="Database name for job outputs.")
    outputs_collection: str = Field("outputs", description="Collection of job documents.")
    launchpad_database: str = Field("fireworks", description="Database name of the LaunchPad.")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for the embedded database, potential cache and run directories.",
    )
    cp2k_cmd: str = Field(
        "mpirun -np 2 cp2k.psmp",
        description="Command that runs CP2K; '-i INPUT' is appended. As root, OpenMPI's mpirun "
        "also needs --allow-run-as-root (scripts/demo.sh and the tests add it).",
    )
    cp2k_omp_threads: int = Field(1, description="OMP_NUM_THREADS for CP2K runs.")
    fit_memory_limit_gb: float | None = Field(
        None, description="Refuse gap_fit runs predicted to need more memory, GiB (None: 90% of RAM)."
    )
    dft: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the default CP2K protocol (keys of Cp2kSettings).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read init arguments first, then the environment, then the YAML file."""
        path = config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @property
    def cp2k_command(self) -> list[str]:
        """The CP2K command split into arguments."""
        return shlex.split(self.cp2k_cmd)

    @property
    def embedded(self) -> bool:
        """Whether the embedded database server is used."""
        return not self.db_uri


def _check_config_file(path: Path) -> None:
    """Refuse a configuration file that is not a YAML mapping, naming the file and line."""
    import yaml

    from gst_flows.errors import InputError, yaml_message

    fix = f"fix the file, or point {CONFIG_ENV} at another one"
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(yaml_message(exc), where=f"config {path}", fix=fix) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read it: {exc}", where=f"config {path}", fix=fix) from None
    if data is not None and not isinstance(data, dict):
        raise InputError(
            f"holds a {type(data).__name__}, not a mapping of settings",
            where=f"config {path}",
            fix="write one 'key: value' per line",
        )


def get_settings(**overrides: Any) -> GstFlowsSettings:
    """Load the settings afresh (file and environment are read at each call).

    Raises
    ------
    gst_flows.errors.InputError
        For a configuration file that is not valid YAML, an unknown key, or a value of the
        wrong type (in the file or a ``GST_FLOWS_*`` variable), naming the file or variable.
    """
    from pydantic import ValidationError

    from gst_flows.errors import InputError, validation_message

    path = config_path()
    if path.is_file():
        _check_config_file(path)
    try:
        return GstFlowsSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0].get("loc", ("",))
        key = str(first[0]) if first else ""
        variable = f"{GstFlowsSettings.model_config['env_prefix']}{key.upper()}"
        where = f"environment {variable}" if key and variable in os.environ else f"config {path}"
        known = list(GstFlowsSettings.model_fields)
        raise InputError(
            validation_message(exc, known=known), where=where, fix="see the configuration keys in the README"
        ) from None
