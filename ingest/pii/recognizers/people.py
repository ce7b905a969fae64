"""Checks of the spans taken for people: a filter for the spans spaCy's model tags as people
(`person_span_parts`), and one for every person found (`refine_people`: no company, street or town names).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.pii.recognizers.address_patterns import _COUNTRY_ALIASES, _COUNTRY_LINE_AFTER, _DIGIT, _WORD_CHARACTER
from ingest.pii.recognizers.addresses import _upper_case_line
from ingest.pii.recognizers.common import Finding, line_above
from ingest.pii.recognizers.lexicon import _PARTICLES, NameLexicon, name_lexicon, stop_words
from ingest.pii.recognizers.mentions import EPONYM_HEADS, _shape
from ingest.pii.recognizers.name_tokens import (
    _GREETINGS,
    _INITIAL_GAP,
    _SPACES,
    _SPEECH_VERBS,
    _TITLES,
    _name_tokens,
    _Token,
)
from ingest.pii.recognizers.names import _title_case_line

_CONNECTORS_IN_NAMES = frozenset({"and", "&"})
# Words after which a single word is where someone is or goes, not who.
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:in|near|into|arrived[ \t]+at|(?:flew|travel(?:l?ed)?|trip|moved|drove|went)[ \t]+to"
    r"|moved(?:[ \t]+here)?[ \t]+from|city(?:[ \t]+of)?|town(?:[ \t]+of)?|village(?:[ \t]+of)?)[ \t]+)\Z",
    re.IGNORECASE)

# Legal forms that end a company's name ("Savannah Petroleum PLC", "Raymond James Financial Inc."):
# the words before them name a company, even when they are a person's name.
_LEGAL_FORMS = frozenset("""inc inc. incorporated ltd ltd. llc l.l.c. plc corp corp. corporation gmbh ag sa s.a.
nv n.v. bv b.v. ab asa oy oyj spa s.p.a. srl s.r.l. sarl sas kgaa llp limited bancorp fund etf co co. company
aktiengesellschaft s.a.a. saa""".split())
_FOLLOWING_WORD = re.compile(r"[ \t]*([^\s,;:()\"]+)")
_PARENTHESISED = re.compile(r"[ \t]*\([^()\n]{1,12}\)")
_STREET_WORD_AFTER = re.compile(
    r"[ \t]+(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Drive|Boulevard|Blvd\.?|Parkway|Highway|Terrace"
    r"|Crescent|STREET|AVENUE|ROAD|LANE|DRIVE|BOULEVARD|veg|vej|vei|veien|gate|gata|gatan|gade|straat|utca)\b")
# A street type as the last word of a "name": "Mills Street" (Lane and Drive are family names too).
_STREET_WORD_LAST = re.compile(r"[ \t](?:Street|STREET|Avenue|AVENUE|Road|ROAD|Boulevard|BOULEVARD|Straße|Strasse)\Z")
# Words that start the names of towns ("San Francisco", "Los Angeles", "Fort Worth", "New York"): a
# capitalised word after one of them names a place.
_PLACE_PREFIX = re.compile(r"(?:San|Santa|Santo|São|Los|Las|El|Saint|St\.|Sainte|Fort|Port|Mount|Lake|New|Nueva|Nuevo"
                           r"|Bad|Sankt|Porto|Puerto|Villa|Ciudad)[ \t]+[A-Z]")
# "Parkinson's disease", "Student's t-test": a name that names a disease, a law or a test, not a person.
_EPONYM_AFTER = re.compile(r"['’]s?[ \t]+(?:" + "|".join(sorted(EPONYM_HEADS)) + r")\b", re.IGNORECASE)
_POST_NOMINAL = re.compile(r",?[ \t]+(?:Jr\.?|Sr\.?|JR\.?|SR\.?|PhD|Ph\.D\.|PHD|MD|M\.D\.|DDS|DVM|Esq\.|ESQ\.|II|III"
                           r"|IV|jr\.?|sr\.?|phd|dds|dvm|esq\.)(?![\w-])")
# A given name and a middle initial before a family name the model found alone: "Tosh N" + "Brandt".
_GIVEN_AND_INITIAL_BEFORE = re.compile(r"(?<![\w'’-])([^\W\d_][\w'’-]+[ \t]+[^\W\d_]\.?[ \t]+)\Z")


def refine_people(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """The findings with their PERSON spans checked against what is around them: a name that a
    legal form ends is a company's ("Savannah Petroleum PLC", "Raymond James Financial Inc."), a
    name before a street type is a street's ("Smit Mills Street", "Martin Linges veg"), a line
    between an address line and a country line is a town ("Suite 655\nBERGEN\nNorway 88336"), and
    a post-nominal belongs to the name ("Alexa Hedegaard DDS", "John Smith Jr.")."""
    refined = []
    for finding in findings:
        if finding.entity_type == "PERSON":
            if (_company_name(text, finding) or _STREET_WORD_AFTER.match(text, finding.end)
                    or _EPONYM_AFTER.match(text, finding.end) or _PLACE_PREFIX.match(text, finding.start)
                    or _STREET_WORD_LAST.search(text, finding.start, finding.end)
                    or _town_line(text, finding, findings) or _owned(text, finding)):
                continue
            finding = _with_family_word(text, _with_particle_tail(text, finding))
            finding = _with_given_name_before_initial(text, finding)
            suffix = _POST_NOMINAL.match(text, finding.end)
            if suffix is not None:
                finding = Finding(finding.start, suffix.end(), "PERSON", finding.score, finding.recognizer)
        refined.append(finding)
    return _without_lines_under_a_name(text, refined)


_CONTACT_TYPES = ("STREET_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS")


def _without_lines_under_a_name(text: str, findings: list[Finding]) -> list[Finding]:
    """Without a "person" that is the whole line under a contact block's name line, with an address,
    a phone number or an e-mail address in the four lines below: the company or the job ("Michal E.
    Horký\nReed Elsevier\n659 Algade 33"). A given and a family name the lexicon knows stay (a second
    person listed under the first)."""
    contacts = sorted(f.start for f in findings if f.entity_type in _CONTACT_TYPES)
    if not contacts or "\n" not in text:
        return findings
    lexicon = name_lexicon()
    name_lines: set[int] = set()  # the starts of the lines that are a name of two words or more
    dropped: set[int] = set()
    for index, finding in sorted(enumerate(findings), key=lambda pair: pair[1].start):
        if finding.entity_type != "PERSON":
            continue
        line = _whole_line(text, finding)
        if line is None:
            continue
        words = text[finding.start:finding.end].split()
        above = line_above(text, line[0])
        below_end = line[1]
        for _ in range(4):
            next_end = text.find("\n", below_end + 1)
            below_end = len(text) if next_end < 0 else next_end
        full_name = len(words) > 1 and words[0].lower() in lexicon.first_names and lexicon.is_name(words[-1])
        if (above is not None and above[0] in name_lines and not full_name
                and any(line[1] < c < below_end for c in contacts)):
            dropped.add(index)
        elif len(words) > 1:
            name_lines.add(line[0])
    return [f for i, f in enumerate(findings) if i not in dropped]


def _whole_line(text: str, finding: Finding) -> tuple[int, int] | None:
    """The line's (start, end) when the finding is all its words, behind quote marks ("}} ", "> ")."""
    start = text.rfind("\n", 0, finding.start) + 1
    end = text.find("\n", finding.end)
    end = len(text) if end < 0 else end
    if _WORD_CHARACTER.search(text, start, finding.start) or _WORD_CHARACTER.search(text, finding.end, end):
        return None
    return start, end


