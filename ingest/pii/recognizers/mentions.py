"""People found from the rest of the text: the other mentions of a name found once, the owner in a
possessive ("Esjar Sturluson's killers"), the name that heads a contact block (a signature), and the
speakers of a dialogue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.pii.recognizers.address_patterns import _WORD_CHARACTER
from ingest.pii.recognizers.common import Finding, line_above
from ingest.pii.recognizers.lexicon import _PARTICLES, NameLexicon, name_lexicon, stop_words
from ingest.pii.recognizers.name_tokens import _TITLES

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
ECHO_SCORE = 0.6


def repeated_mentions(text: str, people: Sequence[Finding], lexicon: NameLexicon | None = None) -> list[Finding]:
    """The other mentions of the parts of a full name found once: "Marino was influenced ... sung by
    Ofelia Marino", "You can tell Sonoka was a huge Sonoka Miki fan". A part that is an English word
    ("Young", "Mark") counts only where it is written as in the name, capitalised."""
    lexicon = lexicon or name_lexicon()
    parts: dict[str, str] = {}
    for person in people:
        # Middle initials ("Gyala Z Antall") are neither names nor words here; "I" and "A" are words.
        words = [word for word in _WORD.findall(text[person.start:person.end])
                 if len(word) > 1 or word.lower() in stop_words()]
        if not words:
            continue
        given = any(word.lower() in lexicon.first_names and not lexicon.is_english_word(word) for word in words)
        first = words[0].lower()
        # A given name that is a word too heads a name the model read ("Mark Gordon") as well as any.
        # In lower case only before family names of the lists ("sung by daisy buchanan ... that buchanan was").
        common_given = first in lexicon.common_given_names and (words[0][0].isupper() or len(words) > 1 and all(
            word.lower() in lexicon.last_names for word in words[1:]))
        # In lower case, words that are no English word and no place ("bulat denisov", "radoš rott"): one at
        # least a known name, or the seed found by its part in the text (a fan's idol, a signature), not by
        # the lexicon alone, which reads "mitochondrial nucleoids" as a name too.
        named = [word.islower() and lexicon.is_name(word) and not lexicon.is_english_word(word) for word in words]
        foreign = all(known or _foreign_lower(word, lexicon) for known, word in zip(named, words, strict=True)) and (
            any(named) or person.recognizer != "name-lexicon")
        # A family name that is a word too after a given name that is none, capitalised ("Marius Bang").
        firm_given = words[0][0].isupper() and first in lexicon.first_names and not lexicon.is_english_word(first)
        if len(words) < 2 or not foreign and not all(lexicon.is_name(word) or word.lower() in _PARTICLES or (
                (given or word[0].isupper()) and not lexicon.is_english_word(word)) or (i == 0 and common_given)
                or (i and firm_given and word[0].isupper() and word[1:].islower()) for i, word in enumerate(words)):
            continue  # a seed is a name through and through, not "gene expression" or "arginase activity"
        if not (first in lexicon.first_names or common_given or foreign
                or not any(lexicon.is_english_word(word) for word in words)):
            continue  # a given name first, or no English word at all: not "Hyde Park"
        if any(len(word) > 1 and word.isupper() for word in words) and not text[person.start:person.end].isupper():
            continue  # an acronym in mixed case ("VEGF KO") is no name
        particle_at = next((i for i, word in enumerate(words) if i and word.lower() in _PARTICLES), None)
        if particle_at is not None and particle_at < len(words) - 1:
            tail = text[person.start:person.end]
            tail = tail[tail.index(words[particle_at], len(words[0])):]
            parts[tail.lower()] = tail  # "van den Heuvel" alone
        for word in words:
            lower = word.lower()
            if len(word) > 2 and lower not in stop_words() and lower not in _PARTICLES and lower not in _TITLES:
                parts.setdefault(lower, word)
    if not parts:
        return []
    pattern = re.compile(r"(?<![\w'’-])(?:" + "|".join(re.escape(part) for part in sorted(parts, key=len, reverse=True))
                         + r")(?![\w-])", re.IGNORECASE)
    found = []
    for match in pattern.finditer(text):
        if any(person.start < match.end() and match.start() < person.end for person in people):
            continue
        written, named = match.group(), parts[match.group().lower()]
        if _shape(written) != _shape(named):
            continue  # written as in the name: "young" in "a young singer" after "Zoe Young" is a word
        if _EPONYM_HEAD_AFTER.match(text, match.end()):
            continue  # "Rous sarcoma virus" after "Payton Rous": an eponym, no mention of the person
        found.append(Finding(match.start(), match.end(), "PERSON", ECHO_SCORE, "name-echo"))
    return found


def _foreign_lower(word: str, lexicon: NameLexicon) -> bool:
    """A word in lower case that is no English word and no place ("saidali", "radoš"): a name the
    lexicon lacks, where a rule has read it as one."""
    return word.islower() and len(word) > 3 and not lexicon.is_english_word(word) and word not in lexicon.places


def _capitalised_given_word(word: str, lexicon: NameLexicon) -> bool:
    """A given name that is a word too, capitalised ("Grace"): a name where the word would be in lower case."""
    return word[0].isupper() and word[1:].islower() and word.lower() in lexicon.common_given_names


def _shape(word: str) -> str:
    return "upper" if word.isupper() else "capitalised" if word[0].isupper() else "lower"


# The owner in a possessive: one to three capitalised words before "'s".
_POSSESSIVE = re.compile(r"(?<![\w'’.-])((?:[A-ZÀ-ÖØ-ÞĀ-ſ][\w’-]*[ \t]+){0,2}[A-ZÀ-ÖØ-ÞĀ-ſ][\w-]*)['’]s(?![\w'’])"
                         r"(?=[ \t]+([^\W\d_][\w'’-]*))")
# What a possessive names after a person that no one owns: eponyms of medicine, science and law
# ("Alzheimer's disease", "Student's t-test", "Fisher's exact test").
EPONYM_HEADS = frozenset("""disease diseases syndrome syndromes sarcoma lymphoma law laws test tests method methods
algorithm theorem principle equation equations rule rules sign signs criterion criteria ratio coefficient coefficients
correlation distribution formula constant number index hypothesis scale classification stage grade reagent solution
medium agar stain staining assay procedure operation technique effect phenomenon paradox ulcer palsy anemia anaemia
cell cells gland glands tumor tumour tumors tumours node nodes exact rank chi correction approach model models
disorder dementia patients patient encephalopathy ataxia neuralgia contracture rho regression hazards hazard
proportional type kappa alpha""".split())


_EPONYM_HEAD_AFTER = re.compile(r"[ \t]+(?:" + "|".join(sorted(EPONYM_HEADS)) + r")\b", re.IGNORECASE)


# In lower case, an owner only of what people have: "though clark's song", "bolethe jeremiassen's killers".
_LOWER_POSSESSIVE = re.compile(
    r"(?<![\w'’.-])((?:[^\W\d_A-Z][\w-]*[ \t]+)?[^\W\d_A-Z][\w-]*)['’]s[ \t]+(?:songs?|killers?|murderers?"
    r"|kids?|sons?|daughters?|wife|husband|widow|mother|father|mom|mum|dad|parents|brother|sister|boss"
    r"|girlfriend|boyfriend|birthday|funeral|novels?|albums?)\b")


def _lower_case_owners(text: str, lexicon: NameLexicon) -> list[Finding]:
    found = []
    for match in _LOWER_POSSESSIVE.finditer(text):
        words = match.group(1).split()
        owner = [word not in stop_words() and (lexicon.is_name(word) or _foreign_lower(word, lexicon))
                 for word in words]
        if owner[-1]:
            first = 0 if all(owner) else len(words) - 1  # "though clark's song": the last word alone
            start = match.start(1) + match.group(1).index(words[first]) if first else match.start(1)
            found.append(Finding(start, match.end(1), "PERSON", 0.6, "name-possessive"))
    return found


def possessive_owners(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """Who owns something: "Esjar Sturluson's killers", "Tomasz Wilk's Field Notes", "though Price's
    song", and in lower case "though clark's song" (of what only people have). A known name, or a word
    that is no English word and no place; never an eponym
    ("Alzheimer's disease") and, where the model reads the words as an organisation, never that
    (the score is a role's: see `ROLE_NAME_SCORE`)."""
    lexicon = lexicon or name_lexicon()
    found = []
    for match in _POSSESSIVE.finditer(text):
        words = list(re.finditer(r"\S+", match.group(1)))
        while words and (words[0].group().lower() in stop_words() or words[0].group().lower() in _TITLES):
            words = words[1:]
        head = match.group(2).lower()
        if head.endswith("s") and head[:-1] in EPONYM_HEADS:
            head = head[:-1]  # "Spearman's correlations"
        if not words or len(words) > 2 or head in EPONYM_HEADS or head in stop_words():
            continue
        texts = [word.group() for word in words]
        known = [lexicon.is_name(word) for word in texts]
        foreign = [not lexicon.is_english_word(word) and word.lower() not in lexicon.places for word in texts]
        if not all(k or f for k, f in zip(known, foreign, strict=True)) or any(word.isupper() for word in texts):
            continue
        if len(texts) == 1 and not known[0]:
            continue  # one unknown word ("Alzheimer's puzzle"): a name only with a known one beside it
        score = 0.62 if any(known) else 0.58
        found.append(Finding(match.start(1) + words[0].start(), match.end(1), "PERSON", score, "name-possessive"))
    return found + _lower_case_owners(text, lexicon)


_NAME_LINE = re.compile(
    r"(?m)^[^\w\n]{0,6}((?:[^\W\d_][\w'’-]*|[A-Z]\.?)(?:[ \t]+(?:[^\W\d_][\w'’-]*|[A-Z]\.?)){1,3})[ \t]*$")
# A legal form, also glued to the name by a careless hand ("FreakOut Holdingsinc.").
_LEGAL_FORM_LINE = re.compile(r"(?i)\b(?:inc|ltd|llc|plc|corp|corporation|gmbh|ag|sa|nv|bv|limited|co|company)\b\.?"
                              r"|(?<=[a-z]{4})inc\.")


def signature_names(text: str, others: Sequence[Finding], lexicon: NameLexicon | None = None) -> list[Finding]:
    """The name that heads a contact block: a line of two to four name words over lines with a
    street address, a phone number, an e-mail address, a company (a legal form) or a country
    ("Bolethe Jeremiassen\\nMajesco\\n20066 65 R. Mongi Bali ...", "}}Maha A Cazares\\n}}Compass ... LLC"),
    never under another name line (the company or the job under the name). The words are all
    capitalised, all upper case or all lower case, and one at least is a known
    name or no English word; no word is a stop word."""
    if "\n" not in text:
        return []
    lexicon = lexicon or name_lexicon()
    found = []
    for match in _NAME_LINE.finditer(text):
        if not is_name_line(match.group(1), lexicon):
            continue
        if _town_line(text, match.start(), match.end(), lexicon) or _under_a_name_line(text, match.start(), lexicon):
            continue
        if _contact_lines_follow(text, match.end(), others, lexicon):
            found.append(Finding(match.start(1), match.end(1), "PERSON", 0.65, "name-signature"))
    return found


def is_name_line(line: str, lexicon: NameLexicon | None = None) -> bool:
    """Whether a line (without its quote marks) could be a person's name: two to four words and
    initials, all capitalised, all upper case or all lower case, no stop word, title, legal form or
    place, one word at least a known name or no English word."""
    lexicon = lexicon or name_lexicon()
    words = line.split()
    letters = [w for w in words if len(w.rstrip(".")) > 1]
    if not 2 <= len(letters) <= 4 or len(words) > 5 or not all(_WORD.fullmatch(w.rstrip(".")) for w in words):
        return False
    if any(w.lower() in stop_words() or w.lower() in _TITLES for w in letters):
        return False
    if not (all(w[0].isupper() and not w.isupper() for w in letters) or all(w.isupper() for w in letters)
            or all(w.islower() for w in letters)):
        return False
    lower = line.lower()
    return not (lower in lexicon.places or lower in lexicon.countries or _LEGAL_FORM_LINE.search(lower)
                or not any(lexicon.is_name(w) or not lexicon.is_english_word(w) for w in letters)
                or all(w.lower() in lexicon.places for w in letters))


def _under_a_name_line(text: str, start: int, lexicon: NameLexicon) -> bool:
    """Whether the nearest line above with words is a name line: the block's head is taken, and the
    line under it is the company or the job ("Tara Nuncija\nVolkswagen Aktiengesellschaft",
    "ÁSLÁKUR VÍÐISSON\n\nELECTRICAL POWER LINE INSTALLER")."""
    above = line_above(text, text.rfind("\n", 0, start) + 1)
    return above is not None and is_name_line(text[above[0]:above[1]].strip(" \t>}?#*|-"), lexicon)


def _town_line(text: str, start: int, end: int, lexicon: NameLexicon) -> bool:
    """Whether the line is a town's in an address block: under a line with a number (a street or an
    apartment), or over a country line."""
    above = text[:start].rstrip()
    if re.search(r"\d", above[above.rfind("\n") + 1:]):
        return True
    below_end = text.find("\n", end + 1)
    below = text[end:below_end if below_end >= 0 else len(text)].strip(" \t\n>}?#*|-").strip()
    return re.sub(r"[ \t]*\([^)]*\)|[ \t]+\d[\d -]*$", "", below).strip(" .").lower() in lexicon.countries


def _contact_lines_follow(text: str, end: int, others: Sequence[Finding], lexicon: NameLexicon) -> bool:
    """Whether one of the next four lines holds an address, a phone number, an e-mail address or a
    company, or is a country. Blank lines are not counted: a résumé spaces its head ("renze akkermans\n\n
    Bridge and lock tender\n\nPersonal Info:\nPhone:\n646 138 343")."""
    position = end
    lines = 0
    while lines < 4:
        if position >= len(text):
            return False
        line_end = text.find("\n", position + 1)
        line_end = len(text) if line_end < 0 else line_end
        if _WORD_CHARACTER.search(text, position, line_end) is None:
            position = line_end
            continue
        lines += 1
        if any(position < f.start < line_end and f.entity_type in ("STREET_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS")
               for f in others):
            return True
        line = text[position:line_end].strip(" \t\n>}?#*|-").strip()
        name = re.sub(r"[ \t]*\([^)]*\)|[ \t]+\d[\d -]*$", "", line).strip(" .").lower()
        if line and (_LEGAL_FORM_LINE.search(line) or name in lexicon.countries):
            return True
        position = line_end
    return False


# A speaker's line in a dialogue: "Kelsey:\"I'm Lisa's daughter\".", "nehemias: What a wife.".
_SPEAKER_LINE = re.compile(r"(?m)^[ \t]*([^\W\d_][\w'’-]*)[ \t]*:[ \t]*(?=[\"“]|[^\W\d_])")


def dialogue_speakers(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """The speakers of a dialogue (two lines or more that start with a one-word label and a colon,
    at least one of them a known name): each label that is no stop word and no common label
    ("Bot", "User", "Name", "Note")."""
    speakers = list(_SPEAKER_LINE.finditer(text))
    if len(speakers) < 2:
        return []
    lexicon = lexicon or name_lexicon()
    labels = [m.group(1).lower() for m in speakers]
    if 2 * sum(label in lexicon.first_names or label in lexicon.common_given_names for label in labels) < len(labels):
        return []  # "msg: ...\npos: ...": the fields of a list, not a dialogue
    found = []
    for match in speakers:
        label = match.group(1).lower()
        if label in stop_words() or label in _NOT_SPEAKERS or len(label) < 2:
            continue
        found.append(Finding(match.start(1), match.end(1), "PERSON", 0.62, "name-speaker"))
    return found


_NOT_SPEAKERS = frozenset("""bot user agent customer client name note notes address phone email e-mail tel fax mobile
desk subject from to cc date re fwd answer question q a ps nb warning error info debug todo example tip important
attention update status result summary total""".split())


# A sentence about someone, then one that refers to them: "Aleesha is very reliable. You can always
# depend on him.", "Taylor is a very sympathetic person. They are also good listeners."
_SUBJECT_OF_A_DESCRIPTION = re.compile(
    r"(?:^|(?<=[.!?\n])[ \t]*)([^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’-]*)?)[ \t]+(?:is|was)[ \t]+"
    r"(?:a[ \t]+|an[ \t]+)?(?:very|so|really|quite|always|such)\b[^.!?\n]*[.!?][ \t]*"
    r"(?=[^.!?\n]*\b(?:he|she|him|her|his|they|them|their)\b)", re.IGNORECASE | re.MULTILINE)


def described_people(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """The subject of a sentence that describes someone ("X is very reliable", "X was so kind"), when
    the next sentence refers to them by a personal pronoun: a known name, or words that are no
    English and no place ("giovana is very reliable")."""
    lexicon = lexicon or name_lexicon()
    found = []
    for match in _SUBJECT_OF_A_DESCRIPTION.finditer(text):
        words = match.group(1).split()
        if any(word.lower() in stop_words() for word in words):
            continue
        if not all(lexicon.is_name(word) and (word[0].isupper() or not lexicon.is_plain_word(word))
                   or word[0].isupper() and not lexicon.is_english_word(word) and word.lower() not in lexicon.places
                   or _foreign_lower(word, lexicon) for word in words):
            continue
        found.append(Finding(match.start(1), match.end(1), "PERSON", 0.6, "name-described"))
    return found


# A name that a work, a performance or a following is credited to: "Unlike the Nygaard novel", "The
# Jordanka Kavran version", "a veljko ivančić concert", "a huge Sonoka Miki fan".
_CREDITED_NAME = re.compile(
    r"\b(?:the|a|an)[ \t]+(?:(?:huge|big|great|early|late|new|latest|first|last|original|live)[ \t]+)?"
    r"((?:[^\W\d_][\w'’-]*\.?[ \t]+){0,3}?[^\W\d_][\w'’-]*)[ \t]+(?:novels?|version|concerts?|albums?|songs?|fans?"
    r"|films?|movies?|books?|biography|memoir|tours?|interview|lecture|poems?|paintings?|portrait|retrospective"
    r"|exhibition|documentary)\b", re.IGNORECASE)


def credited_names(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """The name before a work, a performance or a fan after "the" or "a": one to three words (and
    initials) in one case, no stop word or title, the first a known given or family name that is more
    than an English word or a word that is no English and no place, the others that or nouns; a lone
    word is no English word. And whose early or late work a question compares ("than early kadyrov?"):
    a word that is no English and no place."""
    lexicon = lexicon or name_lexicon()
    found = []
    for match in _CREDITED_NAME.finditer(text):
        value = match.group(1)
        words = [word for word in value.split() if len(word.rstrip(".")) > 1]
        if not words or len(words) > 3 or (value.isupper() and not text.isupper()):
            continue  # an acronym ("the BBC version") is no name
        shapes = {_shape(word) for word in words}
        if len(shapes) > 1 or any(len(word) > 1 and not word[1:].islower() and not word.isupper() for word in words):
            continue  # "iPhone", "McKinsey & Co" in mixed shapes
        parts = re.split(r"['’-]", words[0])
        if any(word.lower() in stop_words() or word.lower() in _TITLES for word in words) or len(parts) > 1 and all(
                lexicon.is_english_word(part) for part in parts if part):
            continue  # nor "the four-category version", "the model's song"
        # The first word a name or no English; a family name after it may be a word or a place ("Colombo").
        if not all(lexicon.is_name(word) and not lexicon.is_plain_word(word)
                   or not lexicon.is_english_word(word) and word.lower() not in lexicon.places
                   or i and not lexicon.is_describing_word(word)
                   or not i and len(words) > 1 and word.lower() in lexicon.common_given_names  # "amber watson"
                   for i, word in enumerate(words)):
            continue
        if len(words) == 1 and (len(words[0]) < 4 or lexicon.is_english_word(words[0])):
            continue
        start = match.start(1) + value.index(words[0])
        found.append(Finding(start, match.start(1) + value.rindex(words[-1]) + len(words[-1]), "PERSON", 0.6,
                             "name-credited"))
    for match in _EARLY_WORK_ASKED.finditer(text):
        word = match.group(1)
        if _foreign_lower(word, lexicon) or word[0].isupper() and word[1:].islower() and (
                not lexicon.is_english_word(word) and word.lower() not in lexicon.places):
            found.append(Finding(match.start(1), match.end(1), "PERSON", 0.6, "name-credited"))
    return found


# Someone's early or late work compared in a question, the work unsaid: "than early kadyrov?", "than late Barros!".
_EARLY_WORK_ASKED = re.compile(r"\b(?i:than[ \t]+(?:early|late))[ \t]+([^\W\d_][\w'’-]+)(?=[ \t]*[?!])")


# Two people who do something together at the start of a sentence: "Crowder and Knight were precision
# engineers", "pyysalo and curry were ...".
_PAIRED_SUBJECTS = re.compile(r"(?:^|(?<=[.!?:;\n]))[ \t]*([^\W\d_][\w'’-]*)[ \t]+(?:and|AND|&)[ \t]+"
                              r"([^\W\d_][\w'’-]*)[ \t]+(?i:were|are|have|had|met|founded|wrote|started)\b",
                              re.MULTILINE)


# Someone who has to, wants to or needs to do something, after a conjunction: "but Hideko just has to
# get laid", "and selam wants to go".
_WANTING_SUBJECT = re.compile(
    r"\b(?:but|and|so|because|though|although|while|until|unless)[ \t]+([^\W\d_][\w'’-]*)[ \t]+"
    r"(?:(?:just|still|really|only|always|never|finally)[ \t]+)?(?:has|had|wants|wanted|needs|needed|tries|tried"
    r"|loves|loved|hates|hated|gets|got)[ \t]+to\b", re.IGNORECASE)


def wanting_subjects(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """The subject of "has to", "wants to", "needs to" after a conjunction: a word that is no English
    and no place, or a known given name that is more than a word, in capitals or in lower case."""
    lexicon = lexicon or name_lexicon()
    found = []
    for match in _WANTING_SUBJECT.finditer(text):
        word = match.group(1)
        if len(word) < 3 or word.lower() in stop_words() or (word.isupper() and not text.isupper()) or (
                len(word) > 1 and not word[1:].islower() and not word.isupper()):
            continue
        if (not lexicon.is_english_word(word) and word.lower() not in lexicon.places) or (
                word.lower() in lexicon.first_names and not lexicon.is_plain_word(word)) or (
                _capitalised_given_word(word, lexicon) and not text.isupper()):  # "but Grace just has to"
            found.append(Finding(match.start(1), match.end(1), "PERSON", 0.6, "name-subject"))
    return found


# A list of given names: "They had 6: vuk, daniel, maria, christopher, mark and erica."
_LIST_OF_WORDS = re.compile(r"(?<![\w'’-])[^\W\d_][\w'’-]*(?:[ \t]*,[ \t]*[^\W\d_][\w'’-]*){2,}"
                            r"(?:[ \t]*,?[ \t]+(?:and|&)[ \t]+[^\W\d_][\w'’-]*)?")
_LIST_SEPARATOR = re.compile(r"[ \t]*,[ \t]*(?:(?:and|&)[ \t]+)?|[ \t]+(?:and|&)[ \t]+")


def listed_given_names(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """The items of a list of four words or more in one case, half of them or more given names that
    are more than English words: each item that is a known name or no English word and no place."""
    lexicon = lexicon or name_lexicon()
    found = []
    for match in _LIST_OF_WORDS.finditer(text):
        parts = _LIST_SEPARATOR.split(match.group())
        words = [part for part in parts if _WORD.fullmatch(part) and (part[1:].islower() or part.isupper())]
        if len(words) < 4 or len(words) < len(parts) or len({_shape(word) for word in words}) > 1 or (
                words[0].isupper() and not text.isupper()):
            continue  # codes ("miR-125a"), mixed case, acronyms
        items, position = [], 0
        for word in words:
            position = match.group().index(word, position)
            items.append((position, position + len(word)))
            position += len(word)
        given = sum(word.lower() in lexicon.first_names and not lexicon.is_plain_word(word) for word in words)
        if 2 * given < len(words):
            continue
        for (start, end), word in zip(items, words, strict=True):
            if word.lower() not in stop_words() and (lexicon.is_name(word) or (
                    not lexicon.is_english_word(word) and word.lower() not in lexicon.places)):
                found.append(Finding(match.start() + start, match.start() + end, "PERSON", 0.6, "name-list"))
    return found


def paired_subjects(text: str, lexicon: NameLexicon | None = None, *, known: Sequence[Finding] = ()) -> list[Finding]:
    """The two subjects of a sentence that starts "A and B were ..." in one case: each a known name
    or a word that is no English and no place, one a known name, not both English words ("Nickel and
    Little", "Notch and Wnt" are left); or one of them a known name that is a person already
    (`known`: the model's), the other then any word of its case that is no stop word and no place
    ("Kleist and Arnold", "SVENSSON AND KING")."""
    lexicon = lexicon or name_lexicon()
    people = {(f.start, f.end) for f in known if f.entity_type == "PERSON"}
    found = []
    for match in _PAIRED_SUBJECTS.finditer(text):
        words = [match.group(1), match.group(2)]
        # Beside a person the model reads, a town's name is a family name too ("Lynge and Hernandez were").
        beside_a_person = [(match.start(3 - i), match.end(3 - i)) in people and lexicon.is_name(words[2 - i])
                           for i in (1, 2)]
        if len({_shape(word) for word in words}) > 1 or any(
                len(word) < 3 or word.lower() in stop_words() or word.lower() in lexicon.places
                and not lexicon.is_name(word) and not (beside and word.lower() not in lexicon.countries)
                for word, beside in zip(words, beside_a_person, strict=True)):
            continue
        if words[0].isupper() and not text.isupper():
            continue  # acronyms
        names = [lexicon.is_name(word) for word in words]
        foreign = [not lexicon.is_english_word(word) for word in words]
        if any((match.start(i), match.end(i)) in people and names[i - 1] for i in (1, 2)) or any(names) and all(
                n or f for n, f in zip(names, foreign, strict=True)) and not all(
                lexicon.is_plain_word(word) for word in words):
            found += [Finding(match.start(i), match.end(i), "PERSON", 0.6, "name-paired") for i in (1, 2)]
    return found


# The speaker of "said Calle to David": a word between a verb of speech and "to" and a person.
_SPEAKER_TO = re.compile(r"\b(?i:said|asked|replied|whispered|shouted|explained)[ \t]+([^\W\d_][\w'’-]*)[ \t]+"
                         r"(?:to|TO)[ \t]+([^\W\d_][\w'’-]*)")


def speakers_to_people(text: str, lexicon: NameLexicon | None = None, *,
                       known: Sequence[Finding] = ()) -> list[Finding]:
    """Who speaks to a person ("said Calle to David", "SAID LEAL TO LOGAN"): the word after the verb
    when the word after "to" is a person already (`known`) or a known name, both in one case and
    neither a stop word; in lower case a known name or no English word."""
    lexicon = lexicon or name_lexicon()
    people = {(f.start, f.end) for f in known if f.entity_type == "PERSON"}
    found = []
    for match in _SPEAKER_TO.finditer(text):
        speaker, listener = match.group(1), match.group(2)
        if _shape(speaker) != _shape(listener) or _shape(speaker) == "lower" and lexicon.is_english_word(
                speaker) and not lexicon.is_name(speaker):
            continue  # "said goodbye to mary"
        if any(len(word) < 2 or word.lower() in stop_words() for word in (speaker, listener)):
            continue
        if (match.start(2), match.end(2)) in people or lexicon.is_name(listener):
            found.append(Finding(match.start(1), match.end(1), "PERSON", 0.6, "name-speaker"))
    return found
