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
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from ingest.core.errors import ConfigError
from ingest.core.files import atomic_write_text

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
EMBED_BACKENDS = ("auto", "openvino", "torch")
EMBED_PRECISIONS = ("fp32", "int8")
TENANT_NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,63}$")


def validate_tenant(name: str) -> str:
    """The one gate for tenant names, which become folder and collection names.

    "__" is refused: it separates a tenant's collection name from its model and color, so a tenant
    named like another's collection could otherwise reach that tenant's vectors.
    """
    if not isinstance(name, str) or not TENANT_NAME_PATTERN.fullmatch(name) or "__" in name:
        raise ConfigError(
            f"invalid tenant name {name!r}: use 1-63 characters of lowercase letters, "
            "digits, '-' and '_', without '__' (for example 'acme' or 'team-2')"
        )
    return name


def ingest_home() -> Path:
    """All pipeline state lives here: INGEST_HOME, default `.ingest` in the working directory."""
    return Path(os.environ.get("INGEST_HOME") or ".ingest").expanduser().resolve()


def dagster_home() -> Path:
    """Dagster's own instance folder: DAGSTER_HOME, default INGEST_HOME/dagster."""
    configured = os.environ.get("DAGSTER_HOME")
    return Path(configured).expanduser().resolve() if configured else ingest_home() / "dagster"


def run_url(run_id: str) -> str:
    """A Dagster run's page in the UI: INGEST_UI_URL (default http://127.0.0.1:3000) + /runs/<id>."""
    return f"{os.environ.get('INGEST_UI_URL', 'http://127.0.0.1:3000').rstrip('/')}/runs/{run_id}"


def embed_model_name() -> str:
    return os.environ.get("INGEST_EMBED_MODEL") or DEFAULT_EMBED_MODEL


def embed_backend() -> str:
    """INGEST_EMBED_BACKEND: auto (default; openvino where it is installed and converts the model), openvino, torch."""
    backend = os.environ.get("INGEST_EMBED_BACKEND") or "auto"
    if backend not in EMBED_BACKENDS:
        raise ConfigError(f"INGEST_EMBED_BACKEND={backend!r} is not a backend: use one of {', '.join(EMBED_BACKENDS)}")
    return backend


def embed_precision() -> str:
    """INGEST_EMBED_PRECISION: fp32 (default; the model as trained) or int8 (the OpenVINO model quantized:
    about twice as fast on CPUs with int8 dot-product instructions, slower on those without; see
    ingest.embedding.embed.cpu_int8_support)."""
    precision = os.environ.get("INGEST_EMBED_PRECISION") or "fp32"
    if precision not in EMBED_PRECISIONS:
        raise ConfigError(f"INGEST_EMBED_PRECISION={precision!r} is not a precision: use one of "
                          f"{', '.join(EMBED_PRECISIONS)}")
    return precision


DEFAULT_RETRY_DELAY_SECONDS = 10.0


def retry_delay_seconds() -> float:
    """INGEST_RETRY_DELAY_SECONDS: the wait before a transient failure's first retry (default 10; doubled
    before the second). Read when the Dagster definitions are loaded."""
    configured = os.environ.get("INGEST_RETRY_DELAY_SECONDS")
    if not configured:
        return DEFAULT_RETRY_DELAY_SECONDS
    try:
        delay = float(configured)
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 3600:
        raise ConfigError(f"INGEST_RETRY_DELAY_SECONDS={configured!r} is not a number of seconds from 0 to 3600")
    return delay


def converted_models_dir(home: Path | None = None) -> Path:
    """Where models converted for a faster backend are kept: INGEST_MODELS_DIR, default INGEST_HOME/models."""
    configured = os.environ.get("INGEST_MODELS_DIR")
    return Path(configured).expanduser().resolve() if configured else (home or ingest_home()) / "models"


DEFAULT_REFRESH_HOUR = 2  # the nightly refresh, in UTC


@dataclass(frozen=True, slots=True)
class TenantConfig:
    name: str
    source: Path
    golden: Path | None = None  # JSON lines {"query", "expected": [source paths]} for the quality check
    quality: dict = field(default_factory=dict)  # thresholds for the retrieval-quality check
    refresh_hour: int | None = DEFAULT_REFRESH_HOUR  # hour (UTC) of the nightly refresh; None: no schedule
    redaction: dict = field(default_factory=dict)  # the tenant's [tenants.NAME.redaction] policy table
    retrieval: dict = field(default_factory=dict)  # [tenants.NAME.retrieval]: query mode and fusion