_PARTICLE_TAIL = re.compile(
    r"(?:[ \t]+(?:van|von|de|der|den|da|di|du|la|le|del|della|dos|das|do|ter|ten)){1,3}[ \t]+([^\W\d_][\w'’-]+)",
    re.IGNORECASE)
_WORD_AFTER = re.compile(r"[ \t]+([^\W\d_][\w'’-]+)")


def _with_particle_tail(text: str, finding: Finding) -> Finding:
    """The name with the family name that particles join to it ("Frits" + " van den Heuvel"), in its case;
    also where the span ends on the particle ("CINTHIA VAN" + " LINT"). After a particle a capitalised
    word is a family name even when it is an English word too ("Jaydee van der Rest", "Xavier Du Cane")."""
    words = text[finding.start:finding.end].split()
    ends_on_particle = len(words) > 1 and words[-1].lower() in _PARTICLES
    tail = (_WORD_AFTER if ends_on_particle else _PARTICLE_TAIL).match(text, finding.end)
    if tail is None:
        return finding
    last, word = words[-2 if ends_on_particle else -1], tail.group(1)
    same_case = word.isupper() == last.isupper() and word[0].isupper() == last[0].isupper()
    if not same_case or word.lower() in stop_words() or (word.islower() and name_lexicon().is_plain_word(word)):
        return finding
    return Finding(finding.start, tail.end(1), "PERSON", finding.score, finding.recognizer)


