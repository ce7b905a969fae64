"""People found from the rest of the text (other mentions, possessives, contact blocks, dialogues,
descriptions), names with particles, address blocks read by their lines, and the NER windows.

Every recogniser and the spaCy model run for real; each behaviour is shown with a value that must be
found and with text (business identifiers, eponyms, headings, field lists) that must be left alone.
"""

from __future__ import annotations

import pytest

from ingest.pii.policy import RedactionPolicy
from ingest.pii.recognizers import Finding, find_names, find_street_addresses, name_lexicon
from ingest.pii.recognizers.mentions import (
    credited_names,
    described_people,
    dialogue_speakers,
    is_name_line,
    listed_given_names,
    paired_subjects,
    possessive_owners,
    repeated_mentions,
    wanting_subjects,
)
from ingest.pii.redact import PiiDetector, name_windows


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(RedactionPolicy())


def detected(detector: PiiDetector, text: str, entity_type: str) -> list[str]:
    [findings] = detector.detect([text])
    return [text[f.start:f.end] for f in findings if f.entity_type == entity_type]


def values(text: str, findings: list[Finding]) -> list[str]:
    return [text[f.start:f.end] for f in findings]


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name"), [
    ("My name is Willemine ten Pas.", "Willemine ten Pas"),
    ("It was arranged and sung by Frits van den Heuvel in 1986.", "Frits van den Heuvel"),
    ("ANSWER: TUBE SNAKE BOOGIE BY CHRISTIANE DE VAAN", "CHRISTIANE DE VAAN"),
    ("Milan Franc Košelnik lives at 43894 Na Výsluní 272, Primda", "Milan Franc Košelnik"),
])
def test_particles_and_third_words_continue_a_name(detector, text, name):
    assert name in detected(detector, text, "PERSON")


def test_names_in_a_list_are_one_each_and_a_contraction_is_no_part_of_a_name(detector):
    text = "They had 4: Stefan, Jeremy, James and Robert."
    assert detected(detector, text, "PERSON") == ["Stefan", "Jeremy", "James", "Robert"]
    assert detected(detector, 'Ariana:"I\'m Nicholas\'s daughter".', "PERSON")[-1] == "Nicholas"
    # The family-name-first reading stays for a pair alone.
    assert detected(detector, "the form was filled in by MÜLLER, STEFAN on monday", "PERSON") == ["MÜLLER, STEFAN"]


def test_a_greeting_names_a_given_name_that_is_a_word_too(detector):
    assert detected(detector, "Hi Felicity, I'm writing about my refund.", "PERSON") == ["Felicity"]
    text = "Hi team, order 4417-2291 ships today."
    [findings] = detector.detect([text])
    assert findings == []


def test_a_prefix_only_street_yields_to_the_name_after_a_name_label(detector):
    text = "Name:    Calle Norberg\nAddress:     0554 1585 Yonge St Apt. 315 Toronto ON"
    assert detected(detector, text, "PERSON") == ["Calle Norberg"]
    assert detected(detector, text, "STREET_ADDRESS") == ["0554 1585 Yonge St Apt. 315 Toronto ON"]


def test_the_name_lexicon_holds_every_locale_s_lists():
    lexicon = name_lexicon()
    assert {"piotrowski", "kowalczyk"} <= lexicon.last_names  # Polish: the unisex and male lists


@pytest.mark.parametrize(("text", "name"), [
    ("Have you been to a Klaudijo Kundid concert before?", "Klaudijo Kundid"),
    ("My great grandfather was called Racław Piotrowski, and my grandmother was called Kat Szalai.",
     "Racław Piotrowski"),
])
def test_two_capitalised_foreign_words_are_a_name(detector, text, name):
    assert name in detected(detector, text, "PERSON")


def test_two_foreign_words_in_a_heading_in_title_case_are_no_name():
    assert find_names("Klaudijo Kundid Regulates Nuclear Architecture\n\nWe studied the complex.") == []
    assert [f.score for f in find_names("We met Klaudijo Kundid today.")] == [0.6]  # the same pair in a sentence


# --- people from the rest of the text ---------------------------------------------------


def test_the_other_mentions_of_a_full_name_are_names_too(detector):
    text = ('It may be too that Marino was influenced by an earlier song, which was arranged and sung by '
            'Ofelia Marino in 2021.')
    assert detected(detector, text, "PERSON") == ["Marino", "Ofelia Marino"]
    people = [Finding(text.index("Ofelia"), text.index(" in 2021"), "PERSON", 0.85, "test")]
    assert values(text, repeated_mentions(text, people)) == ["Marino"]


