"""Recognisers for the PII that Presidio's defaults miss or over-match.

Presidio's own recognisers are kept where they are strong (e-mail, IBANs with the mod-97 check,
US SSNs, IP addresses). Added here:

- card numbers of 12 to 19 digits with the Luhn check (Presidio's pattern stops at 17 digits);
- IBANs in lower or mixed case, and SSNs in any layout next to words that say so;
- names regardless of case, from first and last names of Faker's 80-odd locales (Cyrillic ones
  also romanised), told apart from English words (WordNet's, through spaCy's lemmatizer) and from
  places (Faker's towns and countries, the time-zone database's cities); with cues ("my name is",
  "Dear", "said"), titles, middle initials, speaker labels, lists of names; names the lexicon lacks
  by the part they play in the sentence (the subject of "began writing", "Tiana's address", a
  speaker in a dialogue); a filter for the spans spaCy's model tags as people (`person_span_parts`);
  and one for every person found (`refine_people`: no company, street or town names);
- phone numbers of any country, also glued to text, checked by digit count and layout and, with a
  country code, by `phonenumbers`;
- street addresses in many languages, grown by building numbers, apartment lines, a crossing street
  and a complete postal tail, or the town and country lines of a block quoted in running text;
  post-office boxes and military addresses; the postcode that ends an address block;
- US driver's licences only next to words that say so (Presidio's pattern takes any
  letter-and-digits code for one);
- a tenant's deny list.

Every recogniser returns `Finding`s: offsets, type, score and its own name. Values never leave.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers

from ingest.core.imports import modules_hidden


@dataclass(frozen=True, slots=True)
class Finding:
    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str


def preceding_words(text: str, start: int, window: int = 40, words: int = 4) -> list[str]:
    """The last few words before `start`, lowercased: the context a finding is judged by."""
    return re.findall(r"[\w#']+", text[max(0, start - window):start].lower())[-words:]


def has_context(text: str, start: int, cues: Iterable[str], *, window: int = 40, words: int = 4) -> bool:
    before = preceding_words(text, start, window, words)
    cue_set = set(cues)
    return any(word in cue_set or word.rstrip("s") in cue_set for word in before) or (
        "#" in cue_set and "#" in text[max(0, start - 3):start])


# --- names --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NameLexicon:
    first_names: frozenset[str]
    last_names: frozenset[str]
    english_words: frozenset[str]  # lemmas of English nouns, verbs, adjectives and adverbs
    # WordNet nouns that are nothing but names in it ("christie", "brandt", "mathias"): words to the
    # rules that take a lone word, names to those that take a word next to another name.
    name_nouns: frozenset[str] = frozenset()
    # Family names that are common words ("smith", "baker"): a surname only right after a given name.
    common_surnames: frozenset[str] = frozenset()
    # Countries, regions and towns, lowercased: a lone capitalised place is no person.
    places: frozenset[str] = frozenset()
    # Country names (in the languages of the address providers), lowercased: the last line of an address block.
    countries: frozenset[str] = frozenset()
    # Given names that are common words ("amber", "grace"): names only next to a family name.
    common_given_names: frozenset[str] = frozenset()
    # Given names only the generic English list has ("true", "reason", "bell"): no name alone when
    # they are English words.
    generic_first_names: frozenset[str] = frozenset()
    # WordNet's verbs, adjectives and adverbs with their irregular forms: words that name nobody
    # even next to a given name ("JOHN SMITH LISTED"), where a noun may be a family name.
    describing_words: frozenset[str] = frozenset()

    def is_english_word(self, word: str) -> bool:
        """Whether WordNet or the common-word list knows the word, inflected forms included."""
        return _in_vocabulary(word, self.english_words)

    def is_plain_word(self, word: str) -> bool:
        """An English word that is more than a name: WordNet's nouns that only name people are names here."""
        return word.lower() not in self.name_nouns and self.is_english_word(word)

    def is_describing_word(self, word: str) -> bool:
        return _in_vocabulary(word, self.describing_words)

    def is_name(self, word: str) -> bool:
        lower = word.lower()
        return lower in self.first_names or lower in self.last_names or lower in self.common_surnames


def _in_vocabulary(word: str, vocabulary: frozenset[str]) -> bool:
    """The word, or a lemma it is an inflection of, is in `vocabulary` or is a common or stop word."""
    word = word.lower()
    if word in vocabulary or word in COMMON_WORDS or word in stop_words():
        return True
    return any(stem in vocabulary for stem in _stems(word))


def _stems(word: str) -> tuple[str, ...]:
    """Candidate lemmas of an inflected word: plurals (-s, -es, -ies), past (-ed) and gerund (-ing)."""
    if len(word) < 4:
        return ()
    stems = []
    if word.endswith("ies"):
        stems += [word[:-3] + "y", word[:-1]]  # "parties", "lies"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        stems.append(word[:-1])
        if word.endswith(("ses", "xes", "zes", "ches", "shes")):
            stems.append(word[:-2])
    if word.endswith("ied"):
        stems += [word[:-3] + "y", word[:-1]]  # "carried", "tied"
    elif word.endswith("ed"):
        stems += [word[:-2], word[:-1]]
        if len(word) > 5 and word[-3] == word[-4]:
            stems.append(word[:-3])  # "stopped"
    if word.endswith("ing") and len(word) > 5:
        stems += [word[:-3], word[:-3] + "e"]
        if word[-4] == word[-5]:
            stems.append(word[:-4])  # "running"
    return tuple(stems)


def _names(provider: type, attributes: Sequence[str]) -> Iterator[str]:
    for attribute in attributes:
        value = provider.__dict__.get(attribute)
        # Some locales weight names (a dict name -> weight); some define properties: skip those.
        if isinstance(value, list | tuple | set | frozenset | dict):
            for name in value:
                name = str(name).strip().lower()
                if len(name) >= 2 and name.replace("-", "").replace("'", "").isalpha():
                    yield name
                    if not name.isascii():
                        yield from _romanised(name)


# Russian, Ukrainian and Bulgarian names are written in Cyrillic by Faker's locales; documents in
# English write them in Latin letters ("Kovalev", "Vsevolod").
_CYRILLIC = dict(zip("абвгдезийклмнопрстуфыэъьіїєґ", [
    "a", "b", "v", "g", "d", "e", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f", "y",
    "e", "", "", "i", "yi", "ye", "g"], strict=True))
_CYRILLIC.update({"ё": "e", "ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ю": "yu",
                  "я": "ya"})


def _romanised(name: str) -> Iterator[str]:
    if not all(c in _CYRILLIC or c in "-'" for c in name):
        return
    latin = "".join(_CYRILLIC.get(c, c) for c in name)
    yield latin
    if name[0] in "её":
        yield "y" + latin  # "Yevgeny" as well as "Evgeny"
    if name.endswith(("ий", "ый")):
        yield latin[:-2] + "y"  # "Dmitry", not "Dmitriy"


