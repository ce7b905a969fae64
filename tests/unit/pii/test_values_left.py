"""Values a redaction left before set 9, each with a look-alike it must keep: house numbers before a
street name read as a person, an address block's lines under an apartment line, street words of more
languages, the other mentions of a name found in lower case, and names beside cues in capitals, after a
question or after "me". Then those left before set 10: crossings led by a given name, postal tails in a
list of addresses, streets named after a date, a region's word, and people by the part only a person plays.
Then those left before set 11: the rest of a name found in part (a family name that is a word, a given name
before an initial, a family name after particles) and a street line's second number.

Every recogniser and the spaCy model run for real; the values are synthetic.
"""

from __future__ import annotations

import pytest

from ingest.pii.policy import RedactionPolicy
from ingest.pii.recognizers import Finding, find_names, find_street_addresses
from ingest.pii.recognizers.mentions import repeated_mentions
from ingest.pii.redact import PiiDetector


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(RedactionPolicy())


def detected(detector: PiiDetector, text: str, entity_type: str) -> list[str]:
    [findings] = detector.detect([text])
    return [text[f.start:f.end] for f in findings if f.entity_type == entity_type]


def values(text: str, findings: list[Finding]) -> list[str]:
    return [text[f.start:f.end] for f in findings]


def covered(detector: PiiDetector, text: str, value: str) -> bool:
    """Whether one detected span (of any type) holds `value` whole."""
    [findings] = detector.detect([text])
    start = text.index(value)
    return any(f.start <= start and start + len(value) <= f.end for f in findings)


# --- addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "address"), [
    ("Mrs. Irena Kovač Apt. 318 704 61 Odos Pelopida\nKorinthos KO 5521", "704 61 Odos Pelopida"),
    ("??? Tamas Orosz\n??? 915 208 Lefka Ori\n??? Suite 230\n??? Paphos\n??? Cyprus 40551", "915 208 Lefka Ori"),
    ("Here they are: 6631 17 Pano Zodeia\nKyrenia, KY 30871", "6631 17 Pano Zodeia\nKyrenia, KY 30871"),
])
def test_a_house_and_a_building_number_before_a_street_name_are_one_address(detector, text, address):
    assert any(address in value for value in detected(detector, text, "STREET_ADDRESS"))
    assert not any(value in address for value in detected(detector, text, "PERSON"))


def test_numbers_before_a_name_in_a_sentence_are_no_street():
    for text in ("We counted 2019 12 Marie Curie\n", "The results in table 3 2 Figure\n",
                 "In 2019 12 Marie Curie\n"):
        assert find_street_addresses(text) == [], text


def test_the_greek_kilometre_word_names_the_road_after_it(detector):
    text = ("Name:    Eleni Markou\nAddress:     48210 χλμ Λαμίας Αθηνών 112\n Apt. 604\n ΛΕΜΕΣΟΣ\n"
            " Cyprus (Greek)")
    assert detected(detector, text, "STREET_ADDRESS") == [text[text.index("48210"):]]
    assert find_street_addresses("Η διαδρομή είναι 40 χλμ συνολικά.") == []


def test_the_last_line_under_an_apartment_and_a_town_line_is_the_country():
    text = "User: 4410 P.O. Box 77\n Suite 208\n Qasigiannguit\n Kalaallisut"
    assert values(text, find_street_addresses(text)) == [text[text.index("4410"):]]
    # An English word that ends the text is no country: "Thanks" stays.
    letter = "Meet me at 12 Baker Street\n Apt. 5\n Springfield\n Thanks"
    assert values(letter, find_street_addresses(letter)) == ["12 Baker Street\n Apt. 5"]


def test_a_quoted_street_read_in_part_runs_through_its_apartment_town_and_country_lines():
    text = "Meet me at 6120 84 Rue Sidi Bou said\n Suite 410\n Mahdia\n Tunisia 51234"
    assert values(text, find_street_addresses(text)) == [text[text.index("6120"):]]
    # A street line of its own (under a person's name) keeps its block's town and country lines apart.
    block = "Louise Danielsen\n\n128 Postbox 115 Hey\n Suite 923\n Narsarsuaq\n Greenland 12345"
    assert not any("Narsarsuaq" in value for value in values(block, find_street_addresses(block)))


