"""A tenant's redaction policy: its version, its validation, its TOML form, and its effect on redaction."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import pytest

from ingest.core.config import TenantRegistry
from ingest.core.errors import ConfigError
from ingest.pii.policy import DEFAULT_SALT_ENV, SUPPORTED_ENTITIES, RedactionPolicy, policy_from_config
from ingest.pii.recognizers import Finding, find_phone_numbers
from ingest.pii.redact import PiiDetector, Redactor, apply_operators

SALT = "0123456789abcdef-test-salt"
OTHER_SALT = "fedcba9876543210-other-salt"
WHERE = "[tenants.acme.redaction]"


@pytest.fixture
def salt(monkeypatch) -> str:
    monkeypatch.setenv(DEFAULT_SALT_ENV, SALT)
    return SALT


@pytest.fixture
def no_salt(monkeypatch) -> None:
    monkeypatch.delenv(DEFAULT_SALT_ENV, raising=False)


def redact(policy: RedactionPolicy, *texts: str):
    return Redactor(policy, workers=1).redact(list(texts))


# --- version ---------------------------------------------------------------------------

def test_version_is_the_label_and_a_short_content_hash():
    assert re.fullmatch(r"default@[0-9a-f]{12}", RedactionPolicy().version)
    assert re.fullmatch(r"2026-11-01@[0-9a-f]{12}", RedactionPolicy(label="2026-11-01").version)


def test_equal_policies_have_equal_versions():
    assert RedactionPolicy().version == RedactionPolicy().version
    assert RedactionPolicy(deny_list=("x",)).version == RedactionPolicy(deny_list=("x",)).version


@pytest.mark.parametrize(("first", "second"), [
    ({"entities": ("PERSON", "EMAIL_ADDRESS")}, {"entities": ("EMAIL_ADDRESS", "PERSON")}),
    ({"allow_list": ("Ada", "Bob")}, {"allow_list": ("Bob", "Ada")}),
    ({"deny_list": ("Nightingale", "Kestrel")}, {"deny_list": ("Kestrel", "Nightingale")}),
    ({"id_context": ("order", "sku")}, {"id_context": ("sku", "order")}),
    ({"thresholds": (("PERSON", 0.7), ("PHONE_NUMBER", 0.9))},
     {"thresholds": (("PHONE_NUMBER", 0.9), ("PERSON", 0.7))}),
    ({"operators": (("PERSON", "mask"), ("US_SSN", "drop"))}, {"operators": (("US_SSN", "drop"), ("PERSON", "mask"))}),
])
def test_the_order_of_list_fields_does_not_change_the_version(first, second):
    assert RedactionPolicy(**first).version == RedactionPolicy(**second).version


FIELD_CHANGES = {
    "label": "2026-11-01",
    "entities": ("PERSON", "EMAIL_ADDRESS"),
    "score_threshold": 0.6,
    "thresholds": (("PERSON", 0.7),),
    "default_operator": "mask",
    "operators": (("EMAIL_ADDRESS", "drop"),),
    "allow_list": ("Ada Lovelace",),
    "deny_list": ("Project Nightingale",),
    "id_context": ("order",),
    "spacy_model": "en_core_web_sm",
    "window_chars": 20_000,
    "window_overlap": 400,
    "hash_salt_env": "ACME_PII_SALT",
}


def test_every_field_has_a_change_below():
    assert set(FIELD_CHANGES) == {f.name for f in fields(RedactionPolicy)}


@pytest.mark.parametrize(("name", "value"), FIELD_CHANGES.items())
def test_any_field_change_changes_the_version(name, value):
    base = RedactionPolicy()
    changed = replace(base, **{name: value})
    assert getattr(changed, name) != getattr(base, name)
    assert changed.version != base.version
    if name != "label":
        assert changed.version.split("@")[1] != base.version.split("@")[1]


def test_the_version_never_depends_on_or_contains_the_salt(monkeypatch):
    policy = RedactionPolicy(default_operator="hash")
    monkeypatch.setenv(DEFAULT_SALT_ENV, SALT)
    with_salt = policy.version
    monkeypatch.setenv(DEFAULT_SALT_ENV, OTHER_SALT)
    assert policy.version == with_salt
    monkeypatch.delenv(DEFAULT_SALT_ENV)
    assert policy.version == with_salt
    assert SALT not in with_salt and OTHER_SALT not in with_salt and "salt" not in with_salt


def test_threshold_and_operator_fall_back_to_the_defaults():
    policy = RedactionPolicy(score_threshold=0.4, thresholds=(("PERSON", 0.9),), default_operator="mask",
                             operators=(("EMAIL_ADDRESS", "drop"),))
    assert policy.threshold("PERSON") == 0.9
    assert policy.threshold("PHONE_NUMBER") == 0.4
    assert policy.operator("EMAIL_ADDRESS") == "drop"
    assert policy.operator("PERSON") == "mask"


# --- hash salt ---------------------------------------------------------------------------

def test_hash_salt_comes_from_the_environment(salt):
    assert RedactionPolicy(default_operator="hash").hash_salt() == salt.encode()


@pytest.mark.parametrize(("value", "why"), [(None, "unset"), ("short-salt", "shorter than 16")])
def test_hash_salt_must_be_set_and_long(monkeypatch, value, why):
    if value is None:
        monkeypatch.delenv(DEFAULT_SALT_ENV, raising=False)
    else:
        monkeypatch.setenv(DEFAULT_SALT_ENV, value)
    with pytest.raises(ConfigError, match=why) as error:
        RedactionPolicy(default_operator="hash").hash_salt()
    assert DEFAULT_SALT_ENV in str(error.value)
    if value is not None:
        assert value not in str(error.value)


def test_hash_salt_reads_the_variable_the_policy_names(monkeypatch, salt):
    monkeypatch.delenv("ACME_PII_SALT", raising=False)
    policy = RedactionPolicy(default_operator="hash", hash_salt_env="ACME_PII_SALT")
    with pytest.raises(ConfigError, match="ACME_PII_SALT"):
        policy.hash_salt()
    monkeypatch.setenv("ACME_PII_SALT", OTHER_SALT)
    assert policy.hash_salt() == OTHER_SALT.encode()


@pytest.mark.parametrize("table", [{"default_operator": "hash"}, {"operators": {"PERSON": "hash"}}])
def test_a_hashing_policy_fails_at_configuration_time_without_the_salt(no_salt, table):
    with pytest.raises(ConfigError, match=DEFAULT_SALT_ENV):
        policy_from_config(table, tenant="acme")


@pytest.mark.parametrize("table", [{"default_operator": "hash"}, {"operators": {"PERSON": "hash"}}])
def test_a_hashing_policy_is_accepted_with_the_salt(salt, table):
    assert policy_from_config(table, tenant="acme").uses_hash()


def test_a_redactor_with_a_hashing_policy_needs_the_salt(no_salt):
    with pytest.raises(ConfigError, match=DEFAULT_SALT_ENV):
        Redactor(RedactionPolicy(default_operator="hash"), workers=1)


def test_a_policy_without_hashing_needs_no_salt(no_salt):
    policy = policy_from_config({"default_operator": "mask", "operators": {"PERSON": "drop"}}, tenant="acme")
    assert not policy.uses_hash()


# --- validation ------------------------------------------------------------------------------

def test_policy_from_config_applies_every_key():
    policy = policy_from_config({
        "label": "2026-11-01",
        "entities": ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"],
        "score_threshold": 0.6,
        "thresholds": {"PHONE_NUMBER": 0.8, "PERSON": 0.7},
        "default_operator": "mask",
        "operators": {"EMAIL_ADDRESS": "drop"},
        "allow_list": [" Ada Lovelace "],
        "deny_list": ["Project Nightingale"],
        "id_context": ["order", "rma"],
        "spacy_model": "en_core_web_sm",
        "window_chars": 2_000,
        "hash_salt_env": "ACME_PII_SALT",
    }, tenant="acme")
    assert policy == RedactionPolicy(
        label="2026-11-01", entities=("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"), score_threshold=0.6,
        thresholds=(("PERSON", 0.7), ("PHONE_NUMBER", 0.8)), default_operator="mask",
        operators=(("EMAIL_ADDRESS", "drop"),), allow_list=("Ada Lovelace",), deny_list=("Project Nightingale",),
        id_context=("order", "rma"), spacy_model="en_core_web_sm", window_chars=2_000,
        hash_salt_env="ACME_PII_SALT")


def test_policy_from_config_of_an_empty_table_is_the_base():
    base = RedactionPolicy(label="base", deny_list=("x",))
    assert policy_from_config({}) == RedactionPolicy()
    assert policy_from_config({}, base) == base
    assert policy_from_config({"score_threshold": 0.7}, base) == replace(base, score_threshold=0.7)


@pytest.mark.parametrize(("table", "label"), [({"version": "v7"}, "v7"), ({"label": 7}, "7"),
                                              ({"label": " 2026-11-01 "}, "2026-11-01")])
def test_the_label_may_be_given_as_version_or_a_number(table, label):
    assert policy_from_config(table).label == label


@pytest.mark.parametrize("key", ["colour", "window_overlap"])
def test_unknown_keys_are_refused_and_named(key):
    with pytest.raises(ConfigError) as error:
        policy_from_config({key: 1, "label": "x"}, tenant="acme")
    assert str(error.value).startswith(f"{WHERE}: unknown keys ['{key}']"), str(error.value)


@pytest.mark.parametrize(("table", "key"), [
    ({"label": ""}, "label"),
    ({"label": "  "}, "label"),
    ({"label": ["a"]}, "label"),
    ({"entities": ["PERSON", "PASSPORT"]}, "entities"),
    ({"entities": "PERSON"}, "entities"),
    ({"score_threshold": 1.5}, "score_threshold"),
    ({"score_threshold": -0.1}, "score_threshold"),
    ({"score_threshold": True}, "score_threshold"),
    ({"score_threshold": "high"}, "score_threshold"),
    ({"thresholds": {"PERSON": 2}}, "thresholds.PERSON"),
    ({"thresholds": {"PERSON": -1}}, "thresholds.PERSON"),
    ({"thresholds": {"PASSPORT": 0.5}}, "thresholds"),
    ({"thresholds": 0.5}, "thresholds"),
    ({"default_operator": "redact"}, "default_operator"),
    ({"operators": {"PERSON": "encrypt"}}, "operators.PERSON"),
    ({"operators": {"PASSPORT": "mask"}}, "operators"),
    ({"operators": ["mask"]}, "operators"),
    ({"allow_list": "Ada"}, "allow_list"),
    ({"deny_list": ["ok", " "]}, "deny_list"),
    ({"id_context": [1]}, "id_context"),
    ({"spacy_model": 3}, "spacy_model"),
    ({"window_chars": 1_999}, "window_chars"),
    ({"window_chars": 4_000.0}, "window_chars"),
    ({"window_chars": True}, "window_chars"),
    ({"hash_salt_env": ""}, "hash_salt_env"),
])
def test_invalid_settings_are_refused_with_a_message_naming_the_key(table, key):
    with pytest.raises(ConfigError) as error:
        policy_from_config(table, tenant="acme")
    # the message starts with the key's full name ("....thresholds.PERSON must ...", "....entities: ...")
    assert re.match(rf"{re.escape(WHERE)}\.{re.escape(key)}[ :]", str(error.value)), str(error.value)


def test_unknown_entity_types_are_named():
    with pytest.raises(ConfigError, match="PASSPORT"):
        policy_from_config({"entities": ["PERSON", "PASSPORT"]}, tenant="acme")


@pytest.mark.parametrize(("key", "value"), [("score_threshold", 0.0), ("score_threshold", 1.0), ("score_threshold", 1),
                                            ("window_chars", 2_000)])
def test_boundary_values_are_accepted(key, value):
    assert getattr(policy_from_config({key: value}), key) == value


def test_every_supported_entity_and_operator_is_accepted():
    operators = ("placeholder", "mask", "drop")
    table = {"entities": list(SUPPORTED_ENTITIES),
             "operators": {entity: operators[i % 3] for i, entity in enumerate(SUPPORTED_ENTITIES)}}
    policy = policy_from_config(table)
    assert policy.entities == SUPPORTED_ENTITIES
    assert {policy.operator(entity) for entity in SUPPORTED_ENTITIES} == set(operators)


# --- the TOML form through the tenant registry ------------------------------------------------

TOML = """
[tenants.acme]
source = "docs"

