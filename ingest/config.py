"""Settings from the environment, tenant names, and the tenant registry.

Every path and collection name that involves a tenant goes through
`validate_tenant` first, so a hostile name can never reach the filesystem or
Qdrant.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ingest.storage import atomic_write_text

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
TENANT_NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,63}$")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says what to do."""


def validate_tenant(name: str) -> str:
    if not isinstance(name, str) or not TENANT_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"invalid tenant name {name!r}: use 1-63 characters of lowercase letters, "
            "digits, '-' and '_' (for example 'acme' or 'team-2')"
        )
    return name


def ingest_home() -> Path:
    """All pipeline state lives here: INGEST_HOME, default `.ingest` in the working directory."""
    return Path(os.environ.get("INGEST_HOME") or ".ingest").expanduser().resolve()


def dagster_home() -> Path:
    """Dagster's own instance folder: DAGSTER_HOME, default INGEST_HOME/dagster."""
    configured = os.environ.get("DAGSTER_HOME")
    return Path(configured).expanduser().resolve() if configured else ingest_home() / "dagster"


def embed_model_name() -> str:
    return os.environ.get("INGEST_EMBED_MODEL") or DEFAULT_EMBED_MODEL


@dataclass(frozen=True, slots=True)
class TenantConfig:
    name: str
    source: Path


class TenantRegistry:
    """Tenants known to the pipeline.

    Two places register tenants: a TOML configuration file (INGEST_CONFIG, with
    `[tenants.NAME] source = "DIR"` tables; relative paths are relative to the
    file) and the command line (`ingest run --tenant T --source DIR`), which
    records them in INGEST_HOME/tenants.json. The command line wins on conflict.
    """

    def __init__(self, home: Path, config_file: Path | None = None) -> None:
        self.home = home
        self.registry_file = home / "tenants.json"
        if config_file is None and os.environ.get("INGEST_CONFIG"):
            config_file = Path(os.environ["INGEST_CONFIG"]).expanduser()
        self.config_file = config_file

    def _from_config_file(self) -> dict[str, Path]:
        if self.config_file is None:
            return {}
        if not self.config_file.is_file():
            raise ConfigError(f"INGEST_CONFIG points to {self.config_file}, which is not a file")
        with self.config_file.open("rb") as handle:
            data = tomllib.load(handle)
        tenants: dict[str, Path] = {}
        for name, table in (data.get("tenants") or {}).items():
            if "source" not in table:
                raise ConfigError(f"{self.config_file}: [tenants.{name}] needs a 'source' folder")
            source = Path(table["source"]).expanduser()
            if not source.is_absolute():
                source = self.config_file.parent / source
            tenants[validate_tenant(name)] = source.resolve()
        return tenants

    def _from_registry_file(self) -> dict[str, Path]:
        if not self.registry_file.is_file():
            return {}
        data = json.loads(self.registry_file.read_text(encoding="utf-8"))
        return {validate_tenant(name): Path(entry["source"]) for name, entry in data.items()}

    def all(self) -> dict[str, TenantConfig]:
        sources = self._from_config_file() | self._from_registry_file()
        return {name: TenantConfig(name, source) for name, source in sorted(sources.items())}

    def get(self, name: str) -> TenantConfig:
        validate_tenant(name)
        tenants = self.all()
        if name not in tenants:
            raise ConfigError(
                f"tenant {name!r} is not registered: run `ingest run --tenant {name} --source DIR` "
                "or add it to the INGEST_CONFIG file"
            )
        return tenants[name]

    def register(self, name: str, source: Path) -> TenantConfig:
        validate_tenant(name)
        source = source.expanduser().resolve()
        if not source.is_dir():
            raise ConfigError(f"source folder {source} does not exist or is not a folder")
        current = {n: {"source": str(t.source)} for n, t in
                   ((n, TenantConfig(n, p)) for n, p in self._from_registry_file().items())}
        current[name] = {"source": str(source)}
        atomic_write_text(self.registry_file, json.dumps(current, indent=2, sort_keys=True) + "\n")
        return TenantConfig(name, source)