@pytest.mark.parametrize(("text", "address"), [
    ("4111 Belgrád rkp. 18.\n Suite 723", "4111 Belgrád rkp. 18.\n Suite 723"),
    ("It's in the corner of Lepa tee 12 and Pargi Garden", "Lepa tee 12 and Pargi Garden"),
    ("Address:\n168 Ditscheinergasse 38, ∆ΑΛΙ, Cyprus (Greek).",
     "168 Ditscheinergasse 38, ∆ΑΛΙ, Cyprus (Greek)"),
    ("Here: 78485 Teréz krt. 28. Suite 466, Kaplice 1, Czech Republic", "78485 Teréz krt. 28. Suite 466, Kaplice 1, "
                                                                       "Czech Republic"),
    # set 11: a second number that ends a street line is the building's
    ("Akaho Yokoi\n}} 3434 Quadra Quadra 073 1339\n}} Apt. 533", "3434 Quadra Quadra 073 1339\n}} Apt. 533"),
    ("Can you please validate the following? 491 Strada Provinciale 65 22\n Suite 831\n Bergamo\n Italy",
     "491 Strada Provinciale 65 22\n Suite 831\n Bergamo\n Italy"),
    # the house number before a street named with initials
    ("Karel had given Karel his address: 5779 P.G. Otterweg 38, Gersloot", "5779 P.G. Otterweg 38"),
    # a word in lower case after the street name's article
    ("Ask the driver to stop at the corner of Avda. Los llanos 41 St. and Oline Track St.",
     "Avda. Los llanos 41 St. and Oline Track St"),
])
def test_street_words_and_towns_of_more_languages(text, address):
    assert address in values(text, find_street_addresses(text))


def test_an_english_tee_or_a_delta_in_prose_is_no_street():
    text = "The reaction at 37 C gave ∆G 12 and the golf tee 10 was lost."
    assert find_street_addresses(text) == []


# --- names ------------------------------------------------------------------------------


def test_the_other_mentions_of_a_lower_case_name_are_redacted(detector):
    text = "You can tell vorin was a huge vorin denisov fan. Written when he was 63."
    assert detected(detector, text, "PERSON") == ["vorin", "vorin denisov"]
    assert not covered(detector, text, "huge") and not covered(detector, text, "fan")


def test_lower_case_words_the_lexicon_alone_read_as_a_name_seed_nothing():
    text = "Overexpression of arginase I was limiting; overexpress arginase in cells raised arginase levels."
    seed = text.index("overexpress arginase")
    people = [Finding(seed, seed + len("overexpress arginase"), "PERSON", 0.6, "name-lexicon")]
    assert repeated_mentions(text, people) == []


def test_a_given_name_that_is_a_word_heads_a_name_whose_other_mentions_are_redacted(detector):
    text = "Grant spent a year at Nordex Holdings as the assistant to Grant Halvorsen, an engineer."
    assert "Grant" in detected(detector, text, "PERSON")
    # Written otherwise it is a word: "a grant".
    other = "They won a grant to study with Grant Halvorsen."
    assert not covered(detector, other, "grant to")
    assert all(value != "grant" for value in detected(detector, other, "PERSON"))


def test_two_foreign_words_after_a_weak_cue_on_a_line_in_capitals(detector):
    text = "GENRE: DRAMA, COMEDY, KIDS & FAMILY\nDIRECTED BY:    VUKAN PETRIČEK"
    assert detected(detector, text, "PERSON") == ["VUKAN PETRIČEK"]
    assert detected(detector, "Cells were stained BY FACS GATING and counted by ELISA ASSAY.", "PERSON") == []


def test_a_name_after_a_question_on_a_dialogue_line_is_no_heading(detector):
    text = "Bot: What's the name on the account? User: Ozrenko Vadlani"
    assert detected(detector, text, "PERSON") == ["Ozrenko Vadlani"]
    heading = "Polycomb Orthologs Regulate Nuclear Architecture"
    assert find_names(heading) == []


def test_a_given_name_that_is_a_word_asked_at_the_start_of_a_line(detector):
    assert detected(detector, "Grace, can I please speak to your boss?", "PERSON") == ["Grace"]
    assert detected(detector, "Gold, can we trust it?", "PERSON") == []


def test_someone_addressed_after_me_and_before_a_comma(detector):
    text = 'sing it with me: "You picked a fine time to leave me dorvaltin, four hungry children"'
    assert detected(detector, text, "PERSON") == ["dorvaltin"]
    assert detected(detector, "Please leave me alone, thanks. Tell me more, I said.", "PERSON") == []