[tenants.acme.redaction]
label = "2026-11-01"
entities = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"]
score_threshold = 0.6
default_operator = "mask"
allow_list = ["Ada Lovelace"]
deny_list = ["Project Nightingale"]
window_chars = 4000
hash_salt_env = "ACME_PII_SALT"

[tenants.acme.redaction.thresholds]
PERSON = 0.8

[tenants.acme.redaction.operators]
EMAIL_ADDRESS = "hash"

[tenants.plain]
source = "plain-docs"
"""


@pytest.fixture
def registry(tmp_path) -> TenantRegistry:
    (tmp_path / "docs").mkdir()
    (tmp_path / "plain-docs").mkdir()
    config = tmp_path / "ingest.toml"
    config.write_text(TOML, encoding="utf-8")
    return TenantRegistry(tmp_path / "home", config_file=config)


def test_a_tenants_redaction_table_round_trips_from_toml(registry, monkeypatch):
    monkeypatch.setenv("ACME_PII_SALT", SALT)
    tenant = registry.get("acme")
    assert tenant.redaction["thresholds"] == {"PERSON": 0.8}
    policy = policy_from_config(tenant.redaction, tenant=tenant.name)
    assert policy == RedactionPolicy(
        label="2026-11-01", entities=("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"), score_threshold=0.6,
        thresholds=(("PERSON", 0.8),), default_operator="mask", operators=(("EMAIL_ADDRESS", "hash"),),
        allow_list=("Ada Lovelace",), deny_list=("Project Nightingale",), window_chars=4000,
        hash_salt_env="ACME_PII_SALT")
    assert policy.version.startswith("2026-11-01@")

    [result] = redact(policy, "Ada Lovelace wrote to ada@example.com about Project Nightingale, tel. 555-867-5309.")
    assert re.fullmatch(r"Ada Lovelace wrote to <EMAIL_ADDRESS:[0-9a-f]{12}> about \*+ \*+, tel\. \*{12}\.",
                        result.text), result.text
    assert result.entity_counts == {"CUSTOM": 1, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_a_tenant_without_a_redaction_table_gets_the_default_policy(registry):
    tenant = registry.get("plain")
    assert tenant.redaction == {}
    assert policy_from_config(tenant.redaction, tenant="plain") == RedactionPolicy()


def test_an_invalid_toml_policy_names_the_tenant_and_the_key(tmp_path):
    config = tmp_path / "ingest.toml"
    config.write_text('[tenants.acme]\nsource = "docs"\n[tenants.acme.redaction]\nscore_threshold = 5\n',
                      encoding="utf-8")
    tenant = TenantRegistry(tmp_path / "home", config_file=config).get("acme")
    with pytest.raises(ConfigError, match=re.escape("[tenants.acme.redaction].score_threshold")):
        policy_from_config(tenant.redaction, tenant=tenant.name)


def test_a_toml_hashing_policy_without_its_salt_fails(registry, monkeypatch):
    monkeypatch.delenv("ACME_PII_SALT", raising=False)
    with pytest.raises(ConfigError, match="ACME_PII_SALT"):
        policy_from_config(registry.get("acme").redaction, tenant="acme")


# --- the policy's effect on detection and redaction --------------------------------------------

MIXED = ("John Smith wrote from john.smith@example.com, call 555-867-5309, card 4111 1111 1111 1111, "
         "host 10.0.0.1, IBAN GB82WEST12345698765432, SSN 536-22-8726.")


def found_types(policy: RedactionPolicy, text: str) -> list[str]:
    [findings] = PiiDetector(policy).detect([text])
    return [f.entity_type for f in findings]


def test_the_default_policy_finds_every_kind_in_the_mixed_text():
    assert sorted(found_types(RedactionPolicy(), MIXED)) == sorted([
        "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "IBAN_CODE", "US_SSN"])


def test_an_allow_list_keeps_its_values_whole_and_case_insensitively():
    text = "Mail support@acme-corp.com or jane@example.com; Ada Lovelace wrote the manual."
    policy = RedactionPolicy(allow_list=("SUPPORT@acme-corp.com", "ada lovelace"))
    [result] = redact(policy, text)
    assert result.text == "Mail support@acme-corp.com or <EMAIL_ADDRESS>; Ada Lovelace wrote the manual."
    assert result.entity_counts == {"EMAIL_ADDRESS": 1}
    [default] = redact(RedactionPolicy(), text)
    assert default.entity_counts == {"EMAIL_ADDRESS": 2, "PERSON": 1}


def test_a_deny_list_redacts_its_terms_as_custom():
    text = "Project Nightingale starts Monday; project  nightingale? PROJECT NIGHTINGALE is secret. Nightingales sing."
    [result] = redact(RedactionPolicy(deny_list=("Project Nightingale", "Kestrel")), text)
    assert result.text == ("<CUSTOM> starts Monday; project  nightingale? <CUSTOM> is secret. "
                           "Nightingales sing.")
    assert result.entity_counts == {"CUSTOM": 2}


def test_a_deny_list_applies_whatever_the_entities():
    [result] = redact(RedactionPolicy(entities=(), deny_list=("Kestrel",)), "Kestrel met John Smith.")
    assert result.text == "<CUSTOM> met John Smith."


def test_a_per_type_threshold_of_one_disables_names():
    policy = RedactionPolicy(thresholds=(("PERSON", 1.0),))
    types = found_types(policy, MIXED)
    assert "PERSON" not in types
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"} <= set(types)


def test_a_per_type_threshold_of_one_switches_the_type_off_even_for_certain_findings():
    # card numbers and IBANs are checksum-valid: they score 1.0, which `score < threshold` let through
    assert {"CREDIT_CARD", "IBAN_CODE"} <= set(found_types(RedactionPolicy(), MIXED))
    types = found_types(RedactionPolicy(thresholds=(("CREDIT_CARD", 1.0),)), MIXED)
    assert "CREDIT_CARD" not in types
    assert {"IBAN_CODE", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN"} <= set(types)
    assert found_types(RedactionPolicy(score_threshold=1.0), MIXED) == []


def test_a_per_type_threshold_drops_findings_scored_below_it():
    text = "Lines: +33 1 42 68 53 00 and paris@example.com."
    [phone] = find_phone_numbers(text)
    assert 0.5 <= phone.score < 0.99
    assert found_types(RedactionPolicy(), text) == ["PHONE_NUMBER", "EMAIL_ADDRESS"]
    assert found_types(RedactionPolicy(thresholds=(("PHONE_NUMBER", 0.99),)), text) == ["EMAIL_ADDRESS"]
    assert found_types(RedactionPolicy(score_threshold=0.99, thresholds=(("PHONE_NUMBER", 0.5),)), text) == [
        "PHONE_NUMBER", "EMAIL_ADDRESS"]


def test_entities_limit_what_is_found():
    assert found_types(RedactionPolicy(entities=("EMAIL_ADDRESS",)), MIXED) == ["EMAIL_ADDRESS"]
    assert found_types(RedactionPolicy(entities=("US_SSN", "IP_ADDRESS")), MIXED) == ["IP_ADDRESS", "US_SSN"]
    assert PiiDetector(RedactionPolicy(entities=("EMAIL_ADDRESS",)))._nlp is None  # no model without names


def test_an_empty_id_context_lets_an_order_number_be_a_phone():
    text = "order 4417-2291"
    assert found_types(RedactionPolicy(), text) == []
    assert found_types(RedactionPolicy(id_context=()), text) == ["PHONE_NUMBER"]


def test_counts_are_per_entity_type():
    text = ("Ann Lee (ann.lee@example.com) and Bob Stone (bob.stone@example.com) share "
            "+44 20 7946 0958 and 212-555-0199; card 4111 1111 1111 1111.")
    [result] = redact(RedactionPolicy(), text)
    assert result.entity_counts == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 2, "PERSON": 2, "PHONE_NUMBER": 2}
    assert result.text == ("<PERSON> (<EMAIL_ADDRESS>) and <PERSON> (<EMAIL_ADDRESS>) share "
                           "<PHONE_NUMBER> and <PHONE_NUMBER>; card <CREDIT_CARD>.")


# --- operators ----------------------------------------------------------------------------------

OPERATOR_TEXT = "Ask John Smith at john.smith@example.com or call 555-867-5309 today."


def test_mask_keeps_the_length_and_the_spaces():
    [result] = redact(RedactionPolicy(default_operator="mask"), OPERATOR_TEXT)
    assert result.text == "Ask **** ***** at ********************** or call ************ today."
    assert len(result.text) == len(OPERATOR_TEXT)
    assert result.entity_counts == {"EMAIL_ADDRESS": 1, "PERSON": 1, "PHONE_NUMBER": 1}


def test_drop_removes_the_value():
    [result] = redact(RedactionPolicy(default_operator="drop"), OPERATOR_TEXT)
    assert result.text == "Ask  at  or call  today."
    assert result.entity_counts == {"EMAIL_ADDRESS": 1, "PERSON": 1, "PHONE_NUMBER": 1}


def test_operators_apply_per_type():
    policy = RedactionPolicy(operators=(("PERSON", "mask"), ("EMAIL_ADDRESS", "drop")))
    [result] = redact(policy, OPERATOR_TEXT)
    assert result.text == "Ask **** ***** at  or call <PHONE_NUMBER> today."


HASHED = re.compile(r"<PERSON:[0-9a-f]{12}>")


def person_tokens(results) -> list[str]:
    return [token for result in results for token in HASHED.findall(result.text)]


def test_hash_is_stable_across_texts_case_and_spacing(salt):
    texts = ["Please call John Smith.", "JOHN SMITH", "Signed: John  Smith", "We met Maria Gonzalez."]
    results = redact(RedactionPolicy(default_operator="hash"), *texts)
    tokens = person_tokens(results)
    assert len(tokens) == 4
    assert tokens[0] == tokens[1] == tokens[2] != tokens[3]
    assert all(SALT not in result.text and "Smith" not in result.text for result in results)
    again = redact(RedactionPolicy(default_operator="hash"), "Meeting with John Smith today.")
    assert person_tokens(again) == [tokens[0]]  # another redactor, same salt: the same token


def test_hash_differs_with_another_salt(monkeypatch):
    policy = RedactionPolicy(default_operator="hash")
    monkeypatch.setenv(DEFAULT_SALT_ENV, SALT)
    [first] = person_tokens(redact(policy, "Please call John Smith."))
    monkeypatch.setenv(DEFAULT_SALT_ENV, OTHER_SALT)
    [second] = person_tokens(redact(policy, "Please call John Smith."))
    assert first != second


def test_hash_tokens_depend_on_the_type_and_the_value():
    text = "kestrel"
    policy = RedactionPolicy(default_operator="hash")
    as_person = apply_operators(text, [Finding(0, 7, "PERSON", 0.9, "t")], policy, SALT.encode()).text
    as_custom = apply_operators(text, [Finding(0, 7, "CUSTOM", 0.9, "t")], policy, SALT.encode()).text
    other = apply_operators("falcon", [Finding(0, 6, "PERSON", 0.9, "t")], policy, SALT.encode()).text
    assert re.fullmatch(r"<PERSON:[0-9a-f]{12}>", as_person) and re.fullmatch(r"<CUSTOM:[0-9a-f]{12}>", as_custom)
    assert as_person.split(":")[1] != as_custom.split(":")[1]
    assert as_person != other