# Particles of names and addresses: parts of a name, never a name alone.
_PARTICLES = frozenset("de da di du la le van von der den del della dos das des do al el bin ibn ter ten y e".split())
_FIRST_NAME_ATTRIBUTES = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
                          "first_names_unisex", "first_romanized_names", "first_romanized_names_male",
                          "first_romanized_names_female", "first_names_est", "first_names_rus")
_LAST_NAME_ATTRIBUTES = ("last_names", "last_names_male", "last_names_female", "last_romanized_names",
                         "last_names_est", "last_names_rus", "last_names_common", "last_names_unisex")
_PLACE_ATTRIBUTES = ("countries", "cities", "city_names", "states", "provinces", "regions", "counties", "cantons",
                     "departments", "prefectures", "real_city_names", "estados", "distritos", "region_names")


@functools.cache
def name_lexicon() -> NameLexicon:
    """First and last names of every Faker locale, lowercased (about 30,000 of each), with the
    English words and places they are told apart from."""
    from faker.config import AVAILABLE_LOCALES

    first: set[str] = set()
    last: set[str] = set()
    places: set[str] = set()
    countries: set[str] = set()
    generic: set[str] = set()
    for locale in AVAILABLE_LOCALES:
        try:
            module = importlib.import_module(f"faker.providers.person.{locale}")
        except ImportError:
            pass
        else:
            names = set(_names(module.Provider, _FIRST_NAME_ATTRIBUTES))
            (generic if locale == "en" else first).update(names)
            last.update(_names(module.Provider, _LAST_NAME_ATTRIBUTES))
        try:
            module = importlib.import_module(f"faker.providers.address.{locale}")
        except ImportError:
            continue
        for attribute in _PLACE_ATTRIBUTES:
            value = module.Provider.__dict__.get(attribute)
            if isinstance(value, list | tuple | set | frozenset | dict):
                places.update(str(place).strip().lower() for place in value)
                if attribute == "countries":
                    countries.update(str(place).strip().lower() for place in value)
    places.update(_time_zone_cities())
    # The generic "en" list (tens of thousands of given names, "True" and "Reason" among them) adds
    # names; those that are English words count only next to a family name or after a cue.
    generic_only = generic - first
    first |= generic
    english, nouns_only, describing = _english_words()
    excluded = stop_words() | COMMON_WORDS | _PARTICLES
    names = first | last
    # English function words that are also names somewhere ("will", "may") would match everywhere.
    return NameLexicon(frozenset(first - excluded), frozenset(last - excluded), english,
                       name_nouns=frozenset((nouns_only & names) - COMMON_WORDS),
                       common_surnames=frozenset((last & COMMON_WORDS) - stop_words()),
                       common_given_names=frozenset((first & COMMON_WORDS) - stop_words()),
                       generic_first_names=frozenset(generic_only - excluded),
                       places=frozenset(places - {""}), describing_words=describing,
                       countries=frozenset(countries - {""}))


def _comparatives(adjective: str) -> tuple[str, ...]:
    if adjective.endswith("e"):
        return adjective + "r", adjective + "st"
    if adjective.endswith("y"):
        return adjective[:-1] + "ier", adjective[:-1] + "iest"
    forms = (adjective + "er", adjective + "est")
    if adjective[-1] not in "aeiouwxy" and adjective[-2] in "aeiou" and adjective[-3] not in "aeiou":
        forms += (adjective + adjective[-1] + "er", adjective + adjective[-1] + "est")  # "bigger"
    return forms


def _time_zone_cities() -> set[str]:
    """The cities and regions the time-zone database names ("Europe/London" -> "london"): the
    major cities of the world, from the standard library."""
    import zoneinfo

    try:
        zones = zoneinfo.available_timezones()
    except Exception:  # noqa: BLE001  (no time-zone data on this machine: no cities from it)
        return set()
    return {zone.rsplit("/", 1)[-1].replace("_", " ").lower() for zone in zones
            if "/" in zone and not zone.startswith("Etc/")}


def _english_words() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The lemma index of the spaCy model's lemmatizer (WordNet's word lists) with its irregular
    forms ("began", "sung"), loaded alone; the words it lists only as nouns; and its verbs,
    adjectives and adverbs."""
    import spacy

    nlp = spacy.load("en_core_web_sm", exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "ner"])
    lookups = nlp.get_pipe("lemmatizer").lookups
    index = lookups.get_table("lemma_index")
    words = {pos: {word for word in index[pos] if "_" not in word} for pos in ("noun", "verb", "adj", "adv")}
    irregular = {pos: set(lookups.get_table("lemma_exc")[pos]) for pos in ("noun", "verb", "adj", "adv")}
    # Parts of fixed phrases ("vice versa", "ad hoc") and the regular comparatives of short
    # adjectives ("clearer", "biggest", "happier").
    for pos in ("adj", "adv"):
        irregular[pos] |= {part for word in index[pos] if "_" in word for part in word.split("_") if len(part) > 2}
    irregular["adj"] |= {form for adjective in words["adj"] if 2 < len(adjective) < 9 and adjective.isalpha()
                         for form in _comparatives(adjective)}
    everything = set().union(*words.values(), *irregular.values())
    describing = set().union(*(words[pos] | irregular[pos] for pos in ("verb", "adj", "adv")))
    # WordNet lists some given names as words ("john", "maria"); those stay names.
    return frozenset(everything), frozenset(words["noun"] - describing), frozenset(describing)



# Frequent English words that some locale lists as a name; lowercase text uses them as words.
COMMON_WORDS = frozenset("""
a an the and or but if of to in on at by for with from as is it be are was were this that these those
all any some no not yes so than then there here when where who whom what which how why can could would
should will shall may might must do does did done have has had get got make made see seen say said
go went come came take took give gave find found know knew think thought look looked want wanted use
used work worked call called try tried ask asked need needed feel felt become became leave left put
mean meant keep kept let begin began seem seemed help helped talk talked turn turned start started show
showed hear heard play played run ran move moved like liked live lived believe brought happen happened
write wrote provide sit stand lose lost pay paid meet met include continue set learn change lead
understand watch follow stop create speak read allow add spend grow open walk win offer remember love
consider appear buy wait serve die send expect build stay fall cut reach kill remain suggest raise pass
sell require report decide pull new good first last long great little own other old right big high
different small large next early young important few public bad same able best better sure free full
special easy clear recent late hard major real whole dark wide white black red green blue brown gray
grey gold silver rose pink orange violet amber ruby pearl ivory coral olive hazel jade iris lily daisy
holly ivy heather fern willow ash oak pine river lake sea ocean sky star sun moon rain snow storm
summer winter spring autumn fall may june july august april march day night morning evening dawn
hope faith joy grace mercy honor honour glory justice liberty harmony serenity patience prudence
charity constance felicity trinity destiny unity will mark bill bob pat rob sue don jack frank grant
guy lance chase chance cash price page king queen prince princess duke earl baron knight bishop
pope major sergeant marshal dean judge baker smith cook carter fisher hunter miller taylor turner
walker wood woods hill hills field fields brook brooks stone stones rock banks bank ford park parks
street streets road lane way hall wall church bridge house home land island bay beach port station
city town north south east west central new old state united kingdom republic union office center
centre group company inc ltd corp service services system systems data team support customer client
account card number phone email address order ticket part code case item note notes report date time
price total amount account key lock door gate window table desk chair bed book letter word words
name names person people man woman men women child children boy girl baby son daughter father mother
brother sister family friend friends doctor nurse teacher student worker member members manager
power energy light water fire earth air gas oil salt sugar honey candy cherry apple berry peach plum
lemon ginger pepper basil sage rosemary thyme mint clay sandy dusty rusty misty stormy sunny
monday tuesday wednesday thursday friday saturday sunday january february october november december
media danish english french german dutch swedish polish italian spanish irish scottish welsh
happy lucky merry jolly sharp swift strong noble royal rich poor fair fine dear sweet bright
""".split())


@functools.cache
def stop_words() -> frozenset[str]:
    """spaCy's English stop words, imported on first use: importing spaCy imports thinc and with it
    PyTorch (about 4 s), which a process that only orchestrates the stages never needs."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


