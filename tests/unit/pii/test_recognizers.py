"""The PII recognisers, the detector that combines them, and the redactor's mechanics.

Real examples throughout: every recogniser and the spaCy model run for real. Detector-level tests
use one module-wide `PiiDetector` with the default policy (loading spaCy takes a few seconds).
"""

from __future__ import annotations

import pytest

from ingest.pii.policy import RedactionPolicy
from ingest.pii.recognizers import (
    Finding,
    find_card_numbers,
    find_denied,
    find_driver_licences,
    find_ibans,
    find_names,
    find_patterns,
    find_phone_numbers,
    find_social_security_numbers,
    find_street_addresses,
    has_context,
    luhn_valid,
    name_lexicon,
    person_span_parts,
    refine_people,
)
from ingest.pii.redact import PiiDetector

DEFAULT = RedactionPolicy()


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(RedactionPolicy())


def values(text: str, findings: list[Finding], entity_type: str | None = None) -> list[str]:
    return [text[f.start:f.end] for f in findings if entity_type is None or f.entity_type == entity_type]


def detected(detector: PiiDetector, text: str, entity_type: str | None = None) -> list[str]:
    [findings] = detector.detect([text])
    return values(text, findings, entity_type)


def luhn_complete(prefix: str) -> str:
    """`prefix` and the one check digit that makes it Luhn-valid (computed independently of the code)."""
    for check in "0123456789":
        digits = prefix + check
        total = 0
        for position, character in enumerate(reversed(digits)):
            value = int(character) * (2 if position % 2 else 1)
            total += value // 10 + value % 10
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def group4(digits: str, separator: str) -> str:
    return separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))


# --- names ------------------------------------------------------------------------------

NAMES = [
    ("please ask maria gonzalez", "maria gonzalez"),
    ("JOHN O'BRIEN SIGNED", "JOHN O'BRIEN"),
    ("Helena C Carlsen", "Helena C Carlsen"),
    ("Søren F. Kleist", "Søren F. Kleist"),
    ("Dr. Okafor", "Okafor"),
    ("Mr. John Smith", "John Smith"),
    ("Prof Anna Berg said so", "Anna Berg"),
    ("dear priya,", "priya"),
    ("thanks, ngozi", "ngozi"),
]


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_find_names_finds_the_name_in_any_case_without_title_or_punctuation(text, name):
    assert values(text, find_names(text)) == [name]


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_detector_redacts_the_whole_name(detector, text, name):
    start = text.index(name)
    [findings] = detector.detect([text])
    people = [f for f in findings if f.entity_type == "PERSON"]
    assert any(f.start <= start and f.end >= start + len(name) for f in people), values(text, people)


@pytest.mark.parametrize(("text", "name"), [
    ("Dr. Okafor", "Okafor"),
    ("Helena C Carlsen", "Helena C Carlsen"),
    ("Søren F. Kleist", "Søren F. Kleist"),
    ("please ask maria gonzalez", "maria gonzalez"),
    ("dear priya,", "priya"),
    ("JOHN O'BRIEN SIGNED", "JOHN O'BRIEN"),
])
def test_detector_person_span_is_exactly_the_name(detector, text, name):
    assert detected(detector, text, "PERSON") == [name]


def test_an_upper_case_passage_is_read_by_the_model(detector):
    text = "MEETING WITH JOHN SMITH TODAY."
    assert detected(detector, text, "PERSON") == ["JOHN SMITH"]


@pytest.mark.parametrize("text", [
    pytest.param("Signed: JOHN SMITH", id="upper-after-colon"),
    pytest.param("please ask john smith", id="lower"),
])
def test_detector_redacts_a_full_name_with_a_common_word_surname_in_any_case(detector, text):
    name = "JOHN SMITH" if "JOHN" in text else "john smith"
    start = text.index(name)
    [findings] = detector.detect([text])
    assert any(f.entity_type == "PERSON" and f.start <= start and f.end >= start + len(name) for f in findings)


@pytest.mark.parametrize("text", [
    "We will mark the date",
    "We will mark the date in the calendar.",
    "may I ask",
    "May I ask a question?",
    "the rose garden",
    "Walk through the rose garden at dawn.",
    "Freezer B2",
    "Store the samples in Freezer B2 overnight.",
    "Gift",
    "Gift wrapping is free.",
])
def test_words_that_are_also_names_somewhere_are_not_people(detector, text):
    assert detected(detector, text, "PERSON") == []


@pytest.mark.parametrize("text", ["We will mark the date", "may I ask", "the rose garden", "Freezer B2", "Gift"])
def test_find_names_ignores_common_words(text):
    assert find_names(text) == []