# What may follow a family name: a possessive, a punctuation mark, the end of the line, a word in lower case.
_AFTER_A_NAME = re.compile(r"['’]s\b|[ \t]*(?:[.,;:!?)\"”]|\n|\Z)|[ \t]+[^\W\d_A-Z]")
_AFTER_A_NAME_IN_CAPITALS = re.compile(r"['’]S\b|[ \t]*(?:[.,;:!?)\"”]|\n|\Z)")


def _with_family_word(text: str, finding: Finding) -> Finding:
    """A known given name found alone with the capitalised word after it, when that word ends the name's
    run of capitalised words: the family name, even when it is an English word too ("Moira" + " Pagan",
    "Marius Bang and ...", "KELLY GENOVESE?"). Not in a title-case run ("Lisa Signed The Deal"), not a
    stop word, title, legal form, street type or place."""
    given = text[finding.start:finding.end]
    lexicon = name_lexicon()
    if not given.isalpha() or given.lower() not in lexicon.first_names and given.lower() not in (
            lexicon.common_given_names):
        return finding
    upper = given.isupper() and len(given) > 1
    if not (upper or given[0].isupper() and given[1:].islower()):
        return finding
    after = _WORD_AFTER.match(text, finding.end)
    if after is None or after.start(1) - finding.end != 1:
        return finding
    word = re.sub(r"['’][sS]\Z", "", after.group(1))
    if len(word) < 3 or not (word.isupper() if upper else word[0].isupper() and word[1:].islower()):
        return finding
    lower = word.lower()
    if (lower in stop_words() or lower in _TITLES or _legal_form(word) or lower in lexicon.places
            or f"{given} {word}".lower() in lexicon.places or _title_case_line(text, finding.start)
            or _STREET_WORD_LAST.search(" " + word)
            or lower.endswith(("ed", "ing")) and lexicon.is_describing_word(lower)):
        return finding  # nor a verb's form: "by Lisa Signed."
    end = after.start(1) + len(word)
    if (_AFTER_A_NAME_IN_CAPITALS if upper else _AFTER_A_NAME).match(text, end) is None:
        return finding
    before = re.search(r"([^\W\d_][\w'’-]*)[ \t]+\Z", text[max(0, finding.start - 30):finding.start])
    if before is not None and before.group(1)[0].isupper() and before.group(1).lower() not in stop_words() and (
            not before.group(1).endswith(("'s", "’s"))):
        return finding  # a title-case run: "Lisa Signed" in "Why Lisa Signed"
    return Finding(finding.start, end, "PERSON", finding.score, finding.recognizer)


# A given name and a middle initial before a family name found alone ("Tosh N" + "Brandt"), or a given
# name before an initial and family name found together ("Primo" + " A Schiavone", "ginger" + " e. kamps").
_GIVEN_BEFORE = re.compile(r"(?<![\w'’-])([^\W\d_][\w'’-]+)[ \t]+\Z")
_INITIAL_AT_START = re.compile(r"[^\W\d_]\.?[ \t]+(?=[^\W\d_]{2})")