_TITLES = frozenset("""mr mrs ms miss mx dr prof sir madam dame lady lord herr frau mme mlle monsieur madame sr sra
srta""".split())
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
                   r"|writes|(?:shouted|yelled|screamed|waved|smiled|winked|nodded)[ \t]+at)"
                   r"\b[ \t]*[,:]?", re.IGNORECASE)),
    (1, re.compile(r"\b(?:from|by|with|i'm|i[ \t]+am|this[ \t]+is|ask|tell|contact|manager[ \t]+is|client|customer"
                   r"|employee|partner|wife|husband|kid|son|daughter|add|me|to|and|at)\b[ \t]*[,:]?", re.IGNORECASE)),
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
_COORDINATION_AFTER = re.compile(r"[ \t]*(?:,[ \t]*(?:(?:and|&)[ \t]+)?|[ \t]+(?:and|&)[ \t]+)")
_COORDINATION_BEFORE = re.compile(r"(?:[ \t]*,[ \t]*|[ \t]+(?:and|&)[ \t]+)\Z")


_INNER_CAPITALS = re.compile(r"(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|Fitz|IJ|[^\W\d_]*['’-])[^\W\d_]")
_PARTICLE_RUN = re.compile(
    r"(?:[ \t]+(?:van|von|de|der|den|da|di|du|la|le|del|della|dos|das|do|ter|ten|bin|ibn|al)){1,3}[ \t]+")


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


def _full_name(text: str, tokens: list[_Token], index: int, lexicon: NameLexicon) -> tuple[int, int, float] | None:
    """A given and a family name (any case), or two capitalised words one of which is a known name."""
    a = tokens[index]
    if a.glued or len(a.text) < 2 or a.shape in "IiM" or a.lower in stop_words():
        return None
    if a.first and a.cap and not a.plain:
        particles = _PARTICLE_RUN.match(text, a.end)
        if particles is not None:  # "Zachary van den IJssel", "Ana de la Cruz"
            after = next((i for i in range(index + 1, min(index + 5, len(tokens)))
                          if tokens[i].start == particles.end()), None)
            if after is not None and tokens[after].cap and not tokens[after].glued:
                return index, after, 0.75
    following = _next_name_word(text, tokens, index)
    if following is None:
        # "MÜLLER, STEFAN": family name, comma, given name.
        after = index + 1
        if (after < len(tokens) and a.surname and tokens[after].first and a.same_case(tokens[after])
                and a.shape != "L" and re.fullmatch(r",[ \t]{1,2}", text[a.end:tokens[after].start])
                and not (a.plain and tokens[after].plain) and not tokens[after].glued):
            return index, after, 0.7
        return None
    b = tokens[following]
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
    if not (a.first or a.last):
        if not ((both_cap and not a.plain and not a.place and b.surname and not b.plain) or lower_pair
                or foreign_pair):
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
    if not score:
        return None
    last = following
    extra = _following(text, tokens, last)
    if extra is not None and tokens[extra].last and _name_part(tokens[extra], b) and not tokens[extra].place and (
            tokens[extra].shape == "T" or not tokens[extra].plain):
        last = extra  # "Ana Maria Popescu"; in one case throughout, not "SONOKA MIKI FAN" or "kíra schmidt fan"
    return index, last, score


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
    return first, last, 0.8


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
        ok = token.cap or token.known or not token.plain or (not token.describing and (
            _LINE_END_AFTER.match(text, token.end) is not None
            or following is not None and tokens[following].shape == token.shape
            and not tokens[following].english and len(tokens[following].text) > 2))
    elif strength == 2:
        ok = (token.known or not token.plain) and (token.first or not token.place)
    else:
        ok = token.known and not token.place and not token.plain and (token.cap or token.shape == "L")
        if not ok and token.shape in "TL" and len(token.text) > 2 and not token.english and not token.place:
            # "by reinier hollink": two words that are no English after a weak cue are a name too.
            following = _next_name_word(text, tokens, index)
            other = tokens[following] if following is not None else None
            if other is not None and other.shape == token.shape and not other.glued and len(other.text) > 2 and (
                    other.last or not other.english) and not other.place and other.lower not in stop_words() and (
                    token.text.isalpha() and other.text.isalpha()):
                return index, following, 0.6
    if not ok:
        return None
    last = index
    for _ in range(2):
        following = _next_name_word(text, tokens, last)
        if following is None or not _name_part(tokens[following], token) or tokens[following].place:
            break
        last = following
    return index, last, 0.7