@pytest.mark.parametrize(("text", "name"), [
    ("Why is Grant so impulsive?", "Grant"),
    ("why is grant so impulsive?", "grant"),
    ('hakon shouted at heather: "What are you doing here?"', "heather"),
])
def test_a_given_name_that_is_a_word_after_a_cue_that_addresses_or_asks_about_someone(detector, text, name):
    assert name in detected(detector, text, "PERSON")


def test_a_word_after_the_cue_that_neither_addresses_nor_asks_about_anyone_stays(detector):
    assert detected(detector, "Why is grant funding so scarce?", "PERSON") == []


# --- set 10: addresses ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "address", "kept"), [
    # a crossing led by a given name
    ("What is your address? it is Vesna and Kjelsåsfaret 104", "Vesna and Kjelsåsfaret 104", "it is"),
    ("I'd like to call a taxi to Ludmila and Bjarkarhóli 17. Please call me when you're here.",
     "Ludmila and Bjarkarhóli 17", "Please"),
    ("Ivana Horvat\nNordex Holdings PLC\nVelimir and Vinohradská 61", "Velimir and Vinohradská 61", "Nordex"),
    ("How do I change my address to Marta Ana and Solbakken 12 for post mail?", "Marta Ana and Solbakken 12",
     "post mail"),
    # a postal tail in a list of addresses; a town with a number in its name; a Greek delta written as a sign
    ("here they are: 40512 Husova 1732 Apt. 95, Libčany, Czech Republic 60225, and PSC 0075, Box 3292",
     "40512 Husova 1732 Apt. 95, Libčany, Czech Republic 60225", "here they are"),
    ("here they are: 508 Costanera 9293, Athol, United States, and 12 Baker Street", "508 Costanera 9293, Athol, "
     "United States", "here they are"),
    ("Take a taxi to 7382 73 Emily Place Suite 110, Cite 22 Janvier, Tunisia. Please call me when you're here.",
     "7382 73 Emily Place Suite 110, Cite 22 Janvier, Tunisia", "Please"),
    ("I once lived in 68142 167 King Alexander Apt. 837, ΑΓΙΟΣ ΘΕΟ∆ΩΡΟΣ, Cyprus (Greek) 89480. Now I live here.",
     "68142 167 King Alexander Apt. 837, ΑΓΙΟΣ ΘΕΟ∆ΩΡΟΣ, Cyprus (Greek) 89480", "Now I live"),
    # a street named after a date; a region's word in lower case after the town
    ("Olav Berg lives at 329 14 Rue 9 Avril 1938, Tamazout", "329 14 Rue 9 Avril 1938", "lives at"),
    ("Please send it to 45991 Tyršova 1808 Suite 863 Plánice Plzenský kraj. Please call me when you're here.",
     "45991 Tyršova 1808 Suite 863 Plánice Plzenský kraj", "Please call"),
    # town lines of five words or with a district's number, a country line that ends a sentence, a block under
    # a company line whose legal form is "Company" or glued to its name
    ("The letter arrived at 20070 88 Rue Ibn Khaldoun\n Suite 789\n Cite Mongi Slim 2\n Tunisia 68034 last night.",
     "20070 88 Rue Ibn Khaldoun\n Suite 789\n Cite Mongi Slim 2\n Tunisia 68034", "last night"),
    ("The address of Nordex LP is 93726 14 Rue Aghlab\n Suite 917\n Cite Bain Maure Ben Azouz\n Tunisia 61696",
     "93726 14 Rue Aghlab\n Suite 917\n Cite Bain Maure Ben Azouz\n Tunisia 61696", "Nordex"),
    ("They are at 21927 Rue du Commerce 429\nCite Ezzitoun 2\n, 12\n Tunisia 64762", "21927 Rue du Commerce 429\n"
     "Cite Ezzitoun 2\n, 12\n Tunisia 64762", "They are"),
    ("please send a new one to 284 Postbox 108\n Suite 144\n Narsaq\n Kalaallisut? I am in ASKER for a trip",
     "284 Postbox 108\n Suite 144\n Narsaq\n Kalaallisut", "I am in"),
    ("Allan Björk\nNordic Railway Company\n97328 Kraavi 28\n Apt. 118\n Tammiku\n Estonia\n0688 843 79 56 office",
     "97328 Kraavi 28\n Apt. 118\n Tammiku\n Estonia", "office"),
    ("Kosara Reišl\nFreakOut Holdingsinc.\n330 Woudtzicht 1\n Apt. 787\n Schipluiden\n Netherlands 48190",
     "330 Woudtzicht 1\n Apt. 787\n Schipluiden\n Netherlands 48190", "FreakOut"),
])
def test_an_address_is_read_whole_and_the_words_beside_it_kept(detector, text, address, kept):
    assert address in detected(detector, text, "STREET_ADDRESS")
    assert not any(value in address for value in detected(detector, text, "PERSON"))
    assert not covered(detector, text, kept)


