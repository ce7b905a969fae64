"""The words of a text as the name rules see them (case, glue to codes, what the name lexicon knows
of each), the cues and titles that announce a name, and the spacing that joins words into one.
"""

from __future__ import annotations

import re

from ingest.pii.recognizers.lexicon import NameLexicon, stop_words

_TITLES = frozenset("""mr mrs ms miss mx dr prof sir madam dame lady lord herr frau mme mlle monsieur madame sr sra
srta""".split())
# Greetings the model reads into the name after them ("Hi filip"): never its first word.
_GREETINGS = frozenset({"hi", "hello", "hey", "dear"})
# Verbs of speech that are given names too ("Said"): in capitals ("SAID LEENA TO JOHN") the verb.
_SPEECH_VERBS = frozenset({"said", "says", "asked", "asks", "replied", "told"})
# Cues that come before other words as often as before names: a word after them is a name only
# if it is no English word.
_WEAK_NAME_CUES = frozenset("from by with ask asked tell told call called contact contacted meet met".split())
_NAME_CUES = frozenset("""dear hi hello hey thanks thank thx regards cheers sincerely name named ask asked
contact contacted tell told call called meet met from by with cc attn attention signed patient client
customer employee colleague manager boss wife husband son daughter mother father brother sister
friend partner mr mrs ms miss dr prof""".split())
_STRONG_NAME_CUES = _NAME_CUES - _WEAK_NAME_CUES
# Words that announce a name, strongest first: after "my name is", "call me", "signed:" any
# capitalised word is one; after a greeting, sign-off or form label a foreign word is one; after
# the weak ones ("from", "by", "i'm") a known given or family name is one.
_NAME_CUE_PATTERNS = (
    (3, re.compile(r"\bname(?:[ \t]+is|[ \t]*[:?])|\bnamed(?:[ \t]+(?:him|her|them))?\b|\bcall(?:s|ed)?[ \t]+me\b"
                   r"|\bsigned(?:[ \t]+by)?\b[ \t]*:?",
                   re.IGNORECASE)),
    (2, re.compile(r"\b(?:dear|hi|hello|hey|thanks|thank[ \t]+you|thx|regards|cheers|sincerely|attn|attention|cc"
                   r"|patient|spoke[ \t]+with|speak[ \t]+with|talk[ \t]+to|said|says|asked|asks|replied|replies|wrote"
                   r"|writes|(?:shouted|yelled|screamed|waved|smiled|winked|nodded)[ \t]+at"
                   # kin: "my kid crisipo", "the true gender of Kameta", "the widow of ..."
                   r"|(?:my|our|his|her|their|your|['’]s)[ \t]+(?:kids?|sons?|daughters?|wife|husband|partner"
                   r"|grand(?:father|mother|son|daughter)|nephew|niece)"
                   r"|(?:gender|widow|widower|funeral|murder|killers?)[ \t]+of"
                   # a former member or partner ("by ex-Zombie Himmel"); someone asked about ("Why is Armen so ...")
                   r"|ex-(?:(?-i:[A-Z])[^\W\d_]*|wife|husband|girlfriend|boyfriend|partner|member|colleague)"
                   r"(?=[ \t]+[^\W\d_])"  # "ex-Zombie Høgli", "EX-ZOMBIE MUIR"
                   r"|why[ \t]+(?:is|was)(?=[ \t]+[^\W\d_](?-i:[^\W\d_A-Z])*[ \t]+so\b))"
                   r"\b[ \t]*[,:]?", re.IGNORECASE)),
    (1, re.compile(r"\b(?:from|by|with|i'm|i[ \t]+am|this[ \t]+is|ask|tell|contact|manager[ \t]+is|client|customer"
                   r"|employee|partner|wife|husband|kid|son|daughter|add|me|to|and|at|called|heard|met|meet"
                   r"|starring|featuring|features|name"
                   # people by what they do: "songwriter yuuka shimasaki", "producer akifumi kichida"
                   r"|songwriter|producer|commenter|director|singer|author|composer|founders?"
                   # "tennis player walentyna pawłowska", "novelist ..."
                   r"|player|actor|actress|novelist|poet|painter|journalist|guitarist|drummer)\b[ \t]*[,:]?",
                   re.IGNORECASE)),
)
_AFTER_CUE = re.compile(r"[ \t]*\n?[ \t]*")