_LOWER_WORD_NEXT = re.compile(r"[ \t]+[a-z]")
_LINE_END_AFTER = re.compile(r"[ \t]*[.!]?[ \t]*(?:\n|\Z)")
_LOCATIVE = re.compile(r"\b(?:in|at|from|to|near|via|into|towards?|of)[ \t]+\Z", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(r"\b(?:the|a|an|this|that|his|her|their|our|my|your|its)[ \t]+\Z", re.IGNORECASE)
_SPEAKER = re.compile(r"[ \t]*:[ \t]*\S")
_VOCATIVE_BEFORE = re.compile(r",[ \t]*\Z")
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
    if token.first and (_SPEAKER.match(text, token.end) and _line_start(text, token.start)
                        or _VOCATIVE_BEFORE.search(text, max(0, token.start - 3), token.start)
                        and _VOCATIVE_AFTER.match(text, token.end)):
        return 0.7  # a speaker ("jared: You saved my life!") or someone addressed ("Remember me, Roy?")
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


def _role_word(token: _Token, second: bool = False) -> bool:
    """Whether a word may be a name that only its part in the sentence shows: a known name, or no
    English word and no place; a second word (a family name) may also be a place ("Colombo")."""
    if (token.glued or len(token.text) < 2 or token.shape in "IiM" or token.lower in stop_words()
            or token.contraction or token.lower in _NAME_CUES or not (token.cap or token.shape == "L")):
        return False
    if second:
        return not token.describing and (token.known or not token.plain or token.place)
    return (len(token.text) > 2 and not token.english and not token.place) or (
        token.known and (token.first or not token.place))


def _role_name(text: str, tokens: list[_Token], index: int) -> tuple[int, int, float] | None:
    """One or two words that the sentence shows to be a person: the subject of a verb of people at
    the start of a sentence, whoever has an address or kin, whoever is given something of their own,
    a speaker, or someone addressed at the start of a line ("Yaco, can I ...")."""
    token = tokens[index]
    if not _role_word(token):
        return None
    following = _next_name_word(text, tokens, index)
    candidates = [index]
    if following is not None and tokens[following].same_case(token) and _role_word(tokens[following], True):
        candidates.insert(0, following)
    for last in candidates:
        end = tokens[last].end
        score = 0.0
        if _KIN_AFTER.match(text, end) or (_POSSESSIVE_PRONOUN_AFTER.match(text, end) and _GIVING_VERB_BEFORE.search(
                text, max(0, token.start - 12), token.start)):
            score = _PERSON_ROLE_SCORE
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
                 or ((token.known or not token.english) and _role_name(text, tokens, index)))
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



_CONNECTORS_IN_NAMES = frozenset({"and", "&"})
# Words after which a single word is where someone is or goes, not who.
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:in|near|into|arrived[ \t]+at|(?:flew|travel(?:l?ed)?|trip|moved|drove|went)[ \t]+to"
    r"|moved(?:[ \t]+here)?[ \t]+from|city(?:[ \t]+of)?|town(?:[ \t]+of)?|village(?:[ \t]+of)?)[ \t]+)\Z",
    re.IGNORECASE)

# Legal forms that end a company's name ("Savannah Petroleum PLC", "Raymond James Financial Inc."):
# the words before them name a company, even when they are a person's name.
_LEGAL_FORMS = frozenset("""inc inc. incorporated ltd ltd. llc l.l.c. plc corp corp. corporation gmbh ag sa s.a.
nv n.v. bv b.v. ab asa oy oyj spa s.p.a. srl s.r.l. sarl sas kgaa llp limited bancorp fund etf""".split())
_FOLLOWING_WORD = re.compile(r"[ \t]*([^\s,;:()\"]+)")
_STREET_WORD_AFTER = re.compile(
    r"[ \t]+(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Drive|Boulevard|Blvd\.?|Parkway|Highway|Terrace"
    r"|Crescent|STREET|AVENUE|ROAD|LANE|DRIVE|BOULEVARD|veg|vej|vei|veien|gate|gata|gatan|gade|straat|utca)\b")
# A street type as the last word of a "name": "Mills Street" (Lane and Drive are family names too).
_STREET_WORD_LAST = re.compile(r"[ \t](?:Street|STREET|Avenue|AVENUE|Road|ROAD|Boulevard|BOULEVARD|Straße|Strasse)\Z")
_POST_NOMINAL = re.compile(r",?[ \t]+(?:Jr\.?|Sr\.?|JR\.?|SR\.?|PhD|Ph\.D\.|PHD|MD|M\.D\.|DDS|DVM|Esq\.|ESQ\.|II|III"
                           r"|IV)(?![\w-])")


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
                    or _STREET_WORD_LAST.search(text, finding.start, finding.end)
                    or _town_line(text, finding, findings)):
                continue
            suffix = _POST_NOMINAL.match(text, finding.end)
            if suffix is not None:
                finding = Finding(finding.start, suffix.end(), "PERSON", finding.score, finding.recognizer)
        refined.append(finding)
    return refined


def _company_name(text: str, finding: Finding) -> bool:
    """Whether the span's last word, or one of the next six capitalised words, is a legal form."""
    words = text[finding.start:finding.end].split()
    if len(words) > 1 and _legal_form(words[-1]):
        return True
    position = finding.end
    for _ in range(6):
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
    return word in _LEGAL_FORMS or word.rstrip(".") in _LEGAL_FORMS


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
        while len(group) > 1 and ((not group[-1].known and lexicon.is_describing_word(group[-1].lower))
                                  or group[-1].shape == "I" or group[-1].lower in _PARTICLES):
            group = group[:-1]  # "John O'Brien Signed", "Matias Anwar Listed"
        if not group or not _person_like(group, lexicon, upper_line):
            continue
        if len(group) == 1 and not group[0].first and _PLACE_BEFORE.search(
                text, max(0, group[0].start + line_start - 30), group[0].start + line_start):
            continue  # "I am in Várbalog", "flew to Itapebí": a town the model took for a person
        parts.append((group[0].start + line_start, group[-1].end + line_start))
    return parts


def _person_like(group: list[_Token], lexicon: NameLexicon, upper_line: bool) -> bool:
    if len(group) == 1:
        token = group[0]
        return (len(token.text) > 1 and not token.plain and not token.place and token.shape != "I"
                and (token.shape != "U" or upper_line or token.known))
    if all(token.plain and not token.known for token in group):
        return False
    if " ".join(token.lower for token in group) in lexicon.places:
        return False
    return upper_line or not all(token.shape in "UI" for token in group) or any(token.known for token in group)


# --- phone numbers --------------------------------------------------------------

# Letters may touch the number ("at+44 20...", "tel:0049..."): text extracted from PDFs often glues them.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\d+\-/])(?<!\d[.,])"
    r"((?:\+|00)?\(?\d[\d \t().\-/]{4,20}\d)"
    r"(?:\s?(?:x|ext\.?|extension)\s?(\d{1,5}))?(?![\w@])",
    re.IGNORECASE,
)
_PHONE_CUES = frozenset("""phone telephone tel tél mobile mob cell cellphone fax call ph tlf telefon telefono
telefone téléphone celular móvil movil handy whatsapp sms text txt message messaging answer answering ring reach
contact number desk office home work landline hotline dial""".split())
# Letters glued to a number that still let it be a phone number: "at+44 20 ...", "tel0049 ...".
_PHONE_GLUE = _PHONE_CUES | {"at", "on", "to", "no", "nr", "or", "and"}
_PHONE_CUE_AFTER = re.compile(r"[\s-]{0,3}(?:office|fax|mobile|cell|home|work|phone|tel)\b", re.IGNORECASE)
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})")
_TIME_AFTER_DATE = re.compile(r"[ \t]+\d{1,2}")
_SSN_LIKE = re.compile(r"\d{3}-\d{2}-\d{4}")
_IPV4_LIKE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DECIMAL = re.compile(r"[+-]?\d+[.,]\d+")


