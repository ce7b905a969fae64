"""Names read from the names beside them (set 8): pairs and lists in capitals, the speaker who talks to
a person, and what stands next to a name without being one (a role after a comma, the company or the
job under a contact block's name, a company named after its owner).

Every recogniser and the spaCy model run for real; each rule is shown with a text it catches and a
look-alike it must leave alone.
"""

from __future__ import annotations

import pytest

from ingest.pii.policy import RedactionPolicy
from ingest.pii.recognizers import Finding, find_names, person_span_parts, refine_people
from ingest.pii.recognizers.mentions import paired_subjects, signature_names, speakers_to_people
from ingest.pii.redact import PiiDetector


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(RedactionPolicy())


def detected(detector: PiiDetector, text: str, entity_type: str = "PERSON") -> list[str]:
    [findings] = detector.detect([text])
    return [text[f.start:f.end] for f in findings if f.entity_type == entity_type]


def values(text: str, findings: list[Finding]) -> list[str]:
    return [text[f.start:f.end] for f in findings]


def test_the_partner_of_a_person_who_starts_a_sentence_with_them_is_a_person_too():
    text = "Is there a better crafted pop song on this list? Kleist and Arnold were precision engineers."
    arnold = text.index("Arnold")
    model = [Finding(arnold, arnold + len("Arnold"), "PERSON", 0.85, "spacy-ner")]
    assert values(text, paired_subjects(text, known=model)) == ["Kleist", "Arnold"]
    # Without the model's person both are English words, and the pair stays (as "Notch and Wnt").
    assert paired_subjects(text) == []
    shouted = "IS THERE A BETTER CRAFTED POP SONG ON THIS LIST? COCCI AND RIOS WERE PRECISION ENGINEERS."
    assert values(shouted, paired_subjects(shouted)) == ["COCCI", "RIOS"]


def test_the_partner_of_a_word_the_model_took_for_a_person_but_no_known_name_is_left(detector):
    text = "Notch and Wnt were both expressed in the developing limb."
    wnt = text.index("Wnt")
    model = [Finding(wnt, wnt + len("Wnt"), "PERSON", 0.85, "spacy-ner")]  # as the model reads it
    assert paired_subjects(text, known=model) == []
    assert "Notch" not in detected(detector, text)
    assert detected(detector, "Sodium and Potassium were measured in every sample.") == []


def test_a_list_in_capitals_joined_by_and_is_a_list_of_names():
    text = "CHRYSLER IS THE BRAINCHILD OF OUR 3 FOUNDERS: NIKOLIĆ, FERGUSON AND SMITH."
    assert sorted(values(text, find_names(text))) == ["FERGUSON", "NIKOLIĆ", "SMITH"]
    minerals = "MEASURED: SODIUM, POTASSIUM AND CALCIUM."
    assert values(minerals, find_names(minerals)) == []


def test_a_role_after_a_name_and_a_comma_is_no_second_name_but_a_list_goes_on():
    text = "signed: jean-luc picard, captain"
    assert values(text, find_names(text)) == ["jean-luc picard"]
    listed = "we met stensby, parks and morse there"
    assert sorted(values(listed, find_names(listed))) == ["morse", "parks", "stensby"]


def test_whoever_speaks_to_a_person_is_a_person(detector):
    text = "I'm so jealous! said Calle to David"
    david = text.index("David")
    model = [Finding(david, david + len("David"), "PERSON", 0.85, "spacy-ner")]
    assert values(text, speakers_to_people(text, known=model)) == ["Calle"]
    assert detected(detector, text) == ["Calle", "David"]
    # In capitals "Said" is the verb, not the given name it also is.
    assert detected(detector, "I'M SO JEALOUS! SAID LEENA TO JOHN") == ["LEENA", "JOHN"]


def test_what_is_said_to_no_person_names_no_speaker(detector):
    assert speakers_to_people("The figures were explained Monday to Reuters.") == []
    assert speakers_to_people("and then he said goodbye to mary") == []
    assert detected(detector, "The figures were explained Monday to Reuters.") == []