@pytest.mark.parametrize("text", [
    "Notch and Wnt 3 were expressed in the cells.",  # no given name leads the "crossing"
    "Phillips 66 Partners and Shell 12 Holdings.",
    "The meeting of 12 March 2024 moved to Rue 9 Avril because of rain.",  # a date with no house number
    "Meet me at 12 Baker Street\n Apt. 5\n Springfield\n Thanks. See you.",  # English ends no block
])
def test_look_alikes_of_the_new_address_shapes_are_no_address(text):
    assert not any("Thanks" in value or "Avril" in value or "Wnt" in value or "Shell" in value
                   for value in values(text, find_street_addresses(text)))


# --- set 10: people by the part only a person plays -------------------------------------


@pytest.mark.parametrize(("text", "name", "kept"), [
    # whose address is handed on; kin and whoever is given something of their own, a given name that is a word
    ("As promised, here's Bekmurat's address:\n\n189 107 Rue Abdelaziz Thâalbi Apt. 410\nPaulista", "Bekmurat",
     "As promised"),
    ('Lucinda: "Who are you?"\nLucinda:"I\'m Autumn\'s daughter".', "Autumn", "daughter"),
    ("Brian had given Amber his address: 3292 Dašická 855", "Amber", "address"),
    # someone quoted with their job between commas; a person of an organisation, in lower case
    ('arcadio cerda, the Field sales supervisor, said: "I\'m glad to hear that"', "arcadio cerda",
     "Field sales supervisor"),
    ("Nordex Holdings Inc., and MEIHO ENTERPRISE CO.LTD.'s shintarou yamaki.", "shintarou yamaki", "Holdings"),
    ("maria gustavsen of Eaton Vance Fund's, yuuka shigemori of ProShares UltraPro, and others", "yuuka shigemori",
     "ProShares"),
    # a name line over a spaced résumé head; a given name that is a word, a middle initial, a family name
    ("dorian akkerhuis\n\nBridge and lock tender\n\nPersonal Info:\nPhone:\n646 138 343\n", "dorian akkerhuis",
     "Bridge and lock tender"),
    ("It's under my partner's name mark d. wilson", "mark d. wilson", "partner"),
    # a job before a name the model reads as one organisation with it; someone's former band before the name
    ('Producer Sølve Egede explained to Fuse TV: "We all liked the idea"', "Sølve Egede", "Producer"),
    ("This song by ex-Zombie Høgberg is a perfect example", "Høgberg", "This song"),
    ("It was written by novelist rasmussen in 1990.", "rasmussen", "written"),
    # a name the model reads as a firm with the next name of a list ("Petersson, Crane"); a given name that is
    # a word, in lower case, before a family name, as a person of an organisation
    ("It is the brainchild of our 3 founders: Petersson, Crane and Moore.  The idea was born on a beach.",
     "Petersson", "brainchild"),
    ("GOLD ETF's mac sinclair, holly gordon of Sparton Corporation, and others", "holly gordon", "Sparton"),
    # set 11: the rest of a name found in part: a family name that is an English word after a given name
    # found alone, in the name's case
    ("The name in the account is not correct, please change it to Moira Pagan", "Moira Pagan", "change"),
    ("Sundown is a 1985 Danish comedy directed by Marius Bang and starring Bang", "Marius Bang", "starring"),
    ("COULD YOU PLEASE CORRECT IT TO MRS. KELLY GENOVESE?", "KELLY GENOVESE", "CORRECT"),
    # a given name before a middle initial and a family name, though the given name is a word
    ("Will my account stay active? It's under my partner's name Tosh N Brandt", "Tosh N Brandt", "partner"),
    ("It is a 2006 Italian film directed by Primo A Schiavone and starring Schiavone", "Primo A Schiavone",
     "directed"),
    ("ginger e. kamps lives at 0740 Holtagata 91, Drangsnes", "ginger e. kamps", "lives"),
    # a family name after particles, though a word ("Rest", "Cane"), or after a span that ends on a particle
    ("Unfortunately, as regular RR commenter Jaydee van der Rest points out, most are bad.", "Jaydee van der Rest",
     "points"),
    ("Xavier Du Cane lives at 028 Bygget 64, ANNERSTAD", "Xavier Du Cane", "lives"),
    ("KIDS & FAMILY, MYSTERY & SUSPENSE\nDIRECTED BY:    CINTHIA VAN LINT", "CINTHIA VAN LINT", "SUSPENSE"),
    ("MAYBE IT'S UNDER TOSH N BRANDT", "TOSH N BRANDT", "UNDER"),
    # a town's name as the partner of a name the model reads as a person
    ("Is there a better crafted pop song on this list? Lynge and Hernandez were precision engineers.", "Lynge",
     "precision engineers"),
    # a given name that is a word, then a family name of the lists, after "by" or a job; its other mentions
    ('It may be too that buchanan was influenced by a song, which was sung by daisy buchanan in 1971.', "buchanan",
     "influenced"),
    ("The Border Force have detained top-flight tennis player amber melo over visa disputes.", "amber melo",
     "visa"),
    ("A 1985 Danish comedy directed by Marius Bang and starring Bang", "Bang", "starring"),
    # a given name that is a word too, capitalised, wanting something after a conjunction
    ("He's injured from the waist down from Cyprus, but Grace just has to get laid.", "Grace", "injured"),
    # whose early work a question compares
    ("Is there a better example of unbridled creativity than early kadyrov?", "kadyrov", "creativity"),
])
def test_a_person_by_a_part_only_a_person_plays_or_found_in_part_and_the_words_beside_kept(detector, text, name, kept):
    assert name in detected(detector, text, "PERSON")
    assert not covered(detector, text, kept)