def _is_date(candidate: str, after: str = "") -> bool:
    """A date ("2024-03-15", "15.03.2024"), or a date and the hour of a time ("2024-03-15 14" before
    ":30"). A number that only starts like one ("01.42.68.53.00", "0049-30-1234567") is none."""
    date = _DATE_LIKE.match(candidate)
    if date is None:
        return False
    rest = candidate[date.end():]
    return not rest or (after.startswith(":") and _TIME_AFTER_DATE.fullmatch(rest) is not None)


def _phone_score(candidate: str, cued: bool, after: str = "") -> float:
    digits = re.sub(r"\D", "", candidate)
    if not (7 if not cued else 6) <= len(digits) <= 15:
        return 0.0
    if _is_date(candidate, after) or _SSN_LIKE.fullmatch(candidate) or _IPV4_LIKE.fullmatch(candidate) \
            or _DECIMAL.fullmatch(candidate):
        return 0.0
    groups = [g for g in re.split(r"[ \t().\-/]+", candidate.lstrip("+")) if g]
    if all(re.fullmatch(r"(19|20)\d\d", g) for g in groups):
        return 0.0  # a list of years
    if candidate.startswith(("+", "00")):
        try:
            number = phonenumbers.parse("+" + digits[2:] if candidate.startswith("00") else candidate, None)
            score = 0.95 if phonenumbers.is_possible_number(number) else 0.5
        except phonenumbers.NumberParseException:
            score = 0.4
    elif "(" in candidate or re.search(r"\d[-.]\d", candidate):
        score = 0.75  # a typical written layout: area code in brackets, dashes or dots
    elif len(groups) >= 2 and all(len(g) <= (6 if len(digits) >= 8 else 5) for g in groups[1:]):
        score = 0.6  # digits grouped by spaces ("020 7946 0018", "96 466712")
    else:
        score = 0.35  # a bare run of digits: a phone number only when the words around say so
    if cued:
        score = min(1.0, score + 0.35)
    return score


def find_phone_numbers(text: str) -> list[Finding]:
    findings = []
    for match in _PHONE_CANDIDATE.finditer(text):
        candidate = match.group(1).rstrip(" \t-/.(")
        start = match.start(1)
        if re.search(r"[ \t]{2}", candidate):
            continue  # columns of a table ("8     8    10  1000"), not one number
        if candidate.startswith("(") and ")" not in candidate:
            candidate, start = candidate[1:], start + 1
        end = match.end(2) if match.group(2) else start + len(candidate)
        if start and text[start - 1].isalpha():
            glued = re.search(r"[^\W\d_]+$", text[max(0, start - 20):start])
            if glued and glued.group().lower() not in _PHONE_GLUE:
                continue  # part of a code such as "Uo5128682" or "INV0098812"
        cued = has_context(text, start, _PHONE_CUES, window=30, words=3) or bool(
            _PHONE_CUE_AFTER.match(text, end))
        score = _phone_score(candidate, cued, text[end:end + 1])
        if score > 0:
            findings.append(Finding(start, end, "PHONE_NUMBER", score, "phone"))
    return findings


# --- street addresses -------------------------------------------------------------
#
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

# Street types written after the name (USPS suffixes and their abbreviations, British and
# Australian ones); most are words too, so a street needs a capitalised name and mostly a number.
_STREET_TYPES = frozenset("""
street st str avenue ave av road rd drive dr lane ln row way wy boulevard blvd bvd court ct courts place pl
square sq terrace terr ter circle circles cir crescent cres close cl gardens gdns garden parkway parkways pkwy
highway hwy freeway fwy expressway expy motorway trail trl junction junctions jct view views walk mews grove
groves grv hill hills park parks estate estates heights hts ridge ridges path pike plaza plz alley aly loop
point points pt union unions mission cape wall walls lake lakes burg burgs crossing xing passage quay wharf
green greens ford fords fort meadow meadows harbor harbour harbors vista villa villas ville valley valleys run
oval canal promenade esplanade embankment rise throughway viaduct plain plains center centers centre centres
cove coves shoal shoals spring springs forest forge forges creek crest curve dale dam divide falls ferry field
fields flat flats glen glens haven hollow inlet island islands isle key keys knoll knolls landing light lights
lock locks lodge manor manors mill mills mount mountain mountains orchard overpass pass pine pines port ports
prairie radial ramp ranch rapid rapids rest route shore shores skyway station stravenue stream summit track
trafficway tunnel turnpike underpass village villages well wells bypass byway causeway circus concourse
parade arcade approach broadway brook brooks branch bridge canyon cliff cliffs club common commons corner
corners course extension extensions fork forks gateway neck spur loaf drives roads streets lanes avenues ways
places squares trails walks ridges land camp mall river trace crossroad spurs
""".split())
# Types that make a street of capitalised words without a number ("Smit Mills Street").
_STRONG_STREET_TYPES = frozenset("""street avenue road boulevard lane drive parkway highway crescent terrace
throughway viaduct expressway freeway""".split())
# Street types written before the name, in many languages ("Rua ...", "rue ...", "ul. ...").
_STREET_PREFIXES = frozenset("""
rua r. r rúa rue via viale vicolo piazza piazzale corso largo strada contrada borgo avenida avda. avda av. avenue
calle c/ carrer carretera ctra. paseo passeig plaza praça praca travessa estrada alameda rodovia ladeira
bairro ul. ulica al. aleja pl. plac os. osiedle str. bd. bulevardul boulevard bulevar chemin allée impasse quai
place route rambla ronda camino jalan jl. lorong rruga odos leoforos λεωφόρος λεωφ. οδός οδος πλατεία πλ.
ulitsa
prospekt caddesi sokak cesta trg
""".split())
# Prefixes that are English words or common abbreviations: a street only with a number.
_WEAK_PREFIXES = frozenset("via place route plaza boulevard avenue corso largo al. pl. r. r av. os. str. bd. "
                           "cesta trg".split())