def test_name_lexicon_is_large_and_free_of_function_words():
    lexicon = name_lexicon()
    assert len(lexicon.first_names) > 10_000 and len(lexicon.last_names) > 10_000
    assert {"maria", "priya", "helena", "søren"} <= lexicon.first_names
    assert {"gonzalez", "carlsen"} <= lexicon.last_names
    assert not {"will", "may", "mark", "rose", "the", "ask"} & (lexicon.first_names | lexicon.last_names)


@pytest.mark.parametrize(("text", "names"), [
    ("Why is liisa so impulsive?", ["liisa"]),  # lower case, a given name that is no English word
    ('"I\'m glad to hear that," says sandberg.', ["sandberg"]),
    ("Zeeb, Hatfield and Peck founded the firm.", ["Zeeb", "Hatfield", "Peck"]),  # listed with a name
    ("My name is Minoesch", ["Minoesch"]),  # unknown to the lexicon, announced by a cue
    ("Hi Olamide, your parcel is on its way.", ["Olamide"]),
    ("my manager is chen jing and she approved it", ["chen jing"]),  # family name first
    ("the form was filled in by MÜLLER, STEFAN on monday", ["MÜLLER, STEFAN"]),
    ("Patient: ANA-MARIA POPESCU, admitted for observation", ["ANA-MARIA POPESCU"]),
    ("You can tell Bettine H. Roelink was a fan.", ["Bettine H. Roelink"]),  # around a middle initial
    ("chise t. horiguchi will be talking", ["chise t. horiguchi"]),
    ("Felicity C. Marshall points out the flaw.", ["Felicity C. Marshall"]),
    ("Follow up with Zachary van den IJssel next month.", ["Zachary van den IJssel"]),
    ("Have you been to an Amber Watson concert?", ["Amber Watson"]),  # a given name that is a word
    ("jared: You saved my life!", ["jared"]),  # a speaker
    ("Remember me, Martin? I talked just like this!", ["Martin"]),  # someone addressed
    ("Hello, this is Mr. julian wollaston. Who are you?", ["julian wollaston"]),
    ("It was sung by Ian Kovalev in 1974.", ["Ian Kovalev"]),  # a Russian name, romanised
    ("Hermansen began writing as a teenager.", ["Hermansen"]),  # a family name as the subject
])
def test_find_names_finds_names_by_lexicon_cue_initial_and_list(text, names):
    assert sorted(values(text, find_names(text))) == sorted(names)


@pytest.mark.parametrize("text", [
    "We moved here from France last year.",
    "Our London office is on the second floor.",  # a given name somewhere, a city the gazetteer knows
    'The operator "not" yields "True" if its argument is false.',
    "THIS SONG IS A ROCK MASTERPIECE",
    "The items are separated with a colon.",
    "It lists each quarantined document with its reason.",
    "Convert to lower case and vice versa.",
    "Both answers are clearer than the first.",
    "a boundary lies whole in one of them",
    '<meta charset="utf-8">',
    'the keyword "elif" starts another branch',
    "float('NaN') is not equal to itself",
])
def test_find_names_leaves_words_places_and_code_alone(text):
    assert find_names(text) == []


def test_a_given_name_that_is_an_english_word_is_no_name_after_a_determiner():
    text = "Guy C. Bonneville, the Job developer, said so."
    assert values(text, find_names(text)) == ["Guy C. Bonneville"]


def test_english_words_are_told_from_names_with_their_inflections():
    lexicon = name_lexicon()
    for word in ("lies", "parties", "began", "listed", "stopped", "running", "clearer", "happiest"):
        assert lexicon.is_english_word(word), word
    for name in ("barros", "liisa", "arcuri", "torben", "motoko"):
        assert not lexicon.is_english_word(name), name
    assert "kovalev" in lexicon.last_names and "vsevolod" in lexicon.first_names  # romanised Cyrillic
    assert {"london", "paris", "france"} <= lexicon.places


