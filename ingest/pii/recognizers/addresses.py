"""Street addresses in many languages, grown by building numbers, apartment lines, a crossing street
and a complete postal tail, or the town and country lines of a block quoted in running text;
post-office boxes and military addresses; the postcode that ends an address block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.pii.recognizers.address_patterns import (
    _ADDRESS_CUES,
    _ADDRESS_KEYWORD,
    _ADDRESS_LABEL_LINE,
    _AFTER_TYPE,
    _BLOCK_LINE,
    _BLOCK_LINE_END,
    _CAP_START,
    _CAPITALISED_WORD,
    _COMMA_TAIL,
    _COUNTRY_ALIASES,
    _DATE_AFTER_PREFIX,
    _DIGIT,
    _ENGLISH_FUNCTION_WORDS,
    _GLUED_STREET_SUFFIXES,
    _INTERSECTION,
    _LEADING_ENGLISH,
    _LOCALITY_LINES,
    _LONE_SECONDARY,
    _MONTHS,
    _NAME_AFTER_PREFIX,
    _NAME_BEFORE,
    _NAME_BEFORE_NUMBER,
    _NEXT_SPACE,
    _NUMBER_AFTER,
    _NUMBER_AFTER_NAME,
    _NUMBER_AFTER_PREFIXES,
    _NUMBERED_NAME,
    _NUMBERS_BEFORE,
    _NUMBERS_THEN_NAME,
    _PARTICLE,
    _PLACE_LINE,
    _PO_BOX,
    _POSTCODE,
    _POSTCODE_LINE,
    _SECONDARY,
    _SECONDARY_AFTER,
    _SECONDARY_BEFORE,
    _SECONDARY_NEXT_LINE,
    _SECONDARY_WORDS,
    _SPACE_TAIL,
    _STATE_CODE_END,
    _STREET_CUES,
    _STREET_POSTFIXES,
    _STREET_PREFIXES,
    _STREET_TYPES,
    _STRONG_STREET_TYPES,
    _STRONG_TYPE_WORD,
    _WEAK_PREFIXES,
    _WORD_AND_BEFORE,
    _WORD_CHARACTER,
    _WORDS_AFTER_PREFIX,
)
from ingest.pii.recognizers.common import Finding, has_context
from ingest.pii.recognizers.lexicon import NameLexicon, name_lexicon
from ingest.pii.recognizers.mentions import is_name_line

# An address is found from its street line, anchored on a street-type word ("Baker Street", "Rua
# Arapiraca 1943", "Bécsi utca 35.", "Hauptstraße 5"), or on two numbers around a foreign name
# ("637 Strojírenská 1006"), or after words that announce one ("lives on Harevænget 23"). The line
# then grows by what belongs to it: building numbers before it, apartment or suite numbers before or
# after it (also on the next line), a second street it meets ("the corner of A and B"), and its
# postal tail when that is complete (", City, Country 12345", "Apt. 5 Springfield IL", "\nCity\n,
# ST\n 12345"). Quoted in a sentence or under an "Address:" label, a block runs on through its town
# and country lines ("to 12 Rua X 5\n Apt. 3\n Recife\n Brazil 10399"); a street line of its own
# keeps them apart, and there a postcode that ends a country line of the block is an address on its
# own; a town or country alone is not.


@dataclass(slots=True)
class _Street:
    start: int
    end: int
    score: float
    numbered: bool
    secondary: bool = False


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper()


def _has_foreign_word(words: Iterable[str], lexicon: NameLexicon) -> bool:
    """Whether one of `words` is no English word: a street is named after someone or something."""
    return any(len(word) > 1 and not lexicon.is_english_word(word.strip(".'’-")) for word in words)


def _street_cores(text: str, lexicon: NameLexicon) -> list[_Street]:
    cores: list[_Street] = []
    for match in _ADDRESS_KEYWORD.finditer(text):
        keyword = match.group().lower()
        start, end = match.span()
        if keyword not in _STREET_PREFIXES and not _after_name_or_number(text, start):
            continue  # "the way", "as well": no name before the type
        if keyword in _STREET_PREFIXES and (keyword not in _STREET_TYPES or not _is_capitalised(match.group())
                                            or _NAME_AFTER_PREFIX.match(text, end)):
            core = _prefixed_street(text, start, end, keyword, lexicon)
            if core:
                cores.append(core)
                continue
        if keyword in _STREET_TYPES or keyword in _STREET_POSTFIXES:
            core = _suffixed_street(text, start, end, keyword, lexicon)
            if core:
                cores.append(core)
    for match in _CAPITALISED_WORD.finditer(text):
        if match.group().lower().endswith(_GLUED_STREET_SUFFIXES):
            core = _glued_street(text, match.start(), match.end(), lexicon)
            if core:
                cores.append(core)
    position = 0
    while (match := _NUMBERED_NAME.search(text, position)) is not None:
        core = _numbered_name(text, match, lexicon)
        if core:
            cores.append(core)
            position = match.end()
        else:  # try again from the next word: "located at Monika and Turjaška 48", "is at 22967 Árpád ..."
            space = _NEXT_SPACE.search(text, match.start())
            position = space.end() if space is not None and space.end() <= match.start(3) else match.start(3)
    for match in _NUMBERS_THEN_NAME.finditer(text):
        names = match.group(1).split()
        if _has_foreign_word(names, lexicon) and not any(
                word.lower().rstrip(".") in _ENGLISH_FUNCTION_WORDS or word.lower() in _MONTHS for word in names) and (
                _sentence_start_or_line(text, match.start())
                or _SECONDARY_BEFORE.search(text, max(0, match.start() - 20), match.start())
                or has_context(text, match.start(), _STREET_CUES, window=30, words=3)):
            cores.append(_Street(match.start(), match.end(), 0.75, True))  # a line, under an apartment or a cue
    for match in _PO_BOX.finditer(text):
        numbers_before = _NUMBERS_BEFORE.search(text, max(0, match.start() - 20), match.start())
        cores.append(_Street(numbers_before.start() if numbers_before else match.start(), match.end(), 0.9, True))
    return cores


def _after_name_or_number(text: str, start: int) -> bool:
    """Whether the word before `start` is capitalised or a number (or a particle before one)."""
    index = start - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    if index < 0 or index == start - 1:
        return False
    end = index + 1
    while index >= 0 and (text[index].isalnum() or text[index] in "'’.-"):
        index -= 1
    word = text[index + 1:end]
    return bool(word) and (word[0].isupper() or word[0].isdigit() or word.lower() in ("de", "la", "du", "van", "von"))


def _suffixed_street(text: str, start: int, end: int, keyword: str, lexicon: NameLexicon) -> _Street | None:
    """Name words, then a street type: "221B Baker Street", "Bécsi utca 35.", "Alma Centers"."""
    before = _NAME_BEFORE.search(text, max(0, start - 90), start)
    if before is None:
        return None
    words = before.group().split()
    names = [w for w in words if not w[0].isdigit() and not re.fullmatch(_PARTICLE, w)]
    if not names or not all(_is_capitalised(w) for w in names):
        return None
    numbered = words[0][0].isdigit()
    after = _AFTER_TYPE.match(text, end)
    stop = after.end()
    if re.search(r"\d", after.group()):
        numbered = True
    postfix = keyword in _STREET_POSTFIXES and keyword not in _STREET_TYPES
    if postfix and not numbered:
        return None  # "the gate", "Fogd Drejers gate" without a number
    if numbered:
        score = 0.9
    elif keyword in _STRONG_STREET_TYPES and _is_capitalised(text[start:end]) and _has_foreign_word(names, lexicon):
        score = 0.45  # "Smit Mills Street": an address after words that say so
    else:
        score = 0.3  # "Alma Centers": a street only where it meets another ("the corner of A and B")
    return _Street(before.start(), stop, score, numbered)


_CAPITALISED_ARTICLES = frozenset("Los Las La El Le Les Il Lo Die Der Das".split())


def _prefixed_street(text: str, start: int, end: int, keyword: str, lexicon: NameLexicon) -> _Street | None:
    """A street type, then name words: "Rua Arapiraca 1943", "12 rue Isambard", "ul. Karpacka 69",
    "Trg revolucije 33" (lower-case words of other languages too), "43 Rue 9 Avril 1938" (a date)."""
    date = _DATE_AFTER_PREFIX.match(text, end)
    if date is not None and date.group(1).lower() in _MONTHS and _is_capitalised(date.group(1)):
        numbers_before = _NUMBERS_BEFORE.search(text, max(0, start - 20), start)
        if numbers_before is not None:
            return _Street(numbers_before.start(), date.end(), 0.9, True)
    run = _WORDS_AFTER_PREFIX.match(text, end)
    if run is None:
        return None
    names: list[str] = []
    stop = end
    for word in re.finditer(r"[^\s]+", run.group()):
        value = word.group()
        # After an article of the street's language, a word in lower case may be an English one too ("Avda. Los
        # llanos 41"), when the number follows it.
        after_article = bool(names) and names[-1] in _CAPITALISED_ARTICLES and value.isalpha() and value.islower() and (
            _NUMBER_AFTER_NAME.match(text, end + word.end()) is not None)
        if not (_is_capitalised(value) or re.fullmatch(_PARTICLE, value.lower()) or after_article
                or (value[0].islower() and not lexicon.is_english_word(value.strip(".'’-")))):
            break
        names.append(value)
        stop = end + word.end()
    while names and re.fullmatch(_PARTICLE, names[-1].lower()):
        names.pop()  # "rue de" ends at its name, not at "de"
        stop = text.rfind(" ", end, stop)
    if not names or not any(_is_capitalised(w) or not lexicon.is_english_word(w.strip(".'’-")) for w in names):
        return None
    number = _NUMBER_AFTER_NAME.match(text, stop)
    if number is None and keyword in _NUMBER_AFTER_PREFIXES:
        return None
    numbers_before = _NUMBERS_BEFORE.search(text, max(0, start - 20), start)
    numbered = number is not None or numbers_before is not None
    after_end = number.end() if number else stop
    if not numbered and (keyword in _WEAK_PREFIXES or not _is_capitalised(text[start:end])):
        return None
    if not numbered and not _has_foreign_word(names, lexicon):
        return None
    begin = numbers_before.start() if numbers_before else start
    return _Street(begin, after_end, 0.9 if numbered else 0.5, numbered)


def _glued_street(text: str, start: int, end: int, lexicon: NameLexicon) -> _Street | None:
    """A name with its street type glued on: "Hauptstraße 5", "06518 Noordstraat 86"."""
    word = text[start:end]
    stem = word.lower().rstrip(".")
    if len(stem) < 6 or lexicon.is_english_word(stem):
        return None  # "Ring", "Gate", "Plate"
    before = _NAME_BEFORE.search(text, max(0, start - 60), start) if start else None
    begin = start
    if before is not None:
        words = before.group().split()
        if all(w[0].isdigit() or _is_capitalised(w) or re.fullmatch(_PARTICLE, w) for w in words):
            begin = before.start()
    numbers_before = _NUMBERS_BEFORE.search(text, max(0, start - 20), start)
    if numbers_before is not None:
        begin = min(begin, numbers_before.start())
    after = _NUMBER_AFTER.match(text, end)
    numbered = after is not None or bool(re.match(r"\d", text[begin:start]))
    return _Street(begin, after.end() if after else end, 0.9 if numbered else 0.45, numbered)


def _numbered_name(text: str, match: re.Match[str], lexicon: NameLexicon) -> _Street | None:
    """"637 Strojírenská 1006" (numbers around a foreign name), or "Harevænget 23" after words that
    announce an address."""
    names = match.group(2).split()
    lowered = [word.lower().rstrip(".") for word in names]
    if re.fullmatch(r"\d*0s", match.group(3)) or any(
            word in _ENGLISH_FUNCTION_WORDS or word in _MONTHS for word in lowered):
        return None  # "5 Musicians Of The 70s", "03 Nov 2026"
    if re.fullmatch(_SECONDARY_WORDS + r"\.?", names[0], re.IGNORECASE):
        return None  # "Apt. 351": an apartment line
    if any(word[0].islower() and lexicon.is_english_word(word) and not re.fullmatch(_PARTICLE, word)
           for word in names):
        return None  # a lower-case word in a street name is a foreign one
    if all(word.isupper() for word in names) and not _upper_case_line(text, match.start()):
        return None  # "1000 SRS Z 6": codes in a mixed-case text
    if match.group(1):
        # Between two numbers any noun or foreign word may name a street ("6481 Tala 7342"), but
        # no verb, adjective or common word ("12 March 2024").
        if not any(len(word) > 1 and not lexicon.is_describing_word(word.strip(".'’-")) for word in names):
            return None
        return _Street(match.start(), match.end(), 0.8, True)
    if not _has_foreign_word(names, lexicon):
        return None  # "Chapter 3"
    if len(match.group(3).rstrip(".")) > 4:
        return None
    if re.search(r",[ \t]*\Z", text[max(0, match.start() - 3):match.start()]):
        return None  # "516 Nerudova 1850, Ceské Budejovice 6": the town after a street
    if re.match(rf"[ \t]+{_CAP_START}", text[match.end():]) and not _SECONDARY_AFTER.match(text, match.end()) \
            and not re.match(r"[ \t]+St\b", text[match.end():]) and not match.group().endswith("."):
        return None  # "Phillips 66 Partners": a name, not a street ("... Reykjarhóli 11. Please": a sentence's end)
    if has_context(text, match.start(), _STREET_CUES, window=30, words=3) or _crossing_before(text, match.start(),
                                                                                              lexicon):
        return _Street(match.start(), match.end(), 0.75, True)
    return None


def _crossing_before(text: str, start: int, lexicon: NameLexicon) -> bool:
    """Whether a crossing leads to the street at `start`: a given name and "and" ("it is Kira and
    Rødkleivfaret 100", "Velimir and Ilichova 59" on a line of its own), at a line's or sentence's start or
    after words that announce an address; not "Notch and Wnt 3", where no given name stands."""
    crossing = _WORD_AND_BEFORE.search(text, max(0, start - 40), start)
    if crossing is None or crossing.group(1).split()[0].lower() not in lexicon.first_names:
        return False
    return _sentence_start_or_line(text, crossing.start()) or has_context(
        text, crossing.start(), _STREET_CUES, window=30, words=3)


def _upper_case_line(text: str, position: int) -> bool:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start:end if end >= 0 else len(text)]
    return sum(map(str.isupper, line)) > 4 * sum(map(str.islower, line))


def find_street_addresses(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """Street lines (number + name + street type, or the other way round), boxes and apartment
    lines, with what belongs to them (see the comment above)."""
    if _DIGIT.search(text) is None and _STRONG_TYPE_WORD.search(text) is None:
        return []
    lexicon = lexicon or name_lexicon()
    streets = _merge_streets(text, _street_cores(text, lexicon))
    findings = []
    covered = []
    for street in streets:
        leading = _LEADING_ENGLISH.match(text, street.start)
        if leading is not None and leading.end() < street.end:
            street.start = leading.end()  # "the corner of Gosposka ulica 15": "of" is no part of it
        _extend_street(text, street, lexicon)
        if has_context(text, street.start, _ADDRESS_CUES, window=30, words=3):
            street.score = min(0.95, street.score + 0.15 if street.score < 0.5 else street.score + 0.05)
        end = _trim_address_end(text, street.start, street.end)
        findings.append(Finding(street.start, end, "STREET_ADDRESS", street.score, "street-address"))
        covered.append((street.start, end))
        if street.numbered:
            postcode = _block_postcode(text, end)
            if postcode:
                findings.append(Finding(*postcode, "STREET_ADDRESS", 0.6, "street-address"))
                covered.append(postcode)
    for match in _LONE_SECONDARY.finditer(text):
        if any(s <= match.start() < e for s, e in covered):
            continue
        street = _quoted_street_above(text, match.start(), findings)
        block_end = _block_lines(text, match.end(), lexicon, True) if street is not None else None
        if street is not None and block_end is not None:
            # A street quoted in a sentence that the patterns read only in part ("Meet me at 5134 97 Rue
            # Sidi Bou said\n Suite 117\n Essoumrane\n Tunisia 63622"): one address through its block.
            findings[street] = Finding(findings[street].start, block_end, "STREET_ADDRESS", findings[street].score,
                                       "street-address")
            covered.append((findings[street].start, block_end))
        else:
            findings.append(Finding(match.start(), match.end(), "STREET_ADDRESS", 0.7, "street-address"))
            # An apartment line starts or continues a block too: "Apt. 294\n Avdimou\n Cyprus 50259".
            postcode = _block_postcode(text, _trim_address_end(text, match.start(), match.end()))
            if postcode and not any(s <= postcode[0] < e for s, e in covered):
                findings.append(Finding(*postcode, "STREET_ADDRESS", 0.6, "street-address"))
                covered.append(postcode)
    return findings


def _quoted_street_above(text: str, start: int, findings: list[Finding]) -> int | None:
    """The index in `findings` of the street on the line above the apartment line at `start`, when
    words stand before it on that line (it is quoted in a sentence, not a line of its own) and at most
    three words after it."""
    line_start = text.rfind("\n", 0, start) + 1
    if line_start == 0 or _WORD_CHARACTER.search(text, line_start, start):
        return None
    above = text.rfind("\n", 0, line_start - 1) + 1
    for index, finding in enumerate(findings):
        if (above <= finding.start and finding.end < line_start and finding.entity_type == "STREET_ADDRESS"
                and _WORD_CHARACTER.search(text, above, finding.start)
                and _STREET_LINE_REST.fullmatch(text, finding.end, line_start)):
            return index
    return None


def _merge_streets(text: str, cores: list[_Street]) -> list[_Street]:
    """Overlapping or adjacent street cores as one, and two streets that meet ("A and B") too."""
    merged: list[_Street] = []
    for core in sorted(cores, key=lambda c: (c.start, -c.end)):
        last = merged[-1] if merged else None
        if last is not None and (core.start <= last.end or re.fullmatch(r"[ \t]*", text[last.end:core.start])
                                 or _INTERSECTION.fullmatch(text, last.end, core.start)):
            last.end = max(last.end, core.end)
            last.score = max(last.score, core.score)
            last.numbered = last.numbered or core.numbered
        else:
            merged.append(_Street(core.start, core.end, core.score, core.numbered))
    return merged


# A second number after a street line's number, where the line, the street or the sentence's list ends:
# "Strada Provinciale 65 22\n", "... 65 22 and Marisca Landing", "Quadra 575 1815 Apt. 3".
_BUILDING_NUMBER_AFTER = re.compile(r"[ \t]+\d{1,4}(?=[ \t]*(?:\n|\Z|,|[ \t]and[ \t]|[ \t]*(?i:apt|suite|unit)\b))")


_NUMBER_AND_INITIALS_BEFORE = re.compile(r"(?<![\w.])\d{1,5}[ \t]+(?:[A-Z]\.){1,2}\Z")


def _extend_street(text: str, street: _Street, lexicon: NameLexicon) -> None:
    """Grow a street line by its apartment lines, a crossing street's name before it and its postal tail."""
    street.secondary = _SECONDARY.search(text, street.start, street.end) is not None
    before = _SECONDARY_BEFORE.search(text, max(0, street.start - 20), street.start)
    if before is not None:
        street.start = before.start()
    named = _NAME_BEFORE_NUMBER.search(text, max(0, street.start - 60), street.start)
    if named is not None and text[street.start:street.start + 1].isdigit() and _has_foreign_word(
            named.group(1).split(), lexicon) and not any(
                word.lower().rstrip(".") in _NOT_STREET_NAME_WORDS for word in named.group(1).split()) and (
            _sentence_start_or_line(text, named.start(1))
            or has_context(text, named.start(1), _ADDRESS_CUES, window=30, words=3)):
        street.start = named.start(1)  # "Mäe 47 Frederikke Greens": a street name, then a second one
    word_and = _WORD_AND_BEFORE.search(text, max(0, street.start - 40), street.start)
    if word_and is not None and (_sentence_start_or_line(text, word_and.start())
                                 or has_context(text, word_and.start(), _ADDRESS_CUES, window=30, words=3)):
        street.start = word_and.start()  # "Monika and Turjaška 48": a crossing
    initials = _NUMBER_AND_INITIALS_BEFORE.search(text, max(0, street.start - 20), street.start)
    if initials is not None and re.match(r"[A-Z]\.", text[street.start:street.start + 2]):
        street.start = initials.start()  # "5779 P.G. Otterweg 38": read from "G." on, the street of a person's initials
    number = _BUILDING_NUMBER_AFTER.match(text, street.end)
    if number is not None and text[street.end - 1].isdigit():
        street.end = number.end()  # "3434 Quadra Quadra 073 1339": the building's number after the house's
    after = _SECONDARY_AFTER.match(text, street.end)
    if after is not None:
        street.end, street.secondary = after.end(), True
    following = _SECONDARY_NEXT_LINE.match(text, street.end)
    if following is not None:
        street.end, street.secondary = following.end(), True
    if not street.numbered:
        return
    tail = _COMMA_TAIL.match(text, street.end)
    if tail is not None and (tail.group().count(",") >= 2 or re.search(rf"{_POSTCODE}\Z", tail.group())):
        street.end = tail.end()
        return
    if street.secondary:
        tail = _SPACE_TAIL.match(text, street.end)
        if tail is not None:
            street.end = tail.end()
            tail = _COMMA_TAIL.match(text, street.end)
            if tail is not None:
                street.end = tail.end()
            return
    locality = _LOCALITY_LINES.match(text, street.end)
    if locality is not None:
        street.end = locality.end()
        return
    line_start = text.rfind("\n", 0, street.start) + 1
    if _WORD_CHARACTER.search(text, line_start, street.start) is None and not _ADDRESS_LABEL_LINE.search(
            text, max(0, line_start - 40), line_start) and not _under_an_organisation(text, line_start, lexicon):
        # A street line of its own under a person's name (or quoted, "> 12 Main St"): its block's town
        # and country lines are lines of their own; under a company's name the block is one address.
        return
    block_end = _block_lines(text, street.end, lexicon, street.secondary)
    if block_end is not None:
        street.end = block_end


def _under_an_organisation(text: str, line_start: int, lexicon: NameLexicon) -> bool:
    """Whether the street line at `line_start` is written plain (no quote marks before it) under a
    line that names no person: a company's letterhead ("Fuji Nihon Seito Corporation\n\n88072 79
    Wolfe Street", "Hélène Fremont\nThyrocare Technologies Ltd\n0189 Rue des Buissons 386")."""
    if text[line_start:line_start + 1] in (">", "}", "?", "|", "#", "*"):
        return False
    above = text[:line_start].rstrip()
    if not above:
        return False
    line = above[above.rfind("\n") + 1:].strip()
    return (bool(line) and not line[0].isdigit() and not _SECONDARY.search(line)
            and not is_name_line(line.lstrip(">}?|#* \t"), lexicon))


def _block_lines(text: str, end: int, lexicon: NameLexicon, secondary: bool = False) -> int | None:
    """The end of the town and country lines under a street line ("\n Apt. 045" already taken):
    "\n Montevideo\n Uruguay 05730", "\n MOSS\n Norway", "\n Brüssow, MV 85768". The block must
    end in a line with a country or a postcode within three lines; a town line above it is a whole
    line, and one of plain English words ("Kind Regards") counts only above a postcode or under an
    apartment line ("Suite 334\n Valentines\n Uruguay")."""
    position = end
    plain_town = False
    for lines in range(3):
        line = _BLOCK_LINE.match(text, position)
        if line is None:
            return None
        place, postcode = line.group(1), line.group(2)
        sentence = re.search(r"\.[ \t]+", place)
        if sentence is not None and not postcode:
            country = place[:sentence.start()].strip().lower()
            if country in lexicon.countries or country in _COUNTRY_ALIASES:
                return line.start(1) + sentence.start()  # "Slovenia. It serves great food."
            return None
        name = re.sub(r"[ \t]*\([^)]*\)", "", place).strip(" \t.").lower()
        whole_line = _BLOCK_LINE_END.match(text, line.end()) is not None
        if postcode and _STATE_CODE_END.search(place):
            return None  # "Seattle WA 98101": a US locality line, taken only after a comma (_LOCALITY_LINES)
        if postcode or name in lexicon.countries or name in _COUNTRY_ALIASES:
            if not postcode and ((plain_town and not secondary) or (not whole_line and lines == 0)):
                return None  # "12 Baker Street\nFrance is lovely": a sentence, not a country line
            return line.end()
        if not whole_line:
            return None
        words = re.findall(r"[^\W\d_]+", place)
        if secondary and lines and (_TEXT_END.match(text, line.end()) or _SENTENCE_END.match(text, line.end())) and (
                place.isupper() or not all(lexicon.is_english_word(word) for word in words)):
            # The text's or the sentence's last line under an apartment and a town line is the country, one
            # the lists lack ("Suite 306\n Arsuk\n Greenlander", "... Greenlander? I am in ...").
            return line.end()
        if not (place.isupper() or name in lexicon.places
                or not all(lexicon.is_english_word(word) for word in words)):
            plain_town = True
        position = line.end()
    return None


def _sentence_start_or_line(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    return index < 0 or text[index] in "\n:?!" or (index < start - 1 and text[index] == "." and re.search(
        r"[a-z]{3}\Z", text[max(0, index - 8):index]) is not None and text[max(0, index - 4):index].lower() not in (
        "mrs", " mrs", "prof"))  # a sentence's end, not "Mrs."

_TEXT_END = re.compile(r"\s*\Z")
_SENTENCE_END = re.compile(r"[.?!](?:[ \t]+[A-Z]|\s*\Z)")
# What may follow a street the patterns read in part on its line: a few words, no sentence's end.
_STREET_LINE_REST = re.compile(r"(?:[ \t]+[^\W\d_][\w'’-]*){0,3}[ \t]*\n")

# Words that name no street before its number: function words, titles, apartment words.
_NOT_STREET_NAME_WORDS = _ENGLISH_FUNCTION_WORDS | frozenset(
    "mr mrs ms miss dr prof sir apt apartment suite ste unit flat floor room bldg building".split())


def _block_postcode(text: str, end: int) -> tuple[int, int] | None:
    """The postcode ending a country line of the address block that `end` closes, if any:
    "...\n Svratka\n Czech Republic 45098"."""
    position = end
    for _ in range(3):
        line = _POSTCODE_LINE.match(text, position)
        if line is not None:
            if re.search(r"(?<![\w])[A-Z]{2,3}[ \t]+\Z", text[line.start():line.start(1)]):
                return None  # "Seattle WA 98101": a US locality line, not a country line
            return line.start(1), line.end(1)
        place = _PLACE_LINE.match(text, position)
        if place is None:
            return None
        position = place.end()
    return None


def _trim_address_end(text: str, start: int, end: int) -> int:
    """An address never ends with the sentence's full stop, a comma or spaces."""
    while end > start and text[end - 1] in " \t\n.,;:":
        end -= 1
    return end