def _name_cues(text: str) -> dict[int, int]:
    """Offset of the word after each cue -> the cue's strength (3 strong, 2 greeting, 1 weak)."""
    cues: dict[int, int] = {}
    for strength, pattern in _NAME_CUE_PATTERNS:
        for match in pattern.finditer(text):
            position = _AFTER_CUE.match(text, match.end()).end()
            if cues.get(position, 0) < strength:
                cues[position] = strength
    return cues


_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
_SPACES = re.compile(r"[ \t]{1,3}")
_INITIAL_GAP = re.compile(r"\.?[ \t]{1,3}")
# "and" in the text's case: "ZEEB, HATFIELD AND PECK" in capitals.
_COORDINATION_AFTER = re.compile(r"[ \t]*(?:,[ \t]*(?:(?:and|AND|&)[ \t]+)?|[ \t]+(?:and|AND|&)[ \t]+)")
_COORDINATION_BEFORE = re.compile(r"(?:[ \t]*,[ \t]*|[ \t]+(?:and|AND|&)[ \t]+)\Z")


_INNER_CAPITALS = re.compile(r"(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|Fitz|IJ|[^\W\d_]*['’-])[^\W\d_]")
_PARTICLES_PATTERN = r"(?:[ \t]+(?:van|von|de|der|den|da|di|du|la|le|del|della|dos|das|do|ter|ten|bin|ibn|al)){1,3}[ \t]+"
_PARTICLE_RUN = re.compile(_PARTICLES_PATTERN)
_PARTICLE_RUN_ANY_CASE = re.compile(_PARTICLES_PATTERN, re.IGNORECASE)


class _Token:
    """A word of a text with what the name rules ask of it."""

    __slots__ = ("start", "end", "text", "lower", "shape", "cap", "glued", "first", "last", "surname", "plain",
                 "english", "place", "describing", "generic")

    def __init__(self, text: str, start: int, end: int, upper_line: bool, lexicon: NameLexicon) -> None:
        word = text[start:end]
        if len(word) > 3 and word[-2] in "'’" and word[-1] in "sS":  # a possessive: "Klaus's"
            word, end = word[:-2], end - 2
        self.start, self.end, self.text = start, end, word
        lower = self.lower = word.lower()
        if len(word) == 1:
            shape = "I" if word.isupper() else "i"
        elif word.isupper():
            shape = "U"
        elif word[0].isupper():
            # "NaN", "iPhone", "MySubclass" are codes; "McDonald", "DeShawn", "O'Brien" are names.
            inner = word[1:] != word[1:].lower() and not _INNER_CAPITALS.match(word)
            shape = "M" if inner else "T"
        else:
            shape = "L" if word.islower() else "M"
        self.shape = shape
        self.cap = shape == "T" or (shape == "U" and upper_line)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        # Part of a code, an e-mail address or a URL: "B-77120", "L2309", "www.LargeLists.ch".
        self.glued = (before.isdigit() or after.isdigit() or before in "@_/\\<=`" or after in "@_/\\=>(`"
                      or (shape in "Lil" and (before in "\"'" or after == '"' or (after == "'" and text[end + 1:end + 2]
                                                                                   != "s")))
                      or (after == "-" and text[end + 1:end + 2].isdigit())
                      or (before == "." and start > 1 and text[start - 2].isalnum())
                      or (after == "." and text[end + 1:end + 2].isalpha()))
        (self.first, self.last, self.surname, self.english, self.plain, self.place, self.describing,
         self.generic) = _word_facts(lower, lexicon)

    @property
    def known(self) -> bool:
        return self.first or self.surname

    @property
    def contraction(self) -> bool:
        """"I'm", "you'll", "WE'RE": a pronoun and a verb, never a name ("O'Brien" is one)."""
        head, apostrophe, _ = self.lower.replace("’", "'").partition("'")
        return bool(apostrophe) and head in stop_words()

    def same_case(self, other: _Token) -> bool:
        return (self.cap and other.cap) or (self.shape == "L" and other.shape == "L") or (
            self.shape == "U" and other.shape == "U")


_FACTS: dict[tuple[int, str], tuple[bool, ...]] = {}