@pytest.mark.parametrize(("text", "span", "names"), [
    ("Producer Rasmus Katajisto explained", "Producer Rasmus Katajisto", ["Rasmus Katajisto"]),
    ("Luiza is from Simon Property", "Luiza is from Simon Property", ["Luiza"]),
    ("Gustav Andresen, the Transcriber, said", "Gustav Andresen, the Transcriber", ["Gustav Andresen"]),
    ("Gracie Marsh, Jessica Yudin", "Gracie Marsh, Jessica Yudin", ["Gracie Marsh", "Jessica Yudin"]),
    ("JOHN O'BRIEN SIGNED THE NOTE", "JOHN O'BRIEN SIGNED", ["JOHN O'BRIEN"]),
    ("This song by ex-Zombie Wiik is great", "Zombie Wiik", ["Wiik"]),
    ("Will Smith", "Will Smith", ["Will Smith"]),  # an English word in a full name stays
    ("Carry Me Back To Spain", "Carry Me", []),
    ("Gift wrapping is free.", "Gift", []),  # one English word
    ("We moved here from France", "France", []),  # a place
    ("see MSCI-EM for details", "MSCI-EM", []),  # an acronym
    ("Paul Waechter\n\nJestetten", "Paul Waechter\n\nJestetten", ["Paul Waechter"]),  # no line breaks
    ("mail jane@example.com", "jane@example.com", []),
])
def test_person_span_parts_keep_only_the_names_of_a_model_span(text, span, names):
    start = text.index(span)
    assert [text[s:e] for s, e in person_span_parts(text, start, start + len(span))] == names


def test_names_inside_a_street_address_are_the_address(detector):
    text = "The bus station is on Rua João Pessoa 1636"
    assert detected(detector, text, "PERSON") == []
    assert detected(detector, text, "STREET_ADDRESS") == ["Rua João Pessoa 1636"]


@pytest.mark.parametrize(("text", "names"), [
    # a word that is no English before a family name, in lower case or capitalised
    ("A tribute to ludovit kovačević – she was not impressed.", ["ludovit kovačević"]),
    ("Meet Okwudili Barrios tomorrow.", ["Okwudili Barrios"]),
    ("Follow up with Lily Solomina in a couple of months.", ["Lily Solomina"]),  # a given name that is a word
    ("I met olle isaksson and mathias stene at the bar", ["olle isaksson", "mathias stene"]),
    # names the lexicon lacks, shown by their part in the sentence
    ("Okwudili began writing as a teenager.", ["Okwudili"]),  # the subject of a verb of people
    ("Zdravko Hollink lives at the corner.", ["Zdravko Hollink"]),
    ("Vasko had given Tavor his keys.", ["Vasko", "Tavor"]),  # given something of his own
    ("As promised, here's Zilvinas's address:", ["Zilvinas"]),
    ("It was a done thing between him and Zilvinas's kid.", ["Zilvinas"]),
    ('Ngaio: "Who are you?"', ["Ngaio"]),  # a speaker before a quote
    ("Tavor: What a wife.\nMichelle: Remember me?", ["Tavor", "Michelle"]),  # a dialogue
    ("Tavor, can I please speak to your boss?", ["Tavor"]),  # addressed at the start of a line
    ("tavor, can you help me?", ["tavor"]),
    # cues
    ("A great song (not by reinier hollink).", ["reinier hollink"]),  # two foreign words after "by"
    ("She named him Mark", ["Mark"]),
    ("What's your last name? mahler", ["mahler"]),
    ("Date: 2023-12-30\nName: vignette gladu\nPhone: 555", ["vignette gladu"]),
    # lists
    ("Deguchi and Durham were precision engineers.", ["Deguchi", "Durham"]),  # a place that is a surname
    ("the founders: stensby, parks and morse.", ["stensby", "parks", "morse"]),
    # a word of the sentence after a name is no part of it
    ("You can tell kíra was a huge kíra schmidt fan.", ["kíra schmidt"]),
    ("Thanks, Kasia Young Suite 12 9 Honeysuckle Lane", ["Kasia Young"]),
])
def test_find_names_finds_names_by_their_part_in_the_sentence(text, names):
    assert sorted(values(text, find_names(text))) == sorted(names)


@pytest.mark.parametrize("text", [
    "args: A list of arguments for the program.",  # a parameter's description, not a speaker
    "Shellingham: Tool to Detect Surrounding Shell",  # a title, not a dialogue
    "dirpath, do os.path.join(dirpath, name).",  # no request to someone
    "I'm sure it works. I'M SURE IT WORKS.",  # a contraction
    "Best,\nthe team",
    "The Zilvinas release notes list every change.",  # no part that only a person plays
    "Hi Tomáš's team, the report is attached.",
])
def test_find_names_needs_a_part_only_people_play(text):
    assert [v for v in values(text, find_names(text)) if v != "Tomáš"] == []