def test_the_company_or_the_job_under_a_contact_block_s_name_is_no_person(detector):
    block = "Tara Nuncija\nVolkswagen Aktiengesellschaft\n0710 Luetzowplatz 90\nSuite 319\nGermany 44943"
    assert detected(detector, block) == ["Tara Nuncija"]
    resume = "ÁSLÁKUR VÍÐISSON\n\nELECTRICAL POWER LINE INSTALLER\n\nPERSONAL INFO:\nPHONE:\n770 341 004\n"
    assert values(resume, signature_names(resume, [])) == []
    assert detected(detector, resume) == ["ÁSLÁKUR VÍÐISSON"]
    # The name line that heads the block is still found by the line alone.
    head = "Bolethe Jeremiassen\nMajesco Ltd\n20066 65 R. Mongi Bali\nTunisia 5000"
    assert values(head, signature_names(head, [])) == ["Bolethe Jeremiassen"]


def test_a_company_named_after_its_owner_is_no_person(detector):
    block = "Samantha Roseby\nCasey's General Stores Inc.\n65671 Celso Emilio Ferreiro 23\nSpain 57880"
    assert detected(detector, block) == ["Samantha Roseby"]
    assert detected(detector, "Nicklas Olsen\nGraham Holdings Company\n308 106 Kate Edger Place\n") == [
        "Nicklas Olsen"]
    # An owner in a possessive before what no company has stays a person.
    assert "Esjar Sturluson" in detected(detector, "Esjar Sturluson's killers were sentenced to life in prison.")


def test_the_company_line_under_a_name_in_a_contact_block_is_no_person(detector):
    block = "??? Michal E. Horký\n??? Reed Elsevier\n??? 659 Algade 33\n??? Apt. 093\n??? Denmark 72864"
    assert detected(detector, block) == ["Michal E. Horký"]
    glued = "}}Scarlett Annear\n}}KATO WORKS CO.LTD.\n}}29937 65 Annfield Rd\n}}United Kingdom 63705"
    assert detected(detector, glued) == ["Scarlett Annear"]
    bracketed = "The winners: Elizabeth Landeka of Nath Bio-Genes (I) Ltd's, and Lynn Himmel."
    assert detected(detector, bracketed) == ["Elizabeth Landeka", "Lynn Himmel"]


def test_a_second_person_listed_under_the_first_in_a_contact_block_stays(detector):
    block = "Maria Gonzalez\nJohn Smith\n221 Baker Street\nphone: 020 7946 0018"
    assert detected(detector, block) == ["Maria Gonzalez", "John Smith"]


def test_an_english_word_right_after_a_possessive_is_what_is_owned_not_a_person():
    text = "(THOUGH BRANDT'S SONG WAS ACTUALLY ABOUT A BOAT!)"
    brandt, song = text.index("BRANDT"), text.index("SONG")
    model = [Finding(brandt, brandt + 6, "PERSON", 0.85, "spacy-ner"), Finding(song, song + 4, "PERSON", 0.85,
                                                                                "spacy-ner")]
    assert values(text, refine_people(text, model)) == ["BRANDT"]
    # A given name after a possessive stays a person, even when it is an English word too.
    kin = "It was Maria's Rose who called."
    rose = kin.index("Rose")
    assert values(kin, refine_people(kin, [Finding(rose, rose + 4, "PERSON", 0.85, "spacy-ner")])) == ["Rose"]


def test_a_greeting_is_no_part_of_the_name_the_model_reads_after_it():
    text = "Hi filip, I'm contacting you about a problem I have with sending a wire."
    assert person_span_parts(text, 0, text.index(",")) == [(3, 8)]
    # A name of two words after a greeting keeps both.
    dear = "Dear Hilde Svensson, thanks."
    assert [dear[s:e] for s, e in person_span_parts(dear, 0, dear.index(","))] == ["Hilde Svensson"]