# Street types written as a separate word after the name in other languages ("Bécsi utca 35.").
_STREET_POSTFIXES = frozenset("""
utca u. út útja körút krt. tér köz sétány ulica ul. gate gata gatan vej vei veien veg vegen gade stræde straat
terrasse
laan weg str. strasse straße platz gasse allee katu tie kuja polku aqq. vägen väg gränd stígur braut vegur
sokak sokağı caddesi cad. bulvarı náměstí nám. třída ulice cesta trg
""".split())
# The same types glued to the name ("Hauptstraße", "Noordstraat", "Alingsåsvägen", "Fitjabraut").
_GLUED_STREET_SUFFIXES = tuple("""
straße strasse str. weg gasse platz allee damm ufer steig pfad ring vej gade gaard gård stræde stræti gata
gatan gränd vägen väg veien vegen gate stígur braut vegur laan straat kade gracht plein dreef singel steeg
katu tie polku kuja utca útja körút ulice náměstí třída cesta ulica terrasse løkka bakken torget vænget
""".split())
_PARTICLE = (r"(?:de|del|della|delle|dello|dei|degli|da|do|dos|das|di|du|la|le|les|van|von|der|den|des|los|las|am"
             r"|an|im|zum|zur|of|the|el|al|y|t|na|nad|pod|pri|u)")
# A lower-case word inside a street name ("Trg revolucije", "Árpád fejedelem útja"): checked to be no
# English word where it is used.
_LOWER_WORD = r"[a-zß-öø-ÿā-ž][\w'’-]*"
# Month names of the languages whose street names are read here: "12 March 2024", "3 avril 2023".
_MONTHS = frozenset("""jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june
july august september october november december janvier février mars avril mai juin juillet août septembre
octobre novembre décembre enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre
diciembre januar februar märz juni juli oktober dezember gennaio febbraio aprile maggio giugno luglio settembre
ottobre dicembre janeiro fevereiro março maio junho julho setembro outubro novembro dezembro""".split())
# English function words that no street name holds ("5 Musicians Of The 70s").
_ENGLISH_FUNCTION_WORDS = frozenset("of the and or for to in on at by with from is are was were this that a".split())
_CAP_START = r"[A-ZÀ-ÖØ-ÞĀ-ſΑ-ΩΆ-ΏА-Я]"
_CAP = rf"{_CAP_START}[\w'’-]*\.?"
_NUMBER = r"\d{1,5}[a-zA-Z]?(?:[-/]\d{1,4}[a-zA-Z]?)?"
_NAME_WORD = rf"(?:{_CAP}|{_PARTICLE})"
_ADDRESS_KEYWORD = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(word) for word in sorted(
        _STREET_TYPES | _STREET_PREFIXES | _STREET_POSTFIXES, key=len, reverse=True)) + r")(?![\w])",
    re.IGNORECASE)
_CAPITALISED_WORD = re.compile(rf"(?<![\w]){_CAP_START}[\w'’-]*(?:\.(?![\w]))?")
# What may stand before a street type: building numbers, then one to four name words.
_NAME_BEFORE = re.compile(rf"(?:{_NUMBER}[ \t]+){{0,2}}(?:{_NAME_WORD}[ \t]+){{1,4}}\Z")
_NUMBERS_BEFORE = re.compile(rf"(?:{_NUMBER}[ \t]+){{1,2}}\Z")
_AFTER_TYPE = re.compile(
    rf"\.?(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\b\.?)?(?:[ \t]+{_NUMBER}(?![\w-]|[.,]\d)\.?)?")
_NAME_AFTER_PREFIX = re.compile(
    rf"[ \t]*(?:{_NAME_WORD}[ \t]+){{0,5}}{_CAP}(?:[ \t]*,?[ \t]+{_NUMBER}(?![\w-]|[.,]\d)\.?)?")
_WORDS_AFTER_PREFIX = re.compile(r"[ \t]*[^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,5}")
_NUMBER_AFTER_NAME = re.compile(rf"[ \t]*,?[ \t]+{_NUMBER}(?![\w-]|[.,]\d)\.?")
_NUMBER_AFTER = re.compile(rf"[ \t]+{_NUMBER}(?![\w-]|[.,]\d)\.?")
# Two numbers around foreign words ("637 Strojírenská 1006"), or words and a number ("Harevænget 23").
_NUMBERED_NAME = re.compile(
    rf"(?<![\w.,/-])(?:({_NUMBER})[ \t]+){{0,2}}({_CAP}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?(?:{_CAP}|{_LOWER_WORD})){{0,3}})"
    rf"[ \t]+({_NUMBER})"
    rf"(?![\w-]|[.,]\d|[ \t]*%)\.?")
_SECONDARY_WORDS = r"(?:apt|apartment|suite|ste|unit|flat|fl|floor|room|rm|bldg|building)"
_SECONDARY = re.compile(rf"(?<![\w])(?:{_SECONDARY_WORDS}\.?[ \t]*#?|#)[ \t]*\d{{1,5}}[a-zA-Z]?(?![\w.-]|\.\d)",
                        re.IGNORECASE)
# Alone, only the unambiguous words ("Suite 026"), never "room 4" or "floor 3".
_LONE_SECONDARY = re.compile(r"(?<![\w])(?:Apt|APT|Apartment|APARTMENT|Suite|SUITE|Ste|STE|Unit|UNIT|Flat|FLAT)"
                             r"(?:\.[ \t]*|[ \t]+|[ \t]*#[ \t]*)\d{1,5}[a-zA-Z]?(?![\w.-]|\.\d)")
_SECONDARY_AFTER = re.compile(rf"(?:[ \t]*,?[ \t]*{_SECONDARY.pattern})+", re.IGNORECASE)
_SECONDARY_NEXT_LINE = re.compile(
    rf"[ \t]*\n[^\w\n]{{0,6}}(?:{_SECONDARY.pattern})(?:[ \t]*,?[ \t]*{_SECONDARY.pattern})*[ \t]*(?=\n|$)",
    re.IGNORECASE)
_SECONDARY_BEFORE = re.compile(rf"(?:{_SECONDARY.pattern})[ \t]*,?[ \t]*\Z", re.IGNORECASE)
_PO_BOX = re.compile(
    r"(?<!\w)(?:p\.?[ \t]?o\.?[ \t]?box|post[ \t]?office[ \t]box|postbox|postboks|postfach"
    r"|(?:psc|unit|cmr)[ \t]+\d{3,5},?[ \t]*box)[ \t]*\d{1,6}(?:[ \t]*\n?[ \t]*[ADF]PO[ \t]+A[AEP][ \t]+\d{5})?"
    r"|(?<!\w)(?:USS|USNS|USNV|USCGC)[ \t]+[^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’-]*)?[ \t]*\n?[ \t]*"
    r"FPO[ \t]+A[AEP][ \t]+\d{5}",
    re.IGNORECASE | re.UNICODE)
_POSTCODE = (r"(?:\d{5}-\d{4}|\d{3}[ ]\d{2}|\d{4,6}|[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|[A-Z]\d[A-Z][ ]\d[A-Z]\d"
             r"|\d{4}[ ]?[A-Z]{2})")