@pytest.mark.parametrize(("text", "people"), [
    ("Edda Greco of Savannah Petroleum PLC spoke first.", ["Edda Greco"]),  # a company's name
    ("Raymond James Financial Inc.'s Gracie Marsh agreed.", ["Gracie Marsh"]),
    ("These early shows on Smit Mills Street were important.", []),  # a street's name
    ("He lives on Martin Linges veg with his sister.", []),
    ("Alexa Hedegaard DDS called back.", ["Alexa Hedegaard DDS"]),  # a post-nominal belongs to the name
    ("Nofre Téllez\n\nPOLAPIT TAMAR\nUnited Kingdom", ["Nofre Téllez"]),  # a town over its country
    ("Suite 655\nBERGEN\nNorway 88336", []),
    ("Best,\nJohn Smith\nUnited Kingdom", ["John Smith"]),  # a signature: no address above
    ("I am in Várbalog for a business trip.", []),  # a town the model takes for a person
    ("Microsoft said it would ship the update.", []),  # an organisation to the model: no name by role alone
    ("Okwudili began writing as a teenager.", ["Okwudili"]),
    ("Hi Tomáš, I'm writing about the transfer.", ["Tomáš"]),
])
def test_detector_tells_people_from_companies_streets_and_towns(detector, text, people):
    assert detected(detector, text, "PERSON") == people


def test_refine_people_keeps_other_findings_and_extends_post_nominals():
    text = "Mail John Smith Jr. at Acme Holdings Ltd"

    def at(value: str, entity_type: str) -> Finding:
        start = text.index(value)
        return Finding(start, start + len(value), entity_type, 0.6, "test")

    findings = [at("John Smith", "PERSON"), at("Acme", "PERSON"), at("Acme Holdings Ltd", "CUSTOM")]
    assert [(text[f.start:f.end], f.entity_type) for f in refine_people(text, findings)] == [
        ("John Smith Jr.", "PERSON"), ("Acme Holdings Ltd", "CUSTOM")]


# --- phone numbers --------------------------------------------------------------------

PHONES = [
    ("call me at+44 20 7946 0958", "+44 20 7946 0958"),
    ("tel:0049-30-1234567", "0049-30-1234567"),
    ("tel: 0049 30 1234567", "0049 30 1234567"),
    ("ph.555-867-5309", "555-867-5309"),
    ("+33 1 42 68 53 00", "+33 1 42 68 53 00"),
    ("+91 98765 43210", "+91 98765 43210"),
    ("(02) 9374 4000", "(02) 9374 4000"),
    ("+55 11 98765-4321", "+55 11 98765-4321"),
    ("555.123.4567x123", "555.123.4567x123"),
    ("Call 212-555-0199 ext. 42 today", "212-555-0199 ext. 42"),
    ("+1 (212) 555-0199", "+1 (212) 555-0199"),
    ("phone 5551234567", "5551234567"),
]


@pytest.mark.parametrize(("text", "phone"), PHONES)
def test_find_phone_numbers_finds_the_number_exactly(text, phone):
    assert values(text, find_phone_numbers(text)) == [phone]


@pytest.mark.parametrize(("text", "phone"), PHONES)
def test_detector_redacts_phone_numbers(detector, text, phone):
    assert detected(detector, text, "PHONE_NUMBER") == [phone]


@pytest.mark.parametrize(("text", "phone"), [
    ("Tél. 01.42.68.53.00", "01.42.68.53.00"),
    ("tel 01-42-68-53-00", "01-42-68-53-00"),
    ("call 0044-20-79460958", "0044-20-79460958"),
    ("tlf 12-34-56-78", "12-34-56-78"),
])
def test_phone_numbers_whose_first_groups_look_like_a_date_are_found(text, phone):
    assert values(text, find_phone_numbers(text)) == [phone]


@pytest.mark.parametrize("text", [
    "2024-03-15",
    "15.03.2024",
    "03/15/2024",
    "Meeting on 2024-03-15 14:30 in room B",
    "on 15.03.2024 at 10:45",
    "15.03.2024 10:45:00",
    "59.583251",
    "coordinates 59.583251, 10.123456",
    "192.168.1.20",
    "host 10.0.0.1 is down",
    "536-22-8726",
    "SSN 536-22-8726",
    "in 2019 2020 2021",
])
def test_dates_times_decimals_ips_and_ssns_are_not_phone_numbers(detector, text):
    assert values(text, find_phone_numbers(text)) == []
    assert detected(detector, text, "PHONE_NUMBER") == []


def test_a_bare_ten_digit_run_is_a_phone_number_only_with_a_cue(detector):
    [bare] = find_phone_numbers("5551234567")
    assert bare.score < DEFAULT.threshold("PHONE_NUMBER")
    assert detected(detector, "5551234567") == []
    [cued] = find_phone_numbers("phone 5551234567")
    assert cued.score >= DEFAULT.threshold("PHONE_NUMBER")
    assert detected(detector, "phone 5551234567", "PHONE_NUMBER") == ["5551234567"]


