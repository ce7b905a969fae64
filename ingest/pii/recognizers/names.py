"""Names regardless of case, from the name lexicon (`ingest.pii.recognizers.lexicon`).

With cues ("my name is", "Dear", "said"), titles, middle initials, speaker labels, lists of names;
names the lexicon lacks by the part they play in the sentence (the subject of "began writing",
"Tiana's address", a speaker in a dialogue).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.pii.recognizers.common import Finding, has_context
from ingest.pii.recognizers.lexicon import _PARTICLES, COMMON_WORDS, NameLexicon, name_lexicon, stop_words
from ingest.pii.recognizers.name_tokens import (
    _COORDINATION_AFTER,
    _COORDINATION_BEFORE,
    _NAME_CUES,
    _PARTICLE_RUN_ANY_CASE,
    _SPACES,
    _SPEECH_VERBS,
    _STRONG_NAME_CUES,
    _TITLES,
    _WEAK_NAME_CUES,
    _following,
    _name_cues,
    _name_part,
    _name_tokens,
    _next_name_word,
    _sentence_start,
    _Token,
)


def _full_name(text: str, tokens: list[_Token], index: int, lexicon: NameLexicon) -> tuple[int, int, float] | None:
    """A given and a family name (any case), or two capitalised words one of which is a known name."""
    a = tokens[index]
    if a.glued or len(a.text) < 2 or a.shape in "IiM" or a.lower in stop_words() or a.contraction:
        return None  # "I'm Nicholas": the name is the second word alone
    if a.shape == "U" and a.lower in _SPEECH_VERBS:
        return None  # "SAID LEENA TO JOHN": "Said" is a given name, but not here
    if (a.plain and not a.known and index + 1 < len(tokens) and tokens[index + 1].first
            and not tokens[index + 1].plain and _full_name(text, tokens, index + 1, lexicon)):
        return None  # "Producer Rasmus Katajisto": the name starts after the word
    if a.first and not a.plain and (a.cap or a.shape == "L"):
        tail = _particle_tail(text, tokens, index)
        if tail != index:  # "Zachary van den IJssel", "Ana de la Cruz", "eliane van der vlist"
            return index, tail, 0.75
    following = _next_name_word(text, tokens, index)
    if following is None:
        # "MÜLLER, STEFAN": family name, comma, given name.
        after = index + 1
        if (after < len(tokens) and a.surname and tokens[after].first and a.same_case(tokens[after])
                and a.shape != "L" and re.fullmatch(r",[ \t]{1,2}", text[a.end:tokens[after].start])
                and not (a.plain and tokens[after].plain) and not tokens[after].glued
                and not _COORDINATION_BEFORE.search(text, max(0, a.start - 8), a.start)
                and not _COORDINATION_AFTER.match(text, tokens[after].end)):
            return index, after, 0.7  # not in a list of names: "Stefan, Jeremy, James and Ashley"
        return None
    b = tokens[following]
    if b.lower in _PARTICLES:  # "eliane van der vlist": a word that is no English, particles, a family name
        tail = _particle_tail(text, tokens, index)
        return (index, tail, 0.65) if tail != index and not a.english and not a.place and len(a.text) > 2 else None
    if b.glued or len(b.text) < 2 or b.lower in stop_words() or b.shape == "M":
        return None
    both_cap = a.cap and b.cap
    if following == index + 2 and a.first and not a.plain and both_cap:
        return index, following, 0.75  # "Rebecca A Hides": a given name, an initial, a family name
    if following == index + 2 and not a.first and a.lower not in stop_words() and (
            (both_cap and (not a.plain or a.lower in lexicon.common_given_names) and (b.surname or not b.plain))
            or (a.shape == b.shape == "L" and len(a.text) > 2 and not a.english and not b.english)):
        # Two words around a middle initial: "Bettine H. Roelink", "Felicity C. Marshall",
        # "chise t. horiguchi".
        return index, following, 0.7
    if (following == index + 2 and a.shape == b.shape == "L" and a.lower in lexicon.common_given_names and b.last
            and not b.plain and not b.place and text.startswith(".", tokens[index + 1].end)):
        return index, following, 0.7  # "mark d. wilson", "ginger e. kamps": a given name that is a word, an initial
    if both_cap and a.lower in lexicon.common_given_names and not b.plain and not b.place and (
            b.last or (not b.english and len(b.text) > 2)):
        return index, following, 0.7  # "Amber Watson", "Lily Solomina": a given name that is also a word
    # "držislav matić", "mohsin wilmsen": a word that is no English and no place before a family name,
    # both in lower case (names the lexicon lacks are mostly given names).
    lower_pair = (a.shape == b.shape == "L" and len(a.text) > 2 and not a.english and not a.place
                  and b.last and not b.plain and not b.place)
    # "Cirineo Barrios": a capitalised word that is no English before a family name that is a word too.
    foreign_pair = (both_cap and len(a.text) > 2 and not a.english and not a.place and not a.contraction
                    and a.lower not in _NAME_CUES
                    and (b.last or (b.first and not b.plain)) and not b.describing and not b.place)
    # "Dime Mitraković": a noun as given name before a family name that is no English word.
    foreign_pair = foreign_pair or (both_cap and following == index + 1 and b.last and not b.english
                                    and not a.describing and not a.place and a.lower not in COMMON_WORDS
                                    and not a.contraction and a.lower not in _NAME_CUES and a.lower not in _TITLES)
    # "Klaudijo Kundid", "Jordanka Kavran": two capitalised words that are no English and no place, alone
    # (no capitalised word before or after them: not "Mold Tek Packaging").
    unknown_pair = (a.shape == b.shape == "T" and following == index + 1 and len(a.text) > 2 and len(b.text) > 2
                    and not (a.english or b.english or a.place or b.place or a.contraction or b.contraction)
                    and a.text.isalpha() and b.text.replace("-", "").isalpha()
                    and not (index > 0 and tokens[index - 1].cap and _SPACES.fullmatch(text, tokens[index - 1].end,
                                                                                         a.start))
                    and not (following + 1 < len(tokens) and tokens[following + 1].cap
                             and _SPACES.fullmatch(text, b.end, tokens[following + 1].start))
                    and not _title_case_line(text, a.start))
    if not (a.first or a.last):
        if not ((both_cap and not a.plain and not a.place and b.surname and not b.plain) or lower_pair
                or foreign_pair or unknown_pair):
            return None
    score = 0.0
    if a.first and b.surname:
        if b.last:
            ok = both_cap or (a.same_case(b) and not (a.plain and b.plain))
        else:  # "john smith": a common word as family name, after a given name that is no word
            ok = both_cap or not a.plain
        score = 0.85 if ok else 0.0
    if not score and b.place and not b.known and (a.place or a.plain or b.english or not a.first):
        return None  # "Georgia Tbilisi"; but "mathias stene": a given name, then a foreign word
    if not score and a.first and not a.plain and both_cap and not b.describing:
        score = 0.7  # "Leigha Mackay", "Søren Kleist" (WordNet knows Kleist as a noun)
    elif not score and a.first and not a.plain and not b.describing and len(b.text) > 2 and a.same_case(b):
        score = 0.7  # "julian wollaston"
    elif not score and a.last and b.first and not a.plain and not b.plain and a.same_case(b):
        score = 0.7  # family name first: "chen jing"
    elif (not score and both_cap and not a.plain and not b.plain and (a.known or b.known)
          and not a.place and f"{a.lower} {b.lower}" not in lexicon.places):
        score = 0.65  # "Cirineo Barrios", "Maile Jaimes"
    elif not score and (lower_pair or foreign_pair):
        score = 0.65
    elif not score and unknown_pair:
        score = 0.6
    if not score:
        return None
    last = following
    extra = _next_name_word(text, tokens, last)  # also after a middle initial: "alojzija ana m. vujčič"
    if extra is not None and _name_part(tokens[extra], b) and not tokens[extra].place and (
            tokens[extra].last and (tokens[extra].shape == "T" or not tokens[extra].plain)
            or len(tokens[extra].text) > 2 and not tokens[extra].english and not tokens[extra].contraction
            and not a.plain and not b.plain):
        # "Ana Maria Popescu", "Milan Franc Košelnik"; in one case throughout, not "SONOKA MIKI FAN" or
        # "kíra schmidt fan"
        last = extra
    return index, _particle_tail(text, tokens, last), score


_QUESTION_INSIDE = re.compile(r"\?[ \t]+\S")


def _title_case_line(text: str, position: int) -> bool:
    """Whether the line at `position` is a heading in title case ("Polycomb Orthologs Regulate Nuclear
    Architecture"): four to twelve words, and four in five of those that are not function words
    capitalised (not in capitals: an upper-case line is shouted, not titled)."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start:end if end >= 0 else len(text)]
    if _QUESTION_INSIDE.search(line):
        return False  # "Bot: What's the name on the account? User: Kuroudo Uemura": a dialogue, no heading
    words = [word for word in re.findall(r"[^\W\d_][\w'’-]*", line) if word.lower() not in stop_words()]
    titled = sum(word[0].isupper() and not word.isupper() for word in words)
    return 4 <= len(words) <= 12 and 5 * titled >= 4 * len(words)


def _titled_name(text: str, tokens: list[_Token], index: int) -> tuple[int, int, float] | None:
    """The name after a title ("Dr. Okafor", "ms. joy voss"), the title left out."""
    title = tokens[index]
    if title.lower not in _TITLES or index + 1 >= len(tokens):
        return None
    first = index + 1
    gap = text[title.end:tokens[first].start]
    if not re.fullmatch(r"\.?[ \t]{1,3}", gap):
        return None
    name = tokens[first]
    if name.glued or name.lower in stop_words() or len(name.text) < 2 or not name.text.isalpha() and "-" not in \
            name.text and "'" not in name.text:
        return None
    if not (name.cap or name.known or not name.plain or (gap.startswith(".") and name.shape == "L")):
        return None
    last = first
    for _ in range(2):
        following = _next_name_word(text, tokens, last)
        if following is None or not _name_part(tokens[following], name):
            break
        last = following
    return first, _particle_tail(text, tokens, last), 0.8


def _cued_name(text: str, tokens: list[_Token], index: int, cues: dict[int, int]) -> tuple[int, int, float] | None:
    """A name announced by the words before it: "my name is Minoesch", "Hi Olamide", "from maria"."""
    token = tokens[index]
    strength = cues.get(token.start)
    if not strength or token.glued or token.lower in stop_words() or len(token.text) < 2 or token.shape in "IiM":
        return None
    if strength == 3:
        # After "my name is" / "Name:" even a word is a name when no other word follows it on its line
        # ("What's your last name? mahler") or a foreign one does ("Name: vignette gladu").
        following = _next_name_word(text, tokens, index)
        ok = token.cap or token.known or not token.plain or token.lower in name_lexicon().common_given_names or (
            not token.describing and (
            _LINE_END_AFTER.match(text, token.end) is not None
            or following is not None and tokens[following].shape == token.shape
            and not tokens[following].english and len(tokens[following].text) > 2))
    elif strength == 2:
        ok = (token.known or not token.plain) and (token.first or not token.place) or (
            # "Hi Felicity,", "Dear Grant:", "shouted at heather:": a given name that is a word too, addressed
            # alone, or asked about ("Why is Mark so ...")
            (token.cap or token.shape == "L") and token.lower in name_lexicon().common_given_names
            and (_ADDRESSED_AFTER.match(text, token.end) is not None or _SO_AFTER.match(text, token.end) is not None))
    else:
        ok = token.known and not token.place and not token.plain and (token.cap or token.shape == "L")
        if not ok and (token.shape in "TL" or token.cap) and len(token.text) > 2 and not token.english \
                and not token.place:
            # "by reinier hollink": two words that are no English after a weak cue are a name too, also
            # on a line in capitals ("DIRECTED BY: EDHEM JERNEJŠEK").
            following = _next_name_word(text, tokens, index)
            other = tokens[following] if following is not None else None
            if other is not None and other.shape == token.shape and not other.glued and len(other.text) > 2 and (
                    other.last or not other.english) and not other.place and other.lower not in stop_words() and (
                    token.text.isalpha() and other.text.isalpha()):
                return index, following, 0.6
        if not ok and (token.shape == "L" or token.cap) and token.lower in name_lexicon().common_given_names:
            # "sung by daisy buchanan", "tennis player amber melo": a given name that is a word too, then
            # a family name of the lists (not one that is a common word) in its case.
            following = _next_name_word(text, tokens, index)
            other = tokens[following] if following is not None else None
            if other is not None and other.shape == token.shape and not other.glued and not other.plain and (
                    other.lower in name_lexicon().last_names and not other.place and other.text.isalpha()) and (
                    _AGENT_BEFORE.search(text, max(0, token.start - 16), token.start)):
                return index, following, 0.6
    if not ok:
        return None
    last = index
    for _ in range(2):
        following = _next_name_word(text, tokens, last)
        if following is None or not _name_part(tokens[following], token) or tokens[following].place:
            break
        last = following
    return index, _particle_tail(text, tokens, last), 0.7


def _particle_tail(text: str, tokens: list[_Token], last: int) -> int:
    """The last word of a name that particles continue ("Willemine ten Pas", "Frits van den Heuvel",
    "CHRISTIANE DE VAAN"): the word after the particles, in the name's case; else `last`."""
    particles = _PARTICLE_RUN_ANY_CASE.match(text, tokens[last].end)
    if particles is None:
        return last
    after = next((i for i in range(last + 1, min(last + 5, len(tokens))) if tokens[i].start == particles.end()), None)
    if after is None:
        return last
    word = tokens[after]
    if (word.glued or len(word.text) < 2 or not word.same_case(tokens[last]) or word.lower in stop_words()
            or (word.describing and not word.surname) or word.place and not word.known):
        return last
    return after


# Who made or plays something: "sung by", "starring", "tennis player" (not "to add gregory ...").
_AGENT_BEFORE = re.compile(r"\b(?:by|starring|featuring|player|actor|actress|singer|songwriter|producer|director"
                           r"|author|composer|novelist|poet|painter|journalist)[ \t]+\Z", re.IGNORECASE)
_ADDRESSED_AFTER = re.compile(r"[ \t]*(?:[,!:]|\n|\Z)")
_SO_AFTER = re.compile(r"[ \t]+so\b", re.IGNORECASE)
_LOWER_WORD_NEXT = re.compile(r"[ \t]+[a-z]")
_LINE_END_AFTER = re.compile(r"[ \t]*[.!]?[ \t]*(?:\n|\Z)")
_LOCATIVE = re.compile(r"\b(?:in|at|from|to|near|via|into|towards?|of)[ \t]+\Z", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(r"\b(?:the|a|an|this|that|his|her|their|our|my|your|its)[ \t]+\Z", re.IGNORECASE)
_SPEAKER = re.compile(r"[ \t]*:[ \t]*\S")
_VOCATIVE_BEFORE = re.compile(r",[ \t]*\Z")
_ME_BEFORE = re.compile(r"(?<![\w'’])me[ \t]+\Z", re.IGNORECASE)
_COMMA_AFTER = re.compile(r"[ \t]*,")
_VOCATIVE_AFTER = re.compile(r"[ \t]*[?!]")
_VOCATIVE_AFTER_START = re.compile(
    r",[ \t]+(?:can|could|would|will|please|i|we|you|thanks|thank|how|what|do|did|are)\b", re.IGNORECASE)


def _line_start(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    return index < 0 or text[index] == "\n"


def _lone_name(text: str, tokens: list[_Token], index: int) -> float:
    """The score of a word that is a name on its own, or 0."""
    token = tokens[index]
    if token.glued or len(token.text) < 2 or token.shape in "IiM":
        return 0.0
    if token.last and not token.first and token.cap and not (token.english if token.shape == "U" else token.plain):
        if _sentence_start(text, token.start):
            if _LOWER_WORD_NEXT.match(text, token.end) and not token.place:
                return 0.55  # "Hermansen began writing": the subject of a sentence
        elif not (token.place and _LOCATIVE.search(text, max(0, token.start - 12), token.start)):
            return 0.6  # a family name mid-sentence, unless a place after "in", "at", "from"...
    if token.first and not token.place and _VOCATIVE_AFTER_START.match(text, token.end) and _line_start(
            text, token.start):
        return 0.7  # "Lechosław, can I please speak to your boss?"
    if (_ME_BEFORE.search(text, max(0, token.start - 4), token.start) and _COMMA_AFTER.match(text, token.end)
            and (token.cap or token.shape == "L") and (token.first or (
                len(token.text) > 3 and not token.english and not token.place))):
        return 0.65  # "to leave me sherill, four hungry children": someone addressed after "me"
    if (token.cap and token.lower in name_lexicon().common_given_names and _REQUEST_AFTER.match(text, token.end)
            and _line_start(text, token.start)):
        return 0.65  # "Sue, can I please speak to your boss?": a given name that is a word too, asked
    if token.first and (_SPEAKER.match(text, token.end) and _line_start(text, token.start)
                        or _VOCATIVE_BEFORE.search(text, max(0, token.start - 3), token.start)
                        and _VOCATIVE_AFTER.match(text, token.end)):
        return 0.7  # a speaker ("jared: You saved my life!") or someone addressed ("Remember me, Roy?")
    if (token.lower in name_lexicon().common_given_names and (token.cap or token.shape == "L")
            and _VOCATIVE_BEFORE.search(text, max(0, token.start - 3), token.start)
            and _VOCATIVE_AFTER.match(text, token.end)):
        return 0.65  # a given name that is a word too, addressed: "Remember me, April?", "Don't go, Heather!"
    if not token.first:
        if token.last and token.shape == "L" and len(token.text) > 4 and not token.english:
            return 0.55  # "says sandberg."
        return 0.0
    if token.place and _LOCATIVE.search(text, max(0, token.start - 12), token.start):
        return 0.0  # "moved here from France"
    if has_context(text, token.start, _STRONG_NAME_CUES, window=25, words=2) or (
            not token.plain and has_context(text, token.start, _WEAK_NAME_CUES, window=15, words=1)):
        return 0.7  # "dear priya", "thanks, ngozi", "at john"; "with its reason" is no name
    if token.cap and not token.place and not (token.plain and (
            token.shape == "U" or token.generic or _sentence_start(text, token.start)
            or _DETERMINER_BEFORE.search(text, max(0, token.start - 8), token.start))):
        return 0.6  # capitalised; in capitals ("THIS SONG") only a name that is no English word
    if token.shape == "L" and len(token.text) > 3 and not token.english and not token.generic:
        return 0.55  # "why is liisa so impulsive?"
    return 0.0


# Verbs whose subject is a person, right after a sentence's first words: "Fumio had given", "Rendor
# shouted at", "Lyberth began writing", "Motochika spent a year". Organisations say and write things too.
_SPEECH_VERB_AFTER = re.compile(r"[ \t]+(?:said|says|asked|asks|told|tells|replied|replies|wrote|writes)\b",
                                re.IGNORECASE)
_PERSON_VERB_AFTER = re.compile(
    r"[ \t]+(?:began|begins|spent|spends|shouted|shouts|yelled|whispered|lives|lived|married|died|graduated"
    r"|(?:had|has)[ \t]+(?:given|told|asked|sent|written)|gave|was[ \t]+born|is[ \t]+from"
    r"|will[ \t]+be[ \t]+talking)\b", re.IGNORECASE)
# What only a person has ("Jovica's kid", "Sheri's daughter"), or a person or a company ("Tiana's address").
_KIN_AFTER = re.compile(
    r"['’]s[ \t]+(?:kids?|sons?|daughters?|wife|husband|mother|father|mom|mum|dad|parents|brother|sister"
    r"|children|boss|girlfriend|boyfriend|birthday)\b", re.IGNORECASE)
_CONTACT_AFTER = re.compile(r"['’]s[ \t]+(?:address|home|phone)\b", re.IGNORECASE)
# "here's Nivi's address:" over the address's lines: someone's address handed on, not a company's letterhead.
_ADDRESS_GIVEN_AFTER = re.compile(r"['’]s[ \t]+(?:home[ \t]+)?address[ \t]*:[ \t]*\n", re.IGNORECASE)
# Whoever a sentence quotes with their job between commas: "joža slavković, the Field sales supervisor, said".
_QUOTED_WITH_JOB_AFTER = re.compile(r",[ \t]+(?:the|a|an|our|their)[ \t]+[^,.\n]{2,60},[ \t]+(?:said|says|explained"
                                    r"|added|told|stated|noted)\b", re.IGNORECASE)
# A person of an organisation, in lower case after a company's possessive or in a list: "CO.LTD.'s shuntarou
# yamane", ", yuuna shigeki of ProShares".
_OWNER_OR_LIST_BEFORE = re.compile(r"(?:['’]s|,|^)[ \t]*\Z", re.MULTILINE)
_OF_ORGANISATION_AFTER = re.compile(r"[ \t]+of[ \t]+[A-Z]")
# "had given Csanád his address": whoever is given something of their own.
_GIVING_VERB_BEFORE = re.compile(r"\b(?:given|gave|give|gives|sent|send|sends|showed|shown|show|handed|hand|told"
                                 r"|tell|tells|offered|owe|owes|owed)[ \t]+\Z", re.IGNORECASE)
_POSSESSIVE_PRONOUN_AFTER = re.compile(r"[ \t]+(?:his|her|their)\b", re.IGNORECASE)
# A speaker label before a quote or a sentence: "Nayla: \"Who are you?\"", "Beaufort: What a wife."
_SPEAKER_BEFORE_SPEECH = re.compile(r"[ \t]*:[ \t]*(?:[\"“]|[A-Z][a-z']*[ \t]+[a-z])")
_SPEAKER_BEFORE_QUOTE = re.compile(r"[ \t]*:[ \t]*[\"“]")
# A line of a dialogue: "Michelle: Remember me, John?".
_DIALOGUE_LINE = re.compile(r"[ \t]*[^\W\d_][\w'’-]*[ \t]*:[ \t]*\S")
# Someone asked something at the start of a line: "yaco, can I please ...", not "dirpath, do ...".
_REQUEST_AFTER = re.compile(r",[ \t]+(?:can|could|would|will)[ \t]+(?:i|you|we)\b", re.IGNORECASE)
# The score of a name found by its part in the sentence alone where a company could play that part
# ("Microsoft said", "Acme's address"): below the lexicon's, so that the model's reading of the word
# as an organisation or a work overrules it (see ingest.pii.redact). Parts only people play score more.
ROLE_NAME_SCORE = 0.58
_PERSON_ROLE_SCORE = 0.62


def _in_dialogue(text: str, start: int) -> bool:
    """Whether the line before or after the one at `start` is a speaker's line too: a label before a
    sentence is a speaker only in a dialogue ("Shellingham: Tool to Detect Surrounding Shell" is a title)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if line_end >= 0 and _DIALOGUE_LINE.match(text, line_end + 1):
        return True
    if line_start > 0:
        previous = text.rfind("\n", 0, line_start - 1) + 1
        return _DIALOGUE_LINE.match(text, previous, line_start) is not None
    return False


def _role_word(token: _Token, second: bool = False, person_only: bool = False) -> bool:
    """Whether a word may be a name that only its part in the sentence shows: a known name, or no
    English word and no place; a second word (a family name) may also be a place ("Colombo"). Where
    only a person plays the part (`person_only`: "Summer's daughter", "had given Amber his address"),
    a given name that is a word too (in lower case only before a family name: see `_role_name`)."""
    if (token.glued or len(token.text) < 2 or token.shape in "IiM" or token.lower in stop_words()
            or token.contraction or token.lower in _NAME_CUES or not (token.cap or token.shape == "L")):
        return False
    if second:
        return not token.describing and (token.known or not token.plain or token.place)
    return (len(token.text) > 2 and not token.english and not token.place) or (
        token.known and (token.first or not token.place)) or (
        person_only and (token.cap or token.shape == "L") and token.lower in name_lexicon().common_given_names)


def _person_only_role(text: str, tokens: list[_Token], index: int, end: int) -> bool:
    """Whether the words ending at `end` play a part only a person plays: kin ("Jovica's kid"),
    whoever is given something of their own ("had given Amber his address"), whose address is handed
    on ("here's Nivi's address:"), who is quoted with their job ("joža slavković, the Field sales
    supervisor, said") or who stands for an organisation in lower case ("CO.LTD.'s shuntarou yamane")."""
    token = tokens[index]
    if _KIN_AFTER.match(text, end) or _ADDRESS_GIVEN_AFTER.match(text, end) or (
            _POSSESSIVE_PRONOUN_AFTER.match(text, end) and _GIVING_VERB_BEFORE.search(
                text, max(0, token.start - 12), token.start)):
        return True
    if _QUOTED_WITH_JOB_AFTER.match(text, end) and _sentence_start(text, token.start):
        return True
    return (token.shape == "L" and end != token.end and _OWNER_OR_LIST_BEFORE.search(
        text, max(0, token.start - 4), token.start) is not None
        and (_OF_ORGANISATION_AFTER.match(text, end) is not None
             or text[max(0, token.start - 3):token.start].rstrip(" \t")[-2:] in ("'s", "’s")))


def _role_name(text: str, tokens: list[_Token], index: int) -> tuple[int, int, float] | None:
    """One or two words that the sentence shows to be a person: the subject of a verb of people at
    the start of a sentence, whoever has an address or kin, whoever is given something of their own,
    a speaker, or someone addressed at the start of a line ("Yaco, can I ...")."""
    token = tokens[index]
    if not _role_word(token, person_only=True):
        return None
    plain_role_word = _role_word(token)
    following = _next_name_word(text, tokens, index)
    candidates = [index]
    if following is not None and tokens[following].same_case(token) and _role_word(tokens[following], True):
        candidates.insert(0, following)
    for last in candidates:
        end = tokens[last].end
        score = 0.0
        if not plain_role_word and token.shape == "L" and (last == index or not tokens[last].last):
            continue  # in lower case a given name that is a word is one only before a family name: "holly gordon"
        if _person_only_role(text, tokens, index, end):
            score = _PERSON_ROLE_SCORE
        elif not plain_role_word:
            continue  # a given name that is a word too plays only a person's part
        elif _sentence_start(text, token.start) and _PERSON_VERB_AFTER.match(text, end):
            score = _PERSON_ROLE_SCORE
        elif _CONTACT_AFTER.match(text, end) or (
                _sentence_start(text, token.start) and _SPEECH_VERB_AFTER.match(text, end)):
            score = ROLE_NAME_SCORE
        elif last == index and (not token.known or token.first) and _line_start(text, token.start) and (
                _REQUEST_AFTER.match(text, end) or _SPEAKER_BEFORE_QUOTE.match(text, end) if token.shape == "L"
                else _VOCATIVE_AFTER_START.match(text, end) or _SPEAKER_BEFORE_QUOTE.match(text, end)
                or _SPEAKER_BEFORE_SPEECH.match(text, end) and _in_dialogue(text, token.start)):
            # "Yaco, can I ...", "Sini, can I ...", "Nayla: \"Who are you?\"", not "args: A list of ..."
            score = _PERSON_ROLE_SCORE
        if score:
            return index, last, score
    return None


def find_names(text: str, lexicon: NameLexicon | None = None, *, known: Sequence[Finding] = ()) -> list[Finding]:
    """Names the spaCy model misses: any case, from the name lexicon and a few cues.

    - a given name and a family name in the lexicon, any case (`maria gonzalez`, `JOHN O'BRIEN`,
      `john smith`), or with a capitalised or foreign word (`Leigha Mackay`, `julian wollaston`);
    - a title + a name (`Dr. Okafor`, `ms. joy voss`), the title excluded;
    - a word after a cue that announces a name (`my name is Minoesch`, `Hi Olamide`);
    - a lone given name after a cue such as `dear` or `thanks`, capitalised, or foreign in lower case;
      a lone capitalised family name mid-sentence;
    - names in a list with a name found here or in `known` (`Zeeb, Hatfield and Peck`);
    - one or two words the lexicon lacks, by the part they play: the subject of a verb of people
      (`Lyberth began writing`), whoever has an address or kin (`Tiana's address`), a speaker in a
      dialogue, someone addressed at the start of a line (`Yaco, can I ...`).
    Places (countries, regions, towns) alone are no names.
    """
    lexicon = lexicon or name_lexicon()
    tokens = _name_tokens(text, lexicon)
    cues = _name_cues(text)
    findings: list[Finding] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        found = (_titled_name(text, tokens, index) or _full_name(text, tokens, index, lexicon)
                 or _cued_name(text, tokens, index, cues)
                 or ((token.known or not token.english or token.lower in lexicon.common_given_names)
                     and _role_name(text, tokens, index)))
        if found:
            first, last, score = found
            findings.append(Finding(tokens[first].start, tokens[last].end, "PERSON", score, "name-lexicon"))
            index = last + 1
            continue
        score = _lone_name(text, tokens, index)
        if score:
            findings.append(Finding(tokens[index].start, tokens[index].end, "PERSON", score, "name-lexicon"))
        index += 1
    return findings + _coordinated(text, tokens, [*findings, *known])


def _coordinated(text: str, tokens: list[_Token], seeds: Sequence[Finding]) -> list[Finding]:
    """Words listed with a name ("Zeeb, Hatfield and Peck") that could be names are names too."""
    if not seeds or not tokens:
        return []
    by_start = {token.start: i for i, token in enumerate(tokens)}
    by_end = {token.end: i for i, token in enumerate(tokens)}
    covered = [(seed.start, seed.end) for seed in seeds]
    found: list[Finding] = []
    queue = [(seed.start, seed.end) for seed in seeds]
    while queue:
        start, end = queue.pop()
        like = tokens[by_start[start]] if start in by_start else None
        if like is None:
            continue
        after = _COORDINATION_AFTER.match(text, end)
        if after and after.end() in by_start:
            candidate = _listed_name(text, tokens, by_start[after.end()], like, forward=True)
            if candidate and _apposition(text, after, tokens[by_start[after.end()]]):
                candidate = None
            if candidate and not any(s < candidate[1] and candidate[0] < e for s, e in covered):
                covered.append(candidate)
                queue.append(candidate)
                found.append(Finding(candidate[0], candidate[1], "PERSON", 0.6, "name-lexicon"))
        before = _COORDINATION_BEFORE.search(text, max(0, start - 8), start)
        if before and before.start() in by_end:
            candidate = _listed_name(text, tokens, by_end[before.start()], like, forward=False)
            if candidate and not any(s < candidate[1] and candidate[0] < e for s, e in covered):
                covered.append(candidate)
                queue.append(candidate)
                found.append(Finding(candidate[0], candidate[1], "PERSON", 0.6, "name-lexicon"))
    return found


def _apposition(text: str, gap: re.Match[str], token: _Token) -> bool:
    """Whether an English word in lower case after a name and a comma alone describes it rather than
    continues a list: "jean-luc picard, captain" (a list goes on: "stensby, parks and morse")."""
    return (token.shape == "L" and token.english and "," in gap.group() and not re.search(r"and|AND|&", gap.group())
            and not _COORDINATION_AFTER.match(text, token.end))


def _listed_name(text: str, tokens: list[_Token], index: int, like: _Token,
                 forward: bool) -> tuple[int, int] | None:
    """The one- or two-word name at tokens[index] in a list with `like`, or None."""
    token = tokens[index]
    if not _listable(text, token, like):
        return None
    if forward:
        following = _following(text, tokens, index)
        if following is not None and _listable(text, tokens[following], like) and tokens[following].surname:
            return token.start, tokens[following].end
        return token.start, token.end
    if index > 0 and _SPACES.fullmatch(text, tokens[index - 1].end, token.start) \
            and _listable(text, tokens[index - 1], like) and tokens[index - 1].first:
        return tokens[index - 1].start, token.end
    return token.start, token.end


_NUMBER_NEXT = re.compile(r"[ \t]+\d")


def _listable(text: str, token: _Token, like: _Token) -> bool:
    # A place that is a family name too ("Deguchi and Durham") may be listed with a name.
    if (token.glued or (token.place and not token.known) or len(token.text) < 2 or token.lower in stop_words()
            or token.shape in "IiM" or token.contraction or _NUMBER_NEXT.match(text, token.end)):
        return False  # "Monika and Turjaška 48": a street, not a second name
    if like.cap:
        return token.cap and (token.known or not token.plain)
    # In lower case a name the lexicon lacks is still no English word: "stensby, parks and morse".
    return token.shape == like.shape and (token.known or (
        like.known and len(token.text) > 3 and token.text.isalpha() and not token.english))