def test_a_part_of_a_name_that_is_a_word_echoes_only_where_capitalised():
    text = "Zoe Young sang it. A young singer covered it; Young herself approved."
    people = [Finding(0, 9, "PERSON", 0.85, "test")]
    assert values(text, repeated_mentions(text, people)) == ["Young"]
    assert repeated_mentions(text, [Finding(4, 9, "PERSON", 0.85, "test")]) == []  # one word seeds nothing


def test_the_owner_in_a_possessive_is_a_name_but_an_eponym_is_not(detector):
    assert detected(detector, "Esjar Sturluson's killers sentenced to life in prison", "PERSON") == ["Esjar Sturluson"]
    text = "Patients with Alzheimer's disease and Parkinson's disease were enrolled; Student's t-test was used."
    assert possessive_owners(text) == []
    assert detected(detector, text, "PERSON") == []


def test_the_name_heading_a_contact_block_is_a_person(detector):
    text = "Bolethe Jeremiassen\nMajesco\n20066 65 R. Mongi Bali Suite 299 Dhouibette Tunisia\n795 2525 office\n"
    assert detected(detector, text, "PERSON") == ["Bolethe Jeremiassen"]
    assert detected(detector, "platt sauvé\n\nMezôcsát\nHungary", "PERSON") == ["platt sauvé"]


def test_towns_and_drugs_in_prose_are_no_people(detector):
    text = ("Transmission among men in San Francisco, Calif, and in Los Angeles was studied; "
            "bortezomib was given metastatically to 12 patients.")
    assert detected(detector, text, "PERSON") == []


def test_a_department_heading_a_contact_block_is_no_person(detector):
    text = "Customer Service\nAcme Widgets Ltd\n+1 (617) 555-0199\nsupport@example.com"
    assert detected(detector, text, "PERSON") == []
    assert not is_name_line("Customer Service") and is_name_line("Maha A Cazares")


def test_the_speakers_of_a_dialogue_are_people_but_field_labels_are_not():
    text = "nehemias: What a wife.\nyolanda: Remember me? When I killed your brother.\nmichael: You saved my life!"
    assert values(text, dialogue_speakers(text)) == ["nehemias", "yolanda", "michael"]
    fields = "msg: The unformatted error message\npos: The start index of doc\nlineno: The line"
    assert dialogue_speakers(fields) == []


def test_someone_described_and_then_called_he_she_or_they_is_a_person(detector):
    assert detected(detector, "Aleesha is very reliable. You can always depend on him.", "PERSON") == ["Aleesha"]
    text = "karen is a very sympathetic person. They are also good listeners."
    assert values(text, described_people(text)) == ["karen"]
    assert described_people("The model is very accurate. It was trained by them on 4417-2291.") == []


@pytest.mark.parametrize(("text", "names"), [
    ("Unlike the Nygaard novel, it's not about that.", ["Nygaard"]),
    ("Have you been to a veljko ivančić concert before?", ["veljko ivančić"]),
    ("The lionella colombo version recorded for Artsnet", ["lionella colombo"]),
    ("YOU CAN TELL HE WAS A HUGE SONOKA MIKI FAN.", ["SONOKA MIKI"]),
    ("Have you been to a amber watson concert before?", ["amber watson"]),  # a given name that is a word too
])
def test_the_name_a_work_or_a_fan_is_credited_to_is_a_person(detector, text, names):
    assert values(text, credited_names(text)) == names
    assert detected(detector, text, "PERSON") == names


def test_words_before_a_work_that_are_english_acronyms_or_compounds_are_no_name():
    text = ("We used the English version of the four-category scale, the BBC version of the film, "
            "the new version of the Beck book and the amber version of the album.")
    assert credited_names(text) == []


def test_a_given_name_that_is_a_word_too_is_a_name_after_the_question_for_one(detector):
    assert detected(detector, "What's your name? amber tisserand", "PERSON") == ["amber tisserand"]
    assert detected(detector, "What is the amber alert? amber lights flashed.", "PERSON") == []


@pytest.mark.parametrize(("text", "name"), [
    ("My great great grandfather was called zorislav ivanković", "zorislav ivanković"),
    ("Consort Medical plc songwriter yuuka shimasaki employs corporate lingo", "yuuka shimasaki"),
    ("have you heard marsilius chenard speak yet?", "marsilius chenard"),
    ("It's under my partner's name teruyoshi miyoshi", "teruyoshi miyoshi"),
    ("I would like to remove my kid crisipo from the will.", "crisipo"),
    ("The true gender of Kameta has been under debate for years", "Kameta"),
    ("Producer Rasmus Katajisto explained to Fuse TV", "Rasmus Katajisto"),
    ("as regular RR commenter lucas m. salsbury points out", "lucas m. salsbury"),
])
def test_kin_roles_and_verbs_of_hearing_and_naming_announce_a_name(detector, text, name):
    assert detected(detector, text, "PERSON") == [name]