def _resolve(path: str | Path, base: Path) -> Path:
    path = Path(path).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


class TenantRegistry:
    """Tenants known to the pipeline.

    Two places register tenants: a TOML configuration file (INGEST_CONFIG, with
    `[tenants.NAME]` tables holding `source = "DIR"` and optionally `golden =
    "FILE"`, `refresh_hour = 2`, and `[tenants.NAME.quality]`, `[tenants.NAME.redaction]` and
    `[tenants.NAME.retrieval]` tables; relative
    paths are relative to the file) and the command line (`ingest run --tenant T
    --source DIR [--golden FILE]`), which records them in INGEST_HOME/tenants.json.
    The command line wins, setting by setting.
    """

    def __init__(self, home: Path, config_file: Path | None = None) -> None:
        self.home = home
        self.registry_file = home / "tenants.json"
        if config_file is None and os.environ.get("INGEST_CONFIG"):
            config_file = Path(os.environ["INGEST_CONFIG"]).expanduser()
        self.config_file = config_file

    def _from_config_file(self) -> dict[str, dict]:
        if self.config_file is None:
            return {}
        if not self.config_file.is_file():
            raise ConfigError(f"INGEST_CONFIG points to {self.config_file}, which is not a file")
        with self.config_file.open("rb") as handle:
            data = tomllib.load(handle)
        tenants: dict[str, dict] = {}
        for name, table in (data.get("tenants") or {}).items():
            if "source" not in table:
                raise ConfigError(f"{self.config_file}: [tenants.{name}] needs a 'source' folder")
            entry = dict(table, source=str(_resolve(table["source"], self.config_file.parent)))
            if "golden" in table:
                entry["golden"] = str(_resolve(table["golden"], self.config_file.parent))
            tenants[validate_tenant(name)] = entry
        return tenants

    def _from_registry_file(self) -> dict[str, dict]:
        if not self.registry_file.is_file():
            return {}
        data = json.loads(self.registry_file.read_text(encoding="utf-8"))
        return {validate_tenant(name): entry for name, entry in data.items()}

    def all(self) -> dict[str, TenantConfig]:
        configured = self._from_config_file()
        for name, entry in self._from_registry_file().items():
            configured[name] = {**configured.get(name, {}), **entry}
        return {name: self._tenant(name, entry) for name, entry in sorted(configured.items())}

    @staticmethod
    def _tenant(name: str, entry: dict) -> TenantConfig:
        hour = entry.get("refresh_hour", DEFAULT_REFRESH_HOUR)
        if hour is not None and (not isinstance(hour, int) or not 0 <= hour <= 23):
            raise ConfigError(f"tenant {name}: refresh_hour must be an hour 0-23 (UTC), or absent")
        return TenantConfig(
            name=name,
            source=Path(entry["source"]),
            golden=Path(entry["golden"]) if entry.get("golden") else None,
            quality=dict(entry.get("quality") or {}),
            refresh_hour=hour,
            redaction=dict(entry.get("redaction") or {}),
            retrieval=dict(entry.get("retrieval") or {}),
        )

    def get(self, name: str) -> TenantConfig:
        validate_tenant(name)
        tenants = self.all()
        if name not in tenants:
            raise ConfigError(
                f"tenant {name!r} is not registered: run `ingest run --tenant {name} --source DIR` "
                "or add it to the INGEST_CONFIG file"
            )
        return tenants[name]

    def register(self, name: str, source: Path | None = None, *, golden: Path | None = None) -> TenantConfig:
        """Record a tenant's source folder (and golden set) given on the command line.

        The registry is read, changed and written under a lock, so two commands registering different
        tenants at once both keep their entry."""
        validate_tenant(name)
        self.registry_file.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.registry_file.with_name(self.registry_file.name + ".lock")):
            current = self._from_registry_file()
            entry = dict(current.get(name, {}))
            if source is not None:
                source = source.expanduser().resolve()
                if not source.is_dir():
                    raise ConfigError(f"source folder {source} does not exist or is not a folder")
                entry["source"] = str(source)
            if golden is not None:
                golden = golden.expanduser().resolve()
                if not golden.is_file():
                    raise ConfigError(f"golden set {golden} does not exist")
                entry["golden"] = str(golden)
            if "source" not in entry and name not in self._from_config_file():
                raise ConfigError(f"tenant {name!r} is not registered: give its folder with --source DIR")
            current[name] = entry
            atomic_write_text(self.registry_file, json.dumps(current, indent=2, sort_keys=True) + "\n")
        return self.get(name)