@pytest.mark.parametrize(("text", "phone"), [
    ("They're not answering at 96 466712", "96 466712"),  # a short area code, six digits after it
    ("I would like to stop receiving messages to 51-63-88-43", "51-63-88-43"),
    ("Can someone call me on 04.94.38.88.56?", "04.94.38.88.56"),
])
def test_phone_numbers_in_european_layouts_are_found(text, phone):
    assert values(text, find_phone_numbers(text)) == [phone]


@pytest.mark.parametrize("text", [
    "My driver's license number is Uo5128682",  # part of a code
    "Invoice INV0098812 is attached",
    "       8     8    10  1000",  # columns of a table
    "show it always: '+3.140000'",
])
def test_codes_and_tables_are_not_phone_numbers(text):
    assert find_phone_numbers(text) == []


# --- card numbers ---------------------------------------------------------------------

@pytest.mark.parametrize("digits", ["4111111111111111", "5500000000000004", "378282246310005", "6011111111111117",
                                    "30569309025904", "4222222222222"])
def test_luhn_valid_accepts_valid_numbers(digits):
    assert luhn_valid(digits)


@pytest.mark.parametrize("digits", ["4111111111111112", "5500000000000005", "378282246310006", "1234567890123"])
def test_luhn_valid_rejects_invalid_numbers(digits):
    assert not luhn_valid(digits)


CARDS = [
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "378282246310005",
    "6011111111111117",
    "6011-0009-9013-9424",
    luhn_complete("622126000000000000"),  # 19 digits
    group4(luhn_complete("622126123456789012"), " "),  # 19 digits in groups
    group4(luhn_complete("41234567890123"), "-"),  # 15 digits
]


@pytest.mark.parametrize("card", CARDS)
def test_luhn_valid_card_numbers_are_found(detector, card):
    text = f"Paid with {card} yesterday."
    assert values(text, find_card_numbers(text)) == [card]
    assert detected(detector, text, "CREDIT_CARD") == [card]


@pytest.mark.parametrize("card", [
    pytest.param(luhn_complete("412345678901"), id="13-digits"),
    pytest.param("4222222222222", id="13-digit-visa-test-number"),
    pytest.param("30569309025904", id="14-digit-diners-test-number"),
])
def test_thirteen_and_fourteen_digit_cards_are_found_without_a_cue(detector, card):
    text = f"Reference {card} was charged."
    assert detected(detector, text, "CREDIT_CARD") == [card]


@pytest.mark.parametrize("card", ["4111 1111 1111 1112", "5500-0000-0000-0005", "378282246310006",
                                  "6011111111111118"])
def test_luhn_invalid_numbers_are_not_cards(detector, card):
    text = f"Paid with {card} yesterday."
    assert find_card_numbers(text) == []
    assert detected(detector, text, "CREDIT_CARD") == []


def test_a_twelve_digit_luhn_valid_number_is_a_card_only_with_a_card_cue(detector):
    number = luhn_complete("41234567890")
    assert len(number) == 12
    assert detected(detector, f"Shipment weight {number} grams", "CREDIT_CARD") == []
    assert detected(detector, f"card number {number}", "CREDIT_CARD") == [number]
    assert detected(detector, f"Paid by Maestro {number}", "CREDIT_CARD") == [number]


def test_a_maestro_number_starting_with_zero_is_a_card_only_next_to_card_words(detector):
    assert detected(detector, "I want to cancel my card 060405990965 because I lost it",
                    "CREDIT_CARD") == ["060405990965"]
    assert detected(detector, "Reference 060405990965 was charged.", "CREDIT_CARD") == []


@pytest.mark.parametrize(("text", "ssn"), [
    ("SSN 536 22 8726 on file", "536 22 8726"),
    ("ssn:624183390", "624183390"),
    ("social security no. 301 47 5512", "301 47 5512"),
])
def test_social_security_numbers_in_any_layout_are_ssns_not_phone_numbers(detector, text, ssn):
    assert values(text, find_social_security_numbers(text)) == [ssn]
    [findings] = detector.detect([text])
    assert [(text[f.start:f.end], f.entity_type) for f in findings] == [(ssn, "US_SSN")]


@pytest.mark.parametrize("text", ["order 536 22 8726", "SSN 000 22 8726", "SSN 666-22-8726", "SSN 536-00-8726"])
def test_a_number_is_an_ssn_only_next_to_the_word_and_never_an_impossible_one(text):
    assert find_social_security_numbers(text) == []