_PLACE_WORD = rf"(?:{_CAP}|\({_CAP}\))"
_PLACE_NAME = rf"{_CAP}(?:[ \t]+(?:{_PLACE_WORD}|{_PARTICLE})){{0,3}}"
# ", City, Country 12345" or ", City, ST 12345": the postal tail of a one-line address.
_COMMA_TAIL = re.compile(rf"(?:[ \t]*,[ \t]*{_PLACE_NAME}){{1,3}}(?:,?[ \t]+{_POSTCODE})?(?=[ \t]*(?:[.?!;:)]|\n|$)"
                         r"|[ \t]+[a-z])")
# After an apartment or suite: "Apt. 542 KÖTTMANNSDORF Austria", "Suite 646 Telc VY".
_SPACE_TAIL = re.compile(rf"(?:[ \t]+{_PLACE_WORD}){{1,4}}"
                         rf"(?:(?:[ \t]+{_PARTICLE}){{1,2}}(?:[ \t]+{_PLACE_WORD}){{1,3}})?"
                         rf"(?:[ \t]+{_POSTCODE})?(?=[ \t]*(?:[.?!;:,)]|\n|$)"
                         r"|[ \t]+[a-z])")
# "\nCity\n, ST\n 12345", "\nCity, ST 12345": a US-style locality (the comma says the state follows).
_LOCALITY_LINES = re.compile(
    rf"[ \t]*\n[^\w\n]{{0,6}}{_PLACE_NAME}(?:[ \t]*\n[ \t]*,[ \t]*|[ \t]*,[ \t]*)[A-Z]{{2,3}}"
    rf"(?:[ \t]*\n[^\w\n]{{0,6}}|[ \t]+)(?:{_PLACE_NAME}[ \t]+)?{_POSTCODE}(?![\w])")
# A country (or town) line ending in a postcode, within the lines after a street line.
_POSTCODE_LINE = re.compile(rf"\n[^\w\n]{{0,6}}{_PLACE_NAME}[ \t]+({_POSTCODE})[ \t]*(?=\n|$)")
_PLACE_LINE = re.compile(rf"\n[^\w\n]{{0,6}}{_PLACE_NAME}[ \t]*(?=\n)|\n[ \t]*(?=\n)")
# A line of an address block below the street line: a town or a country, with a state code or a
# postcode or neither ("\n Montevideo", "\n Uruguay 05730", "\n Cyprus (Greek) 42486"). Only a plain,
# maybe indented line continues the block: a bullet or a blank line starts something else.
_BLOCK_LINE = re.compile(
    rf"[ \t]*\n[ \t]*({_PLACE_NAME})(?:[ \t]*,?[ \t]+[A-Z]{{2,3}})?(?:[ \t]*,?[ \t]+({_POSTCODE}))?"
    r"(?=[ \t]*(?:[.?!;:,)]|\n|$)|[ \t]+[a-z])")
_WORD_CHARACTER = re.compile(r"\w")
# A form label on the line above a street line: the field's value is the whole block under it.
_ADDRESS_LABEL_LINE = re.compile(r"(?i)\baddress[ \t]*:[ \t]*\n[ \t\n]*\Z")
_STATE_CODE_END = re.compile(r"[ \t]+[A-Z]{2,3}\Z")
# The country line under a town line, maybe after a blank line: "\n Norway 88336", "\n\n Slovenia 58616".
_COUNTRY_LINE_AFTER = re.compile(
    rf"\n(?:[ \t]*\n)?[^\w\n]{{0,6}}({_PLACE_NAME})(?:[ \t]+{_POSTCODE})?[ \t]*[.,]?[ \t]*(?=\n|$)")
_BLOCK_LINE_END = re.compile(r"[ \t]*(?:[.?!;:,)]|\n|$)")
# Country names in English that the address providers' lists write otherwise or leave out.
_COUNTRY_ALIASES = frozenset({"united states", "united states of america", "united kingdom", "great britain",
                              "england", "scotland", "wales", "northern ireland", "uk", "usa", "u.s.a."})
_DIGIT = re.compile(r"\d")
_NEXT_SPACE = re.compile(r"\s+")
_STRONG_TYPE_WORD = re.compile(r"(?i)street|avenue|road|boulevard|lane|drive")
_LEADING_ENGLISH = re.compile(r"(?:(?:of|the|and)[ \t]+)+")
_INTERSECTION = re.compile(r"(?:[ \t]+St\.?)?[ \t]+(?:and|&)[ \t]+")
_WORD_AND_BEFORE = re.compile(rf"(?<![\w])({_CAP})[ \t]+and[ \t]+\Z")
_ADDRESS_CUES = frozenset("""address addresses adresse lives live living located location at to on in moved move
ship shipped send sent deliver delivered delivery meet visit street corner reside resides residing side near
opposite""".split())


# Words before a street written as name and number ("lives on Harevænget 23"); not "in", which
# comes before towns ("in Ezzahra 2034").
_STREET_CUES = _ADDRESS_CUES - {"in"}


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


def _prefixed_street(text: str, start: int, end: int, keyword: str, lexicon: NameLexicon) -> _Street | None:
    """A street type, then name words: "Rua Arapiraca 1943", "12 rue Isambard", "ul. Karpacka 69",
    "Trg revolucije 33" (lower-case words of other languages too)."""
    run = _WORDS_AFTER_PREFIX.match(text, end)
    if run is None:
        return None
    names: list[str] = []
    stop = end
    for word in re.finditer(r"[^\s]+", run.group()):
        value = word.group()
        if not (_is_capitalised(value) or re.fullmatch(_PARTICLE, value.lower())
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
            and not re.match(r"[ \t]+St\b", text[match.end():]):
        return None  # "Phillips 66 Partners": a name, not a street
    if has_context(text, match.start(), _STREET_CUES, window=30, words=3):
        return _Street(match.start(), match.end(), 0.75, True)
    return None


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
        if not any(s <= match.start() < e for s, e in covered):
            findings.append(Finding(match.start(), match.end(), "STREET_ADDRESS", 0.7, "street-address"))
    return findings


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


def _extend_street(text: str, street: _Street, lexicon: NameLexicon) -> None:
    """Grow a street line by its apartment lines, a crossing street's name before it and its postal tail."""
    street.secondary = _SECONDARY.search(text, street.start, street.end) is not None
    before = _SECONDARY_BEFORE.search(text, max(0, street.start - 20), street.start)
    if before is not None:
        street.start = before.start()
    word_and = _WORD_AND_BEFORE.search(text, max(0, street.start - 40), street.start)
    if word_and is not None and (_sentence_start_or_line(text, word_and.start())
                                 or has_context(text, word_and.start(), _ADDRESS_CUES, window=30, words=3)):
        street.start = word_and.start()  # "Monika and Turjaška 48": a crossing
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
            text, max(0, line_start - 40), line_start):
        return  # a street line of its own: its block's town and country lines are lines of their own
    block_end = _block_lines(text, street.end, lexicon, street.secondary)
    if block_end is not None:
        street.end = block_end


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
        if not (place.isupper() or name in lexicon.places
                or not all(lexicon.is_english_word(word) for word in words)):
            plain_town = True
        position = line.end()
    return None


