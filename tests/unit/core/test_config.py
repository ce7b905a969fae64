from pathlib import Path

import pytest

from ingest.core.config import TenantRegistry, dagster_home, ingest_home, validate_tenant
from ingest.core.errors import ConfigError


@pytest.mark.parametrize("name", ["acme", "team-2", "a_b", "x" * 63])
def test_validate_tenant_accepts_lowercase_digits_dash_underscore(name):
    assert validate_tenant(name) == name


@pytest.mark.parametrize("name", ["", "Acme", "../x", "a b", "x" * 64, "acme\n", "a/b", "acme.", None])
def test_validate_tenant_rejects_anything_else(name):
    with pytest.raises(ConfigError, match="invalid tenant name"):
        validate_tenant(name)


def test_ingest_home_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("INGEST_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert ingest_home() == (tmp_path / "state").resolve()
    assert dagster_home() == (tmp_path / "state" / "dagster").resolve()


def test_ingest_home_defaults_to_dot_ingest_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("INGEST_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert ingest_home() == tmp_path.resolve() / ".ingest"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.delenv("INGEST_CONFIG", raising=False)
    return TenantRegistry(tmp_path / "home")


def test_register_then_get_returns_the_resolved_source(registry, source_dir):
    registry.register("acme", source_dir)
    tenant = registry.get("acme")
    assert tenant.name == "acme"
    assert tenant.source == source_dir.resolve()


def test_registration_is_persisted_for_a_new_registry(registry, source_dir):
    registry.register("acme", source_dir)
    assert TenantRegistry(registry.home).get("acme").source == source_dir.resolve()


def test_all_lists_every_registered_tenant(registry, tmp_path):
    for name in ("zeta", "acme", "team-2"):
        (tmp_path / name).mkdir()
        registry.register(name, tmp_path / name)
    tenants = registry.all()
    assert list(tenants) == ["acme", "team-2", "zeta"]
    assert tenants["zeta"].source == (tmp_path / "zeta").resolve()


def test_register_again_moves_the_tenant_to_the_new_folder(registry, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    registry.register("acme", tmp_path / "old")
    registry.register("acme", tmp_path / "new")
    assert registry.get("acme").source == (tmp_path / "new").resolve()
    assert len(registry.all()) == 1


def test_unknown_tenant_error_names_the_command_to_run(registry):
    with pytest.raises(ConfigError, match=r"`ingest run --tenant ghost --source DIR`"):
        registry.get("ghost")


def test_get_rejects_an_invalid_name(registry):
    with pytest.raises(ConfigError, match="invalid tenant name"):
        registry.get("../etc")


def test_register_missing_folder_raises_and_records_nothing(registry, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        registry.register("acme", tmp_path / "missing")
    assert not registry.registry_file.exists()
    assert registry.all() == {}


def test_register_a_file_instead_of_a_folder_raises(registry, tmp_path):
    (tmp_path / "file.txt").write_text("not a folder")
    with pytest.raises(ConfigError):
        registry.register("acme", tmp_path / "file.txt")


def test_register_rejects_an_invalid_name(registry, source_dir):
    with pytest.raises(ConfigError, match="invalid tenant name"):
        registry.register("Acme", source_dir)


def _write_config(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_config_file_relative_source_resolves_against_the_file(tmp_path, monkeypatch):
    config = _write_config(tmp_path / "conf" / "ingest.toml", '[tenants.acme]\nsource = "../docs/acme"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    registry = TenantRegistry(tmp_path / "home", config_file=config)
    assert registry.get("acme").source == (tmp_path / "docs" / "acme").resolve()


def test_config_file_absolute_source_is_kept(tmp_path):
    target = tmp_path / "abs"
    config = _write_config(tmp_path / "ingest.toml", f'[tenants.beta]\nsource = "{target.as_posix()}"\n')
    assert TenantRegistry(tmp_path / "home", config_file=config).get("beta").source == target.resolve()


def test_ingest_config_environment_variable_is_read(tmp_path, monkeypatch):
    config = _write_config(tmp_path / "ingest.toml", '[tenants.acme]\nsource = "docs"\n')
    monkeypatch.setenv("INGEST_CONFIG", str(config))
    assert TenantRegistry(tmp_path / "home").get("acme").source == (tmp_path / "docs").resolve()


def test_command_line_registration_wins_over_config_file(tmp_path, source_dir):
    config = _write_config(tmp_path / "ingest.toml", '[tenants.acme]\nsource = "from-config"\n')
    registry = TenantRegistry(tmp_path / "home", config_file=config)
    registry.register("acme", source_dir)
    assert registry.get("acme").source == source_dir.resolve()


def test_config_file_and_registry_tenants_are_combined(tmp_path, source_dir):
    config = _write_config(tmp_path / "ingest.toml", '[tenants.beta]\nsource = "b"\n')
    registry = TenantRegistry(tmp_path / "home", config_file=config)
    registry.register("acme", source_dir)
    assert set(registry.all()) == {"acme", "beta"}


def test_config_file_tenant_without_source_raises(tmp_path):
    config = _write_config(tmp_path / "ingest.toml", '[tenants.acme]\nfolder = "docs"\n')
    with pytest.raises(ConfigError, match="needs a 'source' folder"):
        TenantRegistry(tmp_path / "home", config_file=config).all()


def test_config_file_with_invalid_tenant_name_raises(tmp_path):
    config = _write_config(tmp_path / "ingest.toml", '[tenants.Acme]\nsource = "docs"\n')
    with pytest.raises(ConfigError, match="invalid tenant name"):
        TenantRegistry(tmp_path / "home", config_file=config).all()


def test_missing_config_file_raises_config_error(tmp_path):
    registry = TenantRegistry(tmp_path / "home", config_file=tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not a file"):
        registry.all()


def test_tenants_registered_at_the_same_time_all_keep_their_entry(tmp_path):
    import threading

    from ingest.core.config import TenantRegistry

    source = tmp_path / "source"
    source.mkdir()
    home = tmp_path / "home"

    def register(prefix: str) -> None:
        for number in range(25):
            TenantRegistry(home).register(f"{prefix}-{number}", source)

    threads = [threading.Thread(target=register, args=(prefix,)) for prefix in ("north", "south", "east")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(TenantRegistry(home).all()) == 75


@pytest.mark.parametrize("value, delay", [(None, 10.0), ("", 10.0), ("0", 0.0), ("2.5", 2.5)])
def test_the_retry_delay_comes_from_the_environment(monkeypatch, value, delay):
    from ingest.core.config import retry_delay_seconds

    if value is None:
        monkeypatch.delenv("INGEST_RETRY_DELAY_SECONDS", raising=False)
    else:
        monkeypatch.setenv("INGEST_RETRY_DELAY_SECONDS", value)
    assert retry_delay_seconds() == delay


@pytest.mark.parametrize("value", ["soon", "-1", "86400"])
def test_a_retry_delay_that_is_not_seconds_says_what_to_set(monkeypatch, value):
    from ingest.core.config import retry_delay_seconds

    monkeypatch.setenv("INGEST_RETRY_DELAY_SECONDS", value)
    with pytest.raises(ConfigError, match="INGEST_RETRY_DELAY_SECONDS"):
        retry_delay_seconds()