def test_ibans_in_lower_case_are_found_with_their_check_digits():
    text = "iban nl91abna0417164300 as typed on the form"
    assert values(text, find_ibans(text)) == ["nl91abna0417164300"]
    assert find_ibans("iban nl92abna0417164300 as typed") == []
    text = "refund to NL91 ABNA 0417 1643 00 for tomás"
    assert values(text, find_ibans(text)) == ["NL91 ABNA 0417 1643 00"]


# --- Presidio's pattern recognisers -------------------------------------------------------

@pytest.mark.parametrize(("text", "entity_type", "value"), [
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
    ("IBAN: GB82WEST12345698765432.", "IBAN_CODE", "GB82WEST12345698765432"),
    ("write to <jane.doe@example.com>, thanks", "EMAIL_ADDRESS", "jane.doe@example.com"),
    ("(mail:bob_smith+tag@mail.example.org).", "EMAIL_ADDRESS", "bob_smith+tag@mail.example.org"),
    ("e-mail:jane@example.com;", "EMAIL_ADDRESS", "jane@example.com"),
    ("[jane.doe@example.com]", "EMAIL_ADDRESS", "jane.doe@example.com"),
    ("mail jane.doe@example.com.", "EMAIL_ADDRESS", "jane.doe@example.com"),
    ("host 10.0.0.1 is down", "IP_ADDRESS", "10.0.0.1"),
    ("at 192.168.0.1:8080", "IP_ADDRESS", "192.168.0.1"),
    ("ip 2001:db8:85a3::8a2e:370:7334 answered", "IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
    ("link-local fe80::1 only", "IP_ADDRESS", "fe80::1"),
    ("SSN 536-22-8726", "US_SSN", "536-22-8726"),
])
def test_pattern_recognisers_find_the_value(detector, text, entity_type, value):
    assert values(text, find_patterns(text, DEFAULT.entities), entity_type) == [value]
    assert detected(detector, text) == [value]
    [findings] = detector.detect([text])
    assert [f.entity_type for f in findings] == [entity_type]


@pytest.mark.parametrize("text", ["IBAN DE88 3704 0044 0532 0130 00", "IBAN GB83WEST12345698765432"])
def test_an_iban_with_a_wrong_check_digit_is_not_found(detector, text):
    assert find_patterns(text, ["IBAN_CODE"]) == []
    assert detected(detector, text, "IBAN_CODE") == []


def test_find_patterns_returns_only_the_requested_entities():
    text = "jane@example.com 10.0.0.1 536-22-8726 GB82WEST12345698765432"
    assert {f.entity_type for f in find_patterns(text, ["EMAIL_ADDRESS"])} == {"EMAIL_ADDRESS"}
    assert {f.entity_type for f in find_patterns(text, DEFAULT.entities)} == {
        "EMAIL_ADDRESS", "IP_ADDRESS", "US_SSN", "IBAN_CODE"}


# --- street addresses -----------------------------------------------------------------------

ADDRESSES = [
    "221B Baker Street",
    "1600 Pennsylvania Avenue NW",
    "12 Rue de Rivoli",
    "Hauptstraße 5",
    "Via Pasquale Scura 127",
    "P.O. Box 63",
    "Suite 026",
    "PSC 6429, Box 8163\nAPO AP 87184",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_find_street_addresses_finds_the_whole_address(address):
    assert address in values(address, find_street_addresses(address))


@pytest.mark.parametrize("address", ADDRESSES)
def test_detector_redacts_street_addresses(detector, address):
    text = f"Please send the forms to {address} before Friday"
    assert detected(detector, text, "STREET_ADDRESS") == [address]


@pytest.mark.parametrize("text", ["He lives at 221B Baker Street.", "Ship to 12 Rue de Rivoli."])
def test_an_address_at_the_end_of_a_sentence_leaves_the_full_stop(detector, text):
    [address] = detected(detector, text, "STREET_ADDRESS")
    assert not address.endswith(".")


@pytest.mark.parametrize("text", ["During 2019 we grew", "Chapter 3 of the report", "Chapter 3 Results"])
def test_numbers_in_prose_are_not_addresses(detector, text):
    assert find_street_addresses(text) == []
    assert detected(detector, text, "STREET_ADDRESS") == []


@pytest.mark.parametrize(("text", "addresses"), [
    # a block after a name: the street and apartment lines, and the postcode that ends the country line
    ("Helena Carlsen\n\n637 Strojírenská 1006\n Suite 026\n Svratka\n Czech Republic 45098",
     ["637 Strojírenská 1006\n Suite 026", "45098"]),
    # a complete postal tail belongs to the address; a town alone does not
    ("Please return to 4823 Del Sauzal 2174 Suite 629, Charlevoix, United States 40330 in case of an issue.",
     ["4823 Del Sauzal 2174 Suite 629, Charlevoix, United States 40330"]),
    ("He lives at 221B Baker Street, London.", ["221B Baker Street"]),
    ("May I have the statement sent to 84251 Hadikgasse 49 Apt. 542 KÖTTMANNSDORF Austria?",
     ["84251 Hadikgasse 49 Apt. 542 KÖTTMANNSDORF Austria"]),
    ("Titan International Inc.\n7165 ul. Karpacka 69 Suite 262\nHAUGESUND\n, VA\n 68887\n018-2622712 office",
     ["7165 ul. Karpacka 69 Suite 262\nHAUGESUND\n, VA\n 68887"]),
    # crossings
    ("Ask the driver to stop at the corner of 2347 Lauzon Parkway St. and Mitchell Wall St.",
     ["2347 Lauzon Parkway St. and Mitchell Wall St"]),
    ("Our offices are located at Monika and Turjaška 48", ["Monika and Turjaška 48"]),
    # street types in other languages, also in lower case
    ("The bus station is on Harevænget 23", ["Harevænget 23"]),
    ("We'll meet at Federal Express Corp., 094 Bécsi utca 35., Kisbarát", ["094 Bécsi utca 35"]),
    ("Tomonari Chouno lives at 527 Trg revolucije 33, Brezje", ["527 Trg revolucije 33"]),
    ("The restaurant is at 22967 Árpád fejedelem útja 45.", ["22967 Árpád fejedelem útja 45"]),
    # military addresses
    ("How do I change the address to USNV Barbosa\nFPO AE 36115?", ["USNV Barbosa\nFPO AE 36115"]),
    ("The restaurant is at 29405 P.O. Box 286", ["29405 P.O. Box 286"]),
])
def test_find_street_addresses_grows_the_street_line_by_what_belongs_to_it(text, addresses):
    assert values(text, find_street_addresses(text)) == addresses


@pytest.mark.parametrize(("text", "addresses"), [
    # in running text the block runs on to its country line (after an apartment line, town lines too)
    ("Please send it to 4410 Rua Inácio Luz 77\n Apt. 12\n Curitiba\n Brazil 80010",
     ["4410 Rua Inácio Luz 77\n Apt. 12\n Curitiba\n Brazil 80010"]),
    ("I'd like it sent to 3516 Kirkegata 21\n Suite 3\n HAMAR\n Norway for the winter.",
     ["3516 Kirkegata 21\n Suite 3\n HAMAR\n Norway"]),
    ("How do I change my address to 43180 Treinta y Tres 2070\n Suite 334\n Valentines\n Uruguay?",
     ["43180 Treinta y Tres 2070\n Suite 334\n Valentines\n Uruguay"]),
    ("Address:\n12 Kirkegata 5\n Suite 8\n Bergen\n Norway 5003", ["12 Kirkegata 5\n Suite 8\n Bergen\n Norway 5003"]),
    # the town of a one-line address, with its particles; USPS and Faker street types
    ("The office is at 11 Reyes Magos 75 Suite 9 Puerto de la Cruz Tenerife",
     ["11 Reyes Magos 75 Suite 9 Puerto de la Cruz Tenerife"]),
    ("Ship it to 77 Okafor Land, please.", ["77 Okafor Land"]),
    ("Ship it to 42486 Stensås terrasse 38 today", ["42486 Stensås terrasse 38"]),
    # where the block does not go on
    ("I live at 12 Baker Street\nFrance is lovely in spring.", ["12 Baker Street"]),  # a sentence, not a line
    ("We met at 12 Baker Street\nKind Regards\nGeorgia", ["12 Baker Street"]),  # English words, no postcode
    ("Write to Mrs. Ada Okafor at 77 Hill Road\nBoston MA 02110", ["77 Hill Road"]),  # a US locality: after a comma
    ("Emil Krbec\n\n1656 187 Lusk Place\n Apt. 494\n Richmond\n\n New Zealand 46591",
     ["1656 187 Lusk Place\n Apt. 494", "46591"]),  # a street line of its own, a blank line
])
def test_find_street_addresses_takes_the_town_and_country_lines_of_a_block(text, addresses):
    assert values(text, find_street_addresses(text)) == addresses


@pytest.mark.parametrize("text", [
    "Meeting on 12 March 2024 at noon",
    "Date: Tue, 03 Nov 2026 09:30:00 +0000",
    "See Guilty Pleasures: 5 Musicians Of The 70s You're Supposed To Hate",
    "Looking to support TechnipFMC plc in Ezzahra 2034 in its mission",  # a town and its postcode
    "The address of Phillips 66 Partners LP is unknown",
    "The meeting moved to room 4.12.",
    "   SUITE\n   else:\n       SUITE2",
    "It was sent via email to the team",
    "Miss Kasey Young\nSeattle WA 98101",  # a locality without a street
])
def test_dates_names_codes_and_towns_are_not_addresses(text):
    assert find_street_addresses(text) == []


def test_a_business_word_in_another_clause_does_not_hide_an_address(detector):
    text = "We'll meet Friday at Avt Natural Products Ltd, 893 Via Leopardi 83, Lirone"
    assert detected(detector, text, "STREET_ADDRESS") == ["893 Via Leopardi 83"]
    assert detected(detector, "Ship product 250 Main Street", "STREET_ADDRESS") == []  # the same clause


# --- driver's licences -----------------------------------------------------------------------

def test_a_licence_number_is_found_only_next_to_licence_words(detector):
    text = "driver's license number D1234567"
    assert values(text, find_driver_licences(text)) == ["D1234567"]
    assert detected(detector, text, "US_DRIVER_LICENSE") == ["D1234567"]
    for other in ("part D1234567", "D1234567", "Freezer D1234567 is full"):
        assert find_driver_licences(other) == []
        assert detected(detector, other, "US_DRIVER_LICENSE") == []


@pytest.mark.parametrize("licence", [
    "128753505592", "SMITHJA123B4", "K12-34-5678", "99ABC12345", "123AB4567", "12345678AB", "A123 456 789 012",
    "D123456789012345",
])
def test_the_shapes_states_issue_are_licences_next_to_licence_words(detector, licence):
    text = f"My driver's license number is {licence}"
    assert detected(detector, text, "US_DRIVER_LICENSE") == [licence]
    assert detected(detector, text, "CREDIT_CARD") == []  # a licence that passes the Luhn check is no card


def test_licence_words_take_no_fee_year_or_card_number(detector):
    for text in ("The license fee of 50000 is due", "The driver's license expires in 2025"):
        assert detected(detector, text, "US_DRIVER_LICENSE") == []
    text = "Pay by card 4111 1111 1111 1111, the driver will wait"
    assert detected(detector, text, "CREDIT_CARD") == ["4111 1111 1111 1111"]


# --- business identifiers survive ------------------------------------------------------------

IDENTIFIERS = [
    "order 4417-2291",
    "Order #A-88213",
    "ticket INC0012345",
    "SKU AB-12345-XL",
    "part no. 7731-0042",
    "BRCA1",
    "TP53",
    "CYP2D6",
    "v2.14.1",
    "metformin 500 mg",
    "invoice 2024-0042",
]


@pytest.mark.parametrize("template", ["{}", "We updated {} yesterday.", "Please check {} before Friday, thanks."])
@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_business_and_scientific_identifiers_are_not_pii(detector, identifier, template):
    text = template.format(identifier)
    start = text.index(identifier)
    end = start + len(identifier)
    [findings] = detector.detect([text])
    assert [f for f in findings if f.start < end and f.end > start] == []


def test_an_identifier_shaped_like_a_phone_is_a_phone_without_the_business_word(detector):
    # the recogniser alone sees a phone: it is the id_context that keeps the order number
    assert values("order 4417-2291", find_phone_numbers("order 4417-2291")) == ["4417-2291"]
    assert detected(detector, "call 4417-2291", "PHONE_NUMBER") == ["4417-2291"]


# --- small helpers ----------------------------------------------------------------------------

def test_has_context_looks_at_the_last_few_words_only():
    text = "please call me on 555"
    start = text.index("555")
    assert has_context(text, start, {"call"})
    assert not has_context(text, start, {"please"}, words=3)
    assert has_context("our orders 4417", len("our orders "), {"order"})  # plural of a cue
    assert has_context("Order #4417", len("Order #"), {"#"})
    assert not has_context("nothing here 4417", len("nothing here "), {"order"})


def test_find_denied_is_whole_word_case_insensitive_and_longest_first():
    text = "Project Nightingale Alpha, project nightingale, and Nightingales."
    found = find_denied(text, ["Project Nightingale", "Project Nightingale Alpha"])
    assert values(text, found) == ["Project Nightingale Alpha", "project nightingale"]
    assert {f.entity_type for f in found} == {"CUSTOM"}
    assert find_denied(text, []) == []