def test_kin_words_and_roles_in_prose_announce_no_name(detector):
    text = ("The leading daughter strand is extended by the polymerase; the son of a farmer, he was called "
            "to the bar. The director of the unit heard the case.")
    assert detected(detector, text, "PERSON") == []


def test_a_full_name_with_a_middle_initial_seeds_its_other_mentions(detector):
    text = "You can tell Gyala was a huge Gyala Z Antall fan."
    assert detected(detector, text, "PERSON") == ["Gyala", "Gyala Z Antall"]
    text = "The Synapsin I Cre line drove Cre expression."
    assert repeated_mentions(text, [Finding(4, 18, "PERSON", 0.65, "test")]) == []  # "I" is a word


def test_two_names_that_start_a_sentence_together_are_people(detector):
    text = "Is there a better song on this list? Crowder and Knight were precision engineers."
    assert values(text, paired_subjects(text)) == ["Crowder", "Knight"]
    assert detected(detector, text, "PERSON") == ["Crowder", "Knight"]
    text = "is there a better song? pyysalo and curry were precision engineers."
    assert values(text, paired_subjects(text)) == ["pyysalo", "curry"]
    # English words both, or no known name: genes, metals, signalling pathways.
    assert paired_subjects("Notch and Wnt were active. Akt and Erk were phosphorylated. Nickel and Zinc were "
                           "added. Smad2 and Smad3 were bound.") == []


@pytest.mark.parametrize(("text", "name"), [
    ("This song by ex-Zombie Himmel is a perfect example", "Himmel"),
    ("this song by ex-Zombie akhtakhanov is a perfect example", "akhtakhanov"),
    ("Why is Armen so impulsive?", "Armen"),
    ("why is yuzuna so impulsive?", "yuzuna"),
    ("sung by anja fuchs in 2016 (though clark's song was about a boat!).", "clark"),
    ("bolethe jeremiassen's killers sentenced to life in prison", "bolethe jeremiassen"),
    ("giovana is very reliable. You can always depend on him.", "giovana"),
])
def test_a_former_member_someone_asked_about_and_owners_in_lower_case_are_people(detector, text, name):
    assert name in detected(detector, text, "PERSON")


def test_former_states_questions_about_codes_and_owners_of_cells_are_no_people(detector):
    text = ("Ex-smokers and ex-users were enrolled. Why is NF-kB so important? The host's mother cells and "
            "the virus's father strain; the model's song. The kinase is very active. It binds them.")
    assert detected(detector, text, "PERSON") == []


def test_whoever_has_to_or_wants_to_after_a_conjunction_is_a_person(detector):
    text = "He's injured from the waist down, but Duqyaha just has to get laid. Don't go to town, Eric!"
    assert values(text, wanting_subjects(text)) == ["Duqyaha"]
    assert detected(detector, text, "PERSON") == ["Duqyaha", "Eric"]
    assert wanting_subjects("The dose was low, but it has to be raised, and Treatment needs to start; so "
                            "ROS has to be scavenged.") == []


def test_a_list_mostly_of_given_names_is_a_list_of_people(detector):
    text = "They had 6: vuk, daniel, maria, christopher, mark and erica."
    assert values(text, listed_given_names(text)) == ["vuk", "daniel", "maria", "christopher", "mark", "erica"]
    assert detected(detector, text, "PERSON") == ["vuk", "daniel", "maria", "christopher", "mark", "erica"]
    assert listed_given_names("Symptoms: nausea, vomiting, fatigue, rash and fever; miR-125a, miR-21, miR-155 "
                              "and miR-9 were found, as were rose, lily, ivy and daisy.") == []


# --- address blocks ---------------------------------------------------------------------


def test_a_block_under_a_company_is_one_address_through_its_postcode(detector):
    text = "Fuji Nihon Seito Corporation\n\n88072 79 Wolfe Street\n Apt. 222\n Marybank\n New Zealand 62562"
    assert detected(detector, text, "STREET_ADDRESS") == [text[text.index("88072"):]]


