"""The name lexicon: first and last names of Faker's 80-odd locales (Cyrillic ones also romanised),
told apart from English words (WordNet's, through spaCy's lemmatizer) and from places (Faker's towns
and countries, the time-zone database's cities); and the common and stop words no name is taken from.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


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
def _name_attributes(provider: type, family: bool) -> list[str]:
    """The provider's lists of given names (first and middle names, every variant: "first_names_female",
    "first_romanized_names", "middle_names") or of family names ("last_names_male", "unisex_last_names",
    "last_names_without_suffix"): each locale names its lists its own way."""
    kind = "last" if family else ("first", "middle")
    return [attribute for attribute in vars(provider) if "names" in attribute and "kana" not in attribute
            and any(part in kind for part in attribute.split("_"))]


_PLACE_ATTRIBUTES = ("countries", "cities", "city_names", "states", "provinces", "regions", "counties", "cantons",
                     "departments", "prefectures", "real_city_names", "estados", "distritos", "region_names")


@functools.cache
def name_lexicon() -> NameLexicon:
    """First and last names of every Faker locale, lowercased (about 30,000 of each), with the
    English words and places they are told apart from.

    Building it imports every locale's modules (2-3 s), which every process that redacts would pay: it is
    built once per installation and kept as JSON beside the converted models (INGEST_MODELS_DIR), named
    by what it is built from (`lexicon_key`). A damaged or unwritable file only means building it here."""
    from ingest.core.config import converted_models_dir
    from ingest.core.files import atomic_write_text

    path = converted_models_dir() / f"name-lexicon-{lexicon_key()}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return NameLexicon(**{name: frozenset(stored[name]) for name in _LEXICON_FIELDS})
    except (OSError, ValueError, KeyError, TypeError):
        pass
    lexicon = _built_name_lexicon()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({name: sorted(getattr(lexicon, name)) for name in _LEXICON_FIELDS}))
    except OSError:
        pass
    return lexicon


_LEXICON_FIELDS = tuple(field.name for field in dataclasses.fields(NameLexicon))


def lexicon_key() -> str:
    """What the lexicon is built from: this module's code, Faker's, spaCy's and its model's versions, and the
    time-zone database's cities."""
    from importlib.metadata import version

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for part in (version("faker"), version("spacy"), version("en_core_web_sm"), *sorted(_time_zone_cities())):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def _built_name_lexicon() -> NameLexicon:
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
            names = set(_names(module.Provider, _name_attributes(module.Provider, family=False)))
            (generic if locale == "en" else first).update(names)
            last.update(_names(module.Provider, _name_attributes(module.Provider, family=True)))
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




# Frequent English words that some locale lists as a name (lowercase text uses them as words), and
# role nouns WordNet lacks ("commenter").
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
happy lucky merry jolly sharp swift strong noble royal rich poor fair fine dear sweet bright odds
commenter commenters
""".split())


@functools.cache
def stop_words() -> frozenset[str]:
    """spaCy's English stop words, imported on first use: importing spaCy imports thinc and with it
    PyTorch (about 4 s), which a process that only orchestrates the stages never needs."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)