def _with_given_name_before_initial(text: str, finding: Finding) -> Finding:
    """The given name before a middle initial, in the name's case: a word that is no English, a known given
    name, or, before an initial with no full stop and a family name that is known or no English, a
    capitalised word that is no stop word or title ("Tosh N Brandt"; not "Disclosures A. Khalil"), and
    no verb or adjective unless the family name is both ("Primo A Schiavone")."""
    before = _GIVEN_AND_INITIAL_BEFORE.search(text, max(0, finding.start - 30), finding.start)
    start, family = (before.start(1), text[finding.start:finding.end]) if before is not None else (None, "")
    if before is None and _INITIAL_AT_START.match(text, finding.start):
        given = _GIVEN_BEFORE.search(text, max(0, finding.start - 30), finding.start)
        if given is not None:
            start, family = given.start(1), text[finding.start:finding.end].split(None, 1)[-1]
    if start is None:
        return finding
    words = text[start:finding.end].split()
    word, initial = words[0], words[1]
    lexicon = name_lexicon()
    lower = word.lower()
    if lower in stop_words() or lower in _TITLES or not family or word.isupper() and not _upper_case_line(
            text, start) or (
            _shape(word) != _shape(family) or _shape(initial) != ("lower" if word.islower() else "upper")):
        return finding
    known_given = lower in lexicon.first_names or lower in lexicon.common_given_names
    surname = family.split()[-1]
    foreign_surname = not lexicon.is_english_word(surname)
    plain_given = word[0].isupper() and not initial.endswith(".") and (
        foreign_surname and lexicon.is_name(surname)
        or (foreign_surname or lexicon.is_name(surname)) and not lexicon.is_describing_word(word))
    if not (not lexicon.is_english_word(word) or known_given or plain_given):
        return finding
    return Finding(start, finding.end, "PERSON", finding.score, finding.recognizer)


_POSSESSIVE_BEFORE = re.compile(r"[^\W\d_]['’][sS][ \t]+\Z")


def _owned(text: str, finding: Finding) -> bool:
    """Whether the finding is one English word, no given name, right after a possessive: what is
    owned, not a person ("THOUGH BRANDT'S SONG WAS", read as "Brandt's Song")."""
    word = text[finding.start:finding.end]
    lexicon = name_lexicon()
    return (" " not in word and _POSSESSIVE_BEFORE.search(text, max(0, finding.start - 6), finding.start) is not None
            and lexicon.is_english_word(word) and word.lower() not in lexicon.first_names
            and word.lower() not in lexicon.common_given_names)  # not "Anna's Rose"


def _company_name(text: str, finding: Finding) -> bool:
    """Whether the span's last word, or one of the next six capitalised words, is a legal form."""
    words = text[finding.start:finding.end].split()
    if len(words) > 1 and _legal_form(words[-1]):
        return True
    position = finding.end
    if text.startswith(("'s", "’s"), position):
        position += 2  # "Casey's General Stores Inc."
    for _ in range(6):
        bracket = _PARENTHESISED.match(text, position)
        if bracket is not None:  # "Nath Bio-Genes (I) Ltd"
            position = bracket.end()
        match = _FOLLOWING_WORD.match(text, position)
        if match is None or "\n" in text[position:match.start(1)]:
            return False
        word = match.group(1)
        if _legal_form(word):
            return True
        if not word[0].isupper() and word != "&" or word.lower() in stop_words():
            return False
        position = match.end()
    return False


def _town_line(text: str, finding: Finding, findings: Sequence[Finding]) -> bool:
    """Whether the finding is a whole line over a country line ("\n Norway 88336") in an address
    block: under a line with a number (a street or an apartment) or under a name line."""
    line_start = text.rfind("\n", 0, finding.start) + 1
    line_end = text.find("\n", finding.end)
    if line_end < 0 or _WORD_CHARACTER.search(text, line_start, finding.start) or _WORD_CHARACTER.search(
            text, finding.end, line_end):
        return False
    country = _COUNTRY_LINE_AFTER.match(text, line_end)
    if country is None:
        return False
    name = re.sub(r"[ \t]*\([^)]*\)", "", country.group(1)).strip(" \t.").lower()
    if name not in name_lexicon().countries and name not in _COUNTRY_ALIASES:
        return False
    above = text[:line_start].rstrip()
    previous_start = above.rfind("\n") + 1
    if _DIGIT.search(above, previous_start) is not None:
        return True
    return any(other.entity_type == "PERSON" and previous_start <= other.start and other.end < line_start
               and len(text[other.start:other.end].split()) > 1 for other in findings)  # a full name above


def _legal_form(word: str) -> bool:
    word = word.lower()
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    # "CO.LTD.": forms glued by their dots
    return word in _LEGAL_FORMS or word.rstrip(".") in _LEGAL_FORMS or "." in word.rstrip(".") and all(
        part in _LEGAL_FORMS for part in word.rstrip(".").split(".") if part)