def _word_facts(lower: str, lexicon: NameLexicon) -> tuple[bool, ...]:
    """(given name, family name, family name or common-word surname, English, plain English,
    place, verb-adjective-adverb, generic given name) for a lowercased word; memoised, words repeat."""
    key = (id(lexicon), lower)
    facts = _FACTS.get(key)
    if facts is not None:
        return facts
    parts = [p for p in lower.replace("’", "'").split("-") if p] if "-" in lower else None
    first_names, last_names = lexicon.first_names, lexicon.last_names
    first = lower in first_names or (bool(parts) and all(p in first_names for p in parts))
    last = lower in last_names or (bool(parts) and all(p in last_names or p in first_names for p in parts))
    surname = last or lower in lexicon.common_surnames
    if parts:
        english = all(lexicon.is_english_word(p) for p in parts)
        plain = all(lexicon.is_plain_word(p) for p in parts)
        describing = all(lexicon.is_describing_word(p) for p in parts)
    else:
        english = lexicon.is_english_word(lower)
        plain = english and lower not in lexicon.name_nouns
        describing = lexicon.is_describing_word(lower)
    facts = (first, last, surname, english, plain, lower in lexicon.places, describing,
             lower in lexicon.generic_first_names)
    if len(_FACTS) > 200_000:
        _FACTS.clear()
    _FACTS[key] = facts
    return facts


def _upper_lines(text: str) -> list[tuple[int, int]]:
    """Lines written in capitals (headers, forms, shouted text): there a capital starts no name."""
    spans = []
    whole = sum(map(str.isupper, text)) > 4 * sum(map(str.islower, text))
    position = 0
    for line in text.split("\n"):
        upper, lower = sum(map(str.isupper, line)), sum(map(str.islower, line))
        if (upper >= 4 and upper > 4 * lower) or (whole and not lower):
            spans.append((position, position + len(line)))
        position += len(line) + 1
    return spans


def _name_tokens(text: str, lexicon: NameLexicon, upper_line: bool | None = None) -> list[_Token]:
    """The words of `text`; `upper_line` says the whole text is (or is not) in capitals."""
    if upper_line is not None:
        return [_Token(text, m.start(), m.end(), upper_line, lexicon) for m in _NAME_TOKEN.finditer(text)]
    upper = _upper_lines(text)
    tokens = []
    line = 0
    for match in _NAME_TOKEN.finditer(text):
        start = match.start()
        while line < len(upper) and upper[line][1] < start:
            line += 1
        in_upper = line < len(upper) and upper[line][0] <= start
        tokens.append(_Token(text, start, match.end(), in_upper, lexicon))
    return tokens


def _sentence_start(text: str, start: int) -> bool:
    """Whether only punctuation, bullets or nothing stand between a line or sentence start and `start`."""
    index = start - 1
    while index >= 0 and not text[index].isalnum() and text[index] not in ".!?:;\n":
        index -= 1
    return index < 0 or text[index] in ".!?:;\n"


def _following(text: str, tokens: list[_Token], index: int) -> int | None:
    """Index of the token after tokens[index] on the same line, one to three spaces away."""
    following = index + 1
    if following < len(tokens) and _SPACES.fullmatch(text, tokens[index].end, tokens[following].start):
        return following
    return None


def _next_name_word(text: str, tokens: list[_Token], index: int) -> int | None:
    """Index of the word that may continue a name after tokens[index], skipping a middle initial."""
    following = _following(text, tokens, index)
    if following is None:
        return None
    initial = tokens[following]
    if initial.shape == "I" or (initial.shape == "i" and tokens[index].shape == "L"):
        after = following + 1
        if after < len(tokens) and _INITIAL_GAP.fullmatch(text, initial.end, tokens[after].start):
            return after
    return following


# Words of an address line that follow names in it ("Miss Kasey Young Suite 851", "Martin Linges veg"):
# they end a name, never continue it.
_ADDRESS_WORDS_AFTER_NAMES = frozenset("""suite ste apt apartment unit flat floor room bldg building street st
avenue ave road rd lane ln drive dr boulevard blvd parkway pkwy highway hwy crescent terrace plaza square
veg vej vei veien gate gata gatan gade straat weg utca""".split())


def _name_part(token: _Token, like: _Token) -> bool:
    """Whether `token` may continue a name whose previous part is `like`: a family name, or a word
    that is no verb, adjective or adverb ("Mr. julian wollaston"); never a word of an address."""
    return (not token.glued and len(token.text) > 1 and token.same_case(like) and token.lower not in stop_words()
            and token.lower not in _ADDRESS_WORDS_AFTER_NAMES and (token.surname or not token.describing))