def test_a_block_under_a_person_keeps_its_town_and_country_lines_apart(detector):
    text = "Eric Powell\n\n2888 1737 Cheriton Dr\n Apt. 817\n Hibberdene\n\n South Africa 90411"
    assert detected(detector, text, "STREET_ADDRESS") == ["2888 1737 Cheriton Dr\n Apt. 817", "90411"]


def test_the_postcode_after_a_numbered_town_line_is_redacted(detector):
    text = "Johannes Varvio\n\n0764 Pardubská 49\n Apt. 656\n Valašské Mezirící 1\n Czech Republic 42042\n"
    assert "42042" in detected(detector, text, "STREET_ADDRESS")


@pytest.mark.parametrize("text", [
    "903 23 Ano Vouves\n Apt. 294\n Avdimou\n Cyprus 50259",
    "}} 515 ul. Reja Mikołaja 44\n}} Apt. 448\n}} Warszawa/Wesoła\n}} Poland 50259",
    "??? 213 176 Akti Pagalou\n??? Suite 377\n??? Strovolos\n??? Cyprus 50259",
])
def test_the_postcode_that_ends_a_block_under_an_apartment_line_is_redacted(text):
    assert "50259" in values(text, find_street_addresses(text))


def test_a_number_under_an_apartment_line_that_ends_no_country_line_is_kept():
    text = "Suite 200 holds the lab.\nMeasured\nSamples 50259 in total"
    assert not any("50259" in value for value in values(text, find_street_addresses(text)))
    report = "Unit 4 failed.\nRun 12\nBatch 50259\n"
    assert not any("50259" in value for value in values(report, find_street_addresses(report)))


@pytest.mark.parametrize(("text", "address"), [
    ("I now live in 142 Fibichova 450 Apt. 974 Melník 1 Hlavní mesto Praha",
     "142 Fibichova 450 Apt. 974 Melník 1 Hlavní mesto Praha"),
    ("What is your address? it is 1281 Bartákova 437\nCite Bouslama\n, 21\n 66548",
     "1281 Bartákova 437\nCite Bouslama\n, 21\n 66548"),
    ("Please update my new address to 69059 15 Clasper Way\nla Pobla Tornesa, CS 91554",
     "69059 15 Clasper Way\nla Pobla Tornesa, CS 91554"),
    ("The restaurant is located at 020 Letališka 72\n Apt. 460\n Hajdina\n Slovenia. It serves great food.",
     "020 Letališka 72\n Apt. 460\n Hajdina\n Slovenia"),
    ("Meet me at Mäe 47 Frederikke Greens\n Suite 950\n Aruküla\n Estonia 63894",
     "Mäe 47 Frederikke Greens\n Suite 950\n Aruküla\n Estonia 63894"),
    ("Can you please validate the following? Kondrat and ul. Biskupa Bogedaina 118",
     "Kondrat and ul. Biskupa Bogedaina 118"),
])
def test_address_tails_towns_and_street_names_outside_the_us_shape(text, address):
    assert address in values(text, find_street_addresses(text))


def test_a_title_or_an_apartment_before_a_numbered_street_is_no_street_name():
    text = "Mrs. Vickie Friedman Suite 929 81003 Võsa 99\nJõhvi IV 41597"
    assert not any("Vickie" in value for value in values(text, find_street_addresses(text)))


def test_codes_beside_addresses_and_names_are_kept(detector):
    text = ("Order 4417-2291 for Bolethe Jeremiassen ships to 221B Baker Street, London; ticket INC0012345, "
            "SKU AB-12345-XL.")
    [findings] = detector.detect([text])
    found = values(text, findings)
    assert "221B Baker Street" in found and "Bolethe Jeremiassen" in found
    for code in ("4417-2291", "INC0012345", "AB-12345-XL"):
        assert not any(code in value for value in found)


# --- what the model reads ---------------------------------------------------------------


def test_the_model_reads_around_capitalised_words_only_outside_settled_spans():
    text = ("order 4417 was paid by card 4111 1111 1111 1111 and shipped on a slow truck across many miles of road "
            "before it reached Anna Kowalczyk at the depot. Her office is at 12 Main Street.")
    pieces = list(name_windows(text))
    assert all(text[offset:offset + len(piece)] == piece for offset, piece in pieces)
    assert any("Anna Kowalczyk" in piece for _, piece in pieces)
    assert not any("4111" in piece for _, piece in pieces)  # too far from any capitalised word
    street = text.index("12 Main Street")
    skipped = list(name_windows(text, skip=[(street, street + len("12 Main Street"))]))
    assert not any("Main Street" in piece and "Anna" not in piece for _, piece in skipped)