def person_span_parts(text: str, start: int, end: int, lexicon: NameLexicon | None = None) -> list[tuple[int, int]]:
    """The names in a span a language model tagged as a person, trimmed of what is no name.

    The span ends at a line break, at a word in lower case (`Luiza is from ...`, `Edda Greco of
    ...`) other than a particle or `and`; commas and possessives split it (`Gracie Marsh, Jessica
    Yudin`); leading English words that are no names go (`Producer Rasmus Katajisto`), as do
    trailing verbs, adjectives and adverbs (`JOHN O'BRIEN SIGNED` read as `John O'Brien Signed`)
    and titles. What is left is dropped when
    it is one English word (`Gift`), only English words, a place (`France`) or an acronym.
    Codes, URLs and e-mail addresses (digits, `@`, `/`, `:`) are never names.
    """
    value = text[start:end]
    if re.search(r"[\d@/:]", value):
        return []
    lexicon = lexicon or name_lexicon()
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    end = min(end, line_end)
    upper_line = _upper_case_line(text, start)
    segment_start = start  # from the start of the word the span starts in: "ex-Zombie Wiik"
    while segment_start > line_start and (text[segment_start - 1].isalnum() or text[segment_start - 1] in "-'’"):
        segment_start -= 1
    line = text[segment_start:end]
    line_start = segment_start
    tokens = [token for token in _name_tokens(line, lexicon, upper_line) if token.start + line_start >= start]
    groups: list[list[_Token]] = []
    previous: _Token | None = None
    for token in tokens:
        if token.shape in "LM" and token.lower not in _PARTICLES and (token.english or not (
                token.known or token.shape == "L")):
            if token.lower in _CONNECTORS_IN_NAMES:
                previous = None
                continue
            break  # "Luiza is from ...": the name ends at a word in lower case
        gap = line[previous.end:token.start] if previous is not None else None
        joined = gap is not None and (_SPACES.fullmatch(gap) is not None or (
            previous.shape == "I" or previous.lower in _TITLES) and _INITIAL_GAP.fullmatch(gap) is not None)
        if joined:
            groups[-1].append(token)
        else:
            groups.append([token])
        previous = token
    parts = []
    for group in groups:
        while group and (group[0].lower in _TITLES or group[0].shape in "i"
                         or (group[0].plain and not group[0].known and len(group) > 2)):
            group = group[1:]
        if upper_line and len(group) > 1 and group[0].lower in _SPEECH_VERBS or (
                len(group) > 1 and group[0].lower in _GREETINGS):
            group = group[1:]  # "SAID LEAL TO LOGAN", read as "Said Leal"; "Hi filip"
        while len(group) > 1 and ((not group[-1].known and lexicon.is_describing_word(group[-1].lower))
                                  or group[-1].shape == "I" or group[-1].lower in _PARTICLES):
            group = group[:-1]  # "John O'Brien Signed", "Matias Anwar Listed"
        if not group or not _person_like(group, lexicon, upper_line):
            continue
        if len(group) == 1 and (not group[0].first or group[0].place) and _PLACE_BEFORE.search(
                text, max(0, group[0].start + line_start - 30), group[0].start + line_start):
            continue  # "I am in Várbalog", "flew to Itapebí": a town the model took for a person
        parts.append((group[0].start + line_start, group[-1].end + line_start))
    return parts


def _person_like(group: list[_Token], lexicon: NameLexicon, upper_line: bool) -> bool:
    if len(group) == 1:
        token = group[0]
        # A given name that some town shares ("Barbara", "Melissa") is a person where the model says so; a
        # word in lower case only when it is a known name ("kevin", not "bortezomib" or "metastatically").
        return (len(token.text) > 1 and not token.plain and token.shape != "I"
                and (not token.place or token.first and token.lower not in lexicon.countries)
                and (token.shape != "U" or upper_line or token.known) and (token.shape != "L" or token.known)
                and token.shape != "M")  # "miRNA", "iPhone": codes
    if all(token.plain and not token.known for token in group):
        return False
    if " ".join(token.lower for token in group) in lexicon.places:
        return False
    return upper_line or not all(token.shape in "UI" for token in group) or any(token.known for token in group)