def _sentence_start_or_line(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    return index < 0 or text[index] in "\n:"


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


# --- driver's licences ---------------------------------------------------------------

_LICENCE = re.compile(r"(?<![\w-])(?:[A-Za-z]\d{4,14}|[A-Za-z]{2}\d{5,12}|\d{7,12})(?![\w-])")
_LICENCE_CUES = frozenset("""driver driver's drivers driving licence license licenses licences dl dln
permit""".split())


def find_driver_licences(text: str) -> list[Finding]:
    return [Finding(m.start(), m.end(), "US_DRIVER_LICENSE", 0.8, "us-driver-licence+context")
            for m in _LICENCE.finditer(text)
            if has_context(text, m.start(), _LICENCE_CUES, window=40, words=5)]


# --- deny list -----------------------------------------------------------------------

def find_denied(text: str, terms: Sequence[str]) -> list[Finding]:
    if not terms:
        return []
    pattern = _deny_pattern(tuple(terms))
    return [Finding(m.start(), m.end(), "CUSTOM", 1.0, "deny-list") for m in pattern.finditer(text)]


@functools.cache
def _deny_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


# --- card numbers ------------------------------------------------------------------------

# 12 to 19 digits, in groups separated by single spaces or dashes (Maestro has 12, some Visa 19;
# Presidio's pattern stops at 17).
_CARD = re.compile(r"(?<![\w-])[0-6]\d{3}(?:[ -]?\d){8,15}(?![\w-])")
_CARD_CUES = frozenset("card cc credit debit visa mastercard amex maestro payment pay number".split())


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def find_card_numbers(text: str) -> list[Finding]:
    findings = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 12 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
            # A Luhn-valid run of 12 digits (Maestro) is one in ten of all such runs: ask for context
            # there. From 13 digits on (Visa, Diners) the issuer prefix and Luhn check are enough.
            cued = has_context(text, match.start(), _CARD_CUES, window=30, words=4)
            if digits[0] == "0" and not cued:
                continue  # no issuer number starts with 0 but a few Maestro ranges: only next to "card"
            score = 1.0 if cued or len(digits) > 12 else 0.45
            findings.append(Finding(match.start(), match.end(), "CREDIT_CARD", score, "credit-card+luhn"))
    return findings


# --- social security numbers and IBANs Presidio misses --------------------------------------

# Written with spaces or dots, or glued to its label ("ssn:624183390", "SSN 536 22 8726"): Presidio
# scores those too low or reads them as phone numbers.
_SSN = re.compile(r"(?<![\w-])(\d{3})([- .]?)(\d{2})\2(\d{4})(?![\w-])")
_SSN_CUES = frozenset("ssn ssns social security soc sec ss#".split())


def find_social_security_numbers(text: str) -> list[Finding]:
    """US social security numbers next to words that say so, in any layout; never an impossible
    one (area 000, 666 or 9xx, group 00, serial 0000)."""
    findings = []
    for match in _SSN.finditer(text):
        area, _, group, serial = match.groups()
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        if has_context(text, match.start(), _SSN_CUES, window=35, words=4):
            findings.append(Finding(match.start(), match.end(), "US_SSN", 0.95, "us-ssn+context"))
    return findings


# Lengths of IBANs by country (ISO 13616 registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SD": 18,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22,
    "VG": 24, "XK": 20,
}
_IBAN_START = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}(?=[ ]?[A-Za-z0-9])")
_IBAN_RUN = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")


def iban_valid(iban: str) -> bool:
    """Country length and the mod-97 check of a compact, upper-case IBAN."""
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_ibans(text: str) -> list[Finding]:
    """IBANs in lower or mixed case, compact or in groups ("nl91abna0417164300"), which Presidio's
    upper-case pattern misses."""
    findings = []
    for match in _IBAN_START.finditer(text):
        start = match.start()
        length = _IBAN_LENGTHS.get(text[start:start + 2].upper())
        if length is None:
            continue
        run = _IBAN_RUN.match(text, start, start + length + length // 2)
        compact, end = "", start
        for group in re.finditer(r"[A-Za-z0-9]+", run.group()):
            compact += group.group()
            end = start + group.end()
            if len(compact) >= length:
                break
        if len(compact) == length and not text[end:end + 1].isalnum() and iban_valid(compact.upper()):
            findings.append(Finding(start, end, "IBAN_CODE", 1.0, "iban+mod97"))
    return findings


# --- Presidio's pattern recognisers ------------------------------------------------------

PRESIDIO_PATTERN_ENTITIES = ("EMAIL_ADDRESS", "IBAN_CODE", "US_SSN", "IP_ADDRESS")


@functools.cache
def presidio_pattern_recognizers() -> tuple:
    """Presidio's checksum- and pattern-based recognisers for the entities they handle well."""
    # presidio_analyzer's package imports its optional Hugging Face engine, which imports transformers'
    # pipelines when transformers is installed (it is, for the embedding model): several seconds of
    # every run that redacts or checks residue, for an engine never used here. Unless transformers is
    # loaded already, presidio sees it as absent while it imports, as it does where it is not installed.
    with modules_hidden("transformers"):
        from presidio_analyzer.predefined_recognizers import (
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            UsSsnRecognizer,
        )

    # Presidio logs the text of a value that fails its checksum: never let that reach a log.
    logging.getLogger("presidio-analyzer").setLevel(logging.CRITICAL + 1)
    return (EmailRecognizer(), IbanRecognizer(), UsSsnRecognizer(), IpRecognizer())


# What a text must hold for each recogniser's patterns to match at all: most texts skip most of them.
_PATTERN_PREFILTERS = {
    "EmailRecognizer": re.compile(r"@"),
    "IbanRecognizer": re.compile(r"[A-Z]{2}[0-9]{2}"),
    "UsSsnRecognizer": re.compile(r"[0-9]{3}"),
    "IpRecognizer": re.compile(r"[0-9]\.[0-9]|[0-9A-Fa-f]:[0-9A-Fa-f:]|::"),
}


def find_patterns(text: str, entities: Sequence[str]) -> list[Finding]:
    wanted = [entity for entity in PRESIDIO_PATTERN_ENTITIES if entity in entities]
    findings = []
    for recognizer in presidio_pattern_recognizers():
        supported = [entity for entity in recognizer.supported_entities if entity in wanted]
        prefilter = _PATTERN_PREFILTERS.get(type(recognizer).__name__)
        if not supported or (prefilter is not None and prefilter.search(text) is None):
            continue
        for result in recognizer.analyze(text, entities=supported, nlp_artifacts=None) or []:
            findings.append(Finding(result.start, result.end, result.entity_type, result.score,
                                    type(recognizer).__name__))
    return findings