@pytest.mark.parametrize("text", [
    "Supplier's address:\n\n12 Baker Street",  # an English word owns the address
    "Autumn is a season. The amber light was on.",  # given names that are words, in no person's part
    "We measured the expression of Notch, and cell growth of HeLa lines.",
    "the level of vitamin d. wilson measured",  # no given name before the initial
    "The ex-Pfizer CEO said so. An ex-Member State left.",
    "The amber's glow of the lamp, the holly of the garden.",  # no family name after the word
])
def test_look_alikes_of_a_persons_part_are_no_person(detector, text):
    assert detected(detector, text, "PERSON") == []


def test_names_inside_a_place_the_model_reads_stay_its_words(detector):
    # "Carolina" is a given name listed after "North", but inside "North Carolina", a place, it is no person.
    text = "The study recruited women in the Raleigh-Durham, North Carolina, area."
    assert "Carolina" not in detected(detector, text, "PERSON")


# --- set 11: what stands beside a name and stays no part of it --------------------------------------


@pytest.mark.parametrize(("text", "word"), [
    ("Effect of Maltose on the Leavening Ability of Baker's Yeast in Lean Dough.\n\nMaltose metabolism", "Dough"),
    ("The study recruited women in the Raleigh-Durham, North Carolina, area.", "Carolina"),
    ("The contract was finally done by Lisa Signed.", "Signed"),  # a verb's form
    ("Disclosures A. Khalil reports grants from the agency.", "Disclosures"),  # an initial with a full stop
    ("Is there a better song on this list? Norway and Hernandez were engineers.", "Norway"),  # a country
    ("The enzyme reverse-transcribes an RNA template to add short DNA repeats to the ends.", "short"),  # no agent
    ("Payton Rous found what would come to be called Rous sarcoma virus.", "sarcoma"),  # an eponym's mention
    ("Does it happen in early endosomes? It is less clear than early apoptosis!", "endosomes"),  # no comparison
])
def test_a_word_beside_a_name_is_no_part_of_it_in_a_heading_a_place_or_as_a_verb(detector, text, word):
    assert not any(word in value for value in detected(detector, text, "PERSON"))
    if word == "sarcoma":  # the eponym's own word is no mention of the person either
        assert detected(detector, text, "PERSON") == ["Payton Rous"]


def test_a_number_after_a_street_in_a_sentence_stays():
    text = "Take 491 Strada Provinciale 65 22 times a day, then 12 Baker Street 5 more."
    assert not any("22" in value or "5 more" in value for value in values(text, find_street_addresses(text)))
    # nor does an English word after an article without a number after it
    prose = "They walked along Avda. Los llanos de la ciudad today."
    assert not any("llanos" in value for value in values(prose, find_street_addresses(prose)))
