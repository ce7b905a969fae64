"""Recognisers for the PII that Presidio's defaults miss or over-match.

Presidio's own recognisers are kept where they are strong (e-mail, IBANs with the mod-97 check,
US SSNs, IP addresses). Added here:

- card numbers of 12 to 19 digits with the Luhn check (Presidio's pattern stops at 17 digits);

- names regardless of case, from first and last names of Faker's 80-odd locales (spaCy's model
  only sees capitalised names);
- phone numbers of any country, also glued to text, checked by digit count and layout and, with a
  country code, by `phonenumbers`;
- street addresses, post-office boxes and apartment lines in many languages;
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

    def is_english_word(self, word: str) -> bool:
        word = word.lower()
        stems = {word, word[:-1], word[:-2], word[:-3]} if len(word) > 4 else {word}  # -s, -ed, -ing
        return bool(stems & self.english_words) or word in COMMON_WORDS or word in _STOP_WORDS


def _names(provider: type, attributes: Sequence[str]) -> Iterator[str]:
    for attribute in attributes:
        value = provider.__dict__.get(attribute)
        # Some locales weight names (a dict name -> weight); some define properties: skip those.
        if isinstance(value, list | tuple | set | frozenset | dict):
            for name in value:
                name = str(name).strip().lower()
                if len(name) >= 2 and name.replace("-", "").replace("'", "").isalpha():
                    yield name


@functools.cache
def name_lexicon() -> NameLexicon:
    """First and last names of every Faker locale, lowercased (about 30,000 of each)."""
    from faker.config import AVAILABLE_LOCALES
    from spacy.lang.en.stop_words import STOP_WORDS

    first: set[str] = set()
    last: set[str] = set()
    for locale in AVAILABLE_LOCALES:
        try:
            module = importlib.import_module(f"faker.providers.person.{locale}")
        except ImportError:
            continue
        first.update(_names(module.Provider, ("first_names", "first_names_male", "first_names_female",
                                              "first_names_nonbinary")))
        last.update(_names(module.Provider, ("last_names", "last_names_male", "last_names_female")))
    # English function words that are also names somewhere ("will", "may") would match everywhere.
    return NameLexicon(frozenset(first - STOP_WORDS - COMMON_WORDS), frozenset(last - STOP_WORDS - COMMON_WORDS),
                       _english_words())


def _english_words() -> frozenset[str]:
    """The lemma index of the spaCy model's lemmatizer (WordNet's word lists), loaded alone."""
    import spacy

    nlp = spacy.load("en_core_web_sm", exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "ner"])
    index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    # WordNet lists some given names as words ("john", "maria"); those stay names.
    return frozenset(word for words in index.values() for word in words if "_" not in word)


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

from spacy.lang.en.stop_words import STOP_WORDS as _STOP_WORDS  # noqa: E402  (after the word lists)

_TITLE = r"(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|dame|lady|lord|herr|frau|mme|mlle|monsieur|madame|sr|sra|srta)"
_NAME_CUES = frozenset("""dear hi hello hey thanks thank regards cheers sincerely name named ask asked
contact contacted tell told call called meet met from by with cc attn attention signed patient client
customer employee colleague manager boss wife husband son daughter mother father brother sister
friend partner mr mrs ms miss dr prof""".split())
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-][^\W\d_])*", re.UNICODE)


def _is_title(word: str) -> bool:
    return word[:1].isupper() and (len(word) == 1 or not word[1:].isupper() or len(word) <= 2)


def find_names(text: str, lexicon: NameLexicon | None = None) -> list[Finding]:
    """Names the spaCy model misses: any case, from the name lexicon and a few cues.

    - first name + last name in the lexicon, any case (`maria gonzalez`, `JOHN O'BRIEN`);
    - a capitalised first name + a capitalised word (`Leigha Mackay` at a line start);
    - a title + a capitalised word (`Dr. Okafor`), the title excluded;
    - a lone first name after a cue such as `dear` or `thanks`, or capitalised mid-sentence.
    """
    lexicon = lexicon or name_lexicon()
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    findings: list[Finding] = []
    index = 0
    while index < len(words):
        start, end, word = words[index]
        lower = word.lower()
        following = _next_name_word(text, words, index)
        if lower in lexicon.first_names and following is not None:
            last = words[following][2]
            both_known = last.lower() in lexicon.last_names
            both_title = _is_title(word) and _is_title(last) and last.lower() not in COMMON_WORDS
            # "julian wollaston": a known first name, then a word that is no English word.
            unknown_surname = len(last) > 2 and not lexicon.is_english_word(last) \
                and lower not in lexicon.english_words
            if both_known or both_title or unknown_surname:
                findings.append(Finding(start, words[following][1], "PERSON", 0.85 if both_known else 0.7,
                                        "name-lexicon"))
                index = following + 1
                continue
        if re.fullmatch(_TITLE, lower) and index + 1 < len(words) and _is_title(words[index + 1][2]) \
                and re.fullmatch(r"\.?[ \t]+", text[end:words[index + 1][0]]) \
                and words[index + 1][2].lower() not in COMMON_WORDS:
            first = index + 1
            following = _next_name_word(text, words, first)
            last = following if following is not None and _is_title(words[following][2]) else first
            findings.append(Finding(words[first][0], words[last][1], "PERSON", 0.8, "name-lexicon"))
            index = last + 1
            continue
        if lower in lexicon.last_names and _is_title(word) and not lexicon.is_english_word(word) \
                and lower not in lexicon.first_names and not re.search(r"(^|[.!?:\n]\s*)$", text[:start]):
            findings.append(Finding(start, end, "PERSON", 0.6, "name-lexicon"))  # a surname mid-sentence
            index += 1
            continue
        if lower in lexicon.first_names:
            cued = has_context(text, start, _NAME_CUES, window=25, words=2)
            if cued or _is_title(word):
                findings.append(Finding(start, end, "PERSON", 0.7 if cued else 0.6, "name-lexicon"))
        index += 1
    return findings


def _next_name_word(text: str, words: list[tuple[int, int, str]], index: int) -> int | None:
    """Index of the word that may continue a name after words[index], skipping a middle initial."""
    if index + 1 >= len(words) or not re.fullmatch(r"[ \t]+", text[words[index][1]:words[index + 1][0]]):
        return None
    initial = words[index + 1][2]
    if (len(initial) == 1 and initial.isupper() and index + 2 < len(words)
            and re.fullmatch(r"\.?[ \t]+", text[words[index + 1][1]:words[index + 2][0]])):
        return index + 2
    return index + 1


# --- phone numbers --------------------------------------------------------------

# Letters may touch the number ("at+44 20...", "tel:0049..."): text extracted from PDFs often glues them.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\d+\-/])(?<!\d[.,])"
    r"((?:\+|00)?\(?\d[\d \t().\-/]{4,20}\d)"
    r"(?:\s?(?:x|ext\.?|extension)\s?(\d{1,5}))?(?![\w@])",
    re.IGNORECASE,
)
_PHONE_CUES = frozenset("""phone telephone tel mobile mob cell cellphone fax call ph tlf telefon telefono
téléphone whatsapp sms text reach contact number desk office home work landline hotline dial""".split())
_PHONE_CUE_AFTER = re.compile(r"[\s-]{0,3}(?:office|fax|mobile|cell|home|work|phone|tel)\b", re.IGNORECASE)
_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2}")
_SSN_LIKE = re.compile(r"\d{3}-\d{2}-\d{4}")
_IPV4_LIKE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DECIMAL = re.compile(r"-?\d+[.,]\d+")


def _phone_score(candidate: str, cued: bool) -> float:
    digits = re.sub(r"\D", "", candidate)
    if not (7 if not cued else 6) <= len(digits) <= 15:
        return 0.0
    if _DATE_LIKE.match(candidate) or _SSN_LIKE.fullmatch(candidate) or _IPV4_LIKE.fullmatch(candidate) \
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
    elif len(groups) >= 2 and all(len(g) <= 5 for g in groups[1:]):
        score = 0.6  # digits grouped by spaces
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
        if candidate.startswith("(") and ")" not in candidate:
            candidate, start = candidate[1:], start + 1
        end = match.end(2) if match.group(2) else start + len(candidate)
        cued = has_context(text, start, _PHONE_CUES, window=30, words=3) or bool(
            _PHONE_CUE_AFTER.match(text, end))
        score = _phone_score(candidate, cued)
        if score > 0:
            findings.append(Finding(start, end, "PHONE_NUMBER", score, "phone"))
    return findings


# --- street addresses -------------------------------------------------------------

_STREET_TYPES = r"""street|st|avenue|ave|av|road|rd|drive|dr|lane|ln|row|way|boulevard|blvd|court|ct|place|pl
|square|sq|terrace|terr|circle|circles|cir|crescent|cres|close|gardens|gdns|parkway|pkwy|highway|hwy|trail
|trl|junction|junctions|view|views|walk|mews|grove|hill|hills|park|estates|heights|ridge|path|pike|plaza
|alley|loop|point|union|mission|cape|wall|lake|lakes|burg|crossing|passage|quay|wharf|green|ford|fort
|meadow|meadows|harbor|harbour|vista|villa|villas|ville|valley|run|oval|canal|promenade|embankment|rise""".replace("\n", "")
_STREET_PREFIXES = r"""rua|r\.|rue|via|viale|vicolo|piazza|piazzale|corso|largo|avenida|avda\.?|av\.|calle|c/|carrer
|paseo|plaza|praça|travessa|estrada|ul\.|ulica|al\.|aleja|pl\.|strada|str\.|bd\.|boulevard|chemin|allée|impasse
|quai|place|route|λ\.|οδός|leoforos|odos|ulitsa|jalan|jl\.""".replace("\n", "")
_STREET_SUFFIX_WORDS = r"""\w*(?:straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|steig|pfad|vej|gade|gata|gatan
|gränd|vägen|väg|veien|vegen|gate|stígur|stíg|braut|vegur|laan|straat|kade|gracht|plein|dreef|katu|polku|kuja
|utca|út|útja|körút|tér|ulice|náměstí|třída|cesta|ulica|terrasse|lökka|løkka|bakken|torget)""".replace("\n", "")
_CAP_START = r"[A-ZÀ-ÖØ-ÞĀ-ſΑ-ΩА-Я]"
_CAP = rf"{_CAP_START}[\w'’.-]*"
_PARTICLE = r"(?:de|del|della|da|do|dos|das|di|du|la|le|van|von|der|den|des|am|an|im|zum|zur)"
_NUMBER = r"\d{1,5}[a-zA-Z]?(?:[-/]\d{1,4}[a-zA-Z]?)?"
_DIRECTION = r"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
_NAME_WORDS = rf"(?:(?:{_CAP}|{_PARTICLE})[ \t]+)"
_STREET_LINE = re.compile(
    rf"""(?:
        (?:{_NUMBER}[ \t]+){{0,2}}{_NAME_WORDS}{{1,4}}(?i:{_STREET_TYPES})\.?(?![\w]){_DIRECTION}(?:[ \t]+{_NUMBER}(?![\w.]))?
      | (?:{_NUMBER}[ \t]+){{0,2}}(?i:{_STREET_PREFIXES})[ \t]*{_NAME_WORDS}{{0,5}}{_CAP}(?:[ \t,]+{_NUMBER})?(?![\w])
      | (?:{_NUMBER}[ \t]+){{0,2}}{_NAME_WORDS}{{0,2}}{_CAP_START}(?i:{_STREET_SUFFIX_WORDS})(?:[ \t]+{_NUMBER})?(?![\w])
      | \d{{1,5}}[ \t]+{_NAME_WORDS}{{0,3}}{_CAP}[ \t]+\d{{1,5}}(?![\w.])
    )""",
    re.VERBOSE | re.UNICODE,
)
_NUMBERED_STREET = re.compile(rf"(?<![\w,.])(?:{_NUMBER}[ \t]+)+{_NAME_WORDS}{{0,3}}{_CAP}(?:[ \t]+{_NUMBER})?(?![\w])", re.UNICODE)
_SECONDARY = re.compile(r"(?<!\w)(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|bldg|building)\.?[ \t]*#?[ \t]*\d{1,5}[a-zA-Z]?(?!\w)", re.IGNORECASE)
_PO_BOX = re.compile(
    r"(?<!\w)(?:p\.?[ \t]?o\.?[ \t]?box|post[ \t]office[ \t]box|(?:psc|unit)[ \t]\d{3,5},?[ \t]box)[ \t]*\d{1,6}"
    r"(?:[ \t]*\n?[ \t]*[ADF]PO[ \t]+A[AEP][ \t]+\d{5})?|(?<!\w)USS[ \t]+[^\W\d_]+\n?[ \t]*FPO[ \t]+A[AEP][ \t]+\d{5}",
    re.IGNORECASE | re.UNICODE)
_ADDRESS_CUES = frozenset("""address lives live living located location at to moved move ship shipped send sent
deliver delivered delivery meet visit street corner reside resides residing""".split())


def find_street_addresses(text: str) -> list[Finding]:
    """Street lines (number + name + street type, or the other way round), boxes and apartment lines."""
    findings = []
    for match in _STREET_LINE.finditer(text):
        value = match.group().rstrip(" ,.")
        has_number = re.search(r"\d", value) is not None
        score = 0.75 if has_number else 0.45
        if has_context(text, match.start(), _ADDRESS_CUES, window=30, words=3):
            score += 0.15
        findings.append(Finding(match.start(), match.start() + len(value), "STREET_ADDRESS", score, "street-address"))
    for match in _NUMBERED_STREET.finditer(text):
        # "250 Main" alone is ambiguous; after an address cue it is an address.
        if has_context(text, match.start(), _ADDRESS_CUES, window=30, words=3):
            findings.append(Finding(match.start(), match.end(), "STREET_ADDRESS", 0.6, "street-address"))
    for pattern, score in ((_SECONDARY, 0.7), (_PO_BOX, 0.85)):
        for match in pattern.finditer(text):
            findings.append(Finding(match.start(), match.end(), "STREET_ADDRESS", score, "street-address"))
    return findings


# --- driver's licences ---------------------------------------------------------------

_LICENCE = re.compile(r"(?<![\w-])(?:[A-Z]\d{4,14}|[A-Z]{2}\d{5,12}|\d{7,12})(?![\w-])")
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
_CARD = re.compile(r"(?<![\w-])[1-6]\d{3}(?:[ -]?\d){8,15}(?![\w-])")
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
            # A Luhn-valid run of 12 digits is one in ten of all such runs: ask for context there.
            cued = has_context(text, match.start(), _CARD_CUES, window=30, words=4)
            score = 1.0 if len(digits) >= 15 or cued else 0.45
            findings.append(Finding(match.start(), match.end(), "CREDIT_CARD", score, "credit-card+luhn"))
    return findings


# --- Presidio's pattern recognisers ------------------------------------------------------

PRESIDIO_PATTERN_ENTITIES = ("EMAIL_ADDRESS", "IBAN_CODE", "US_SSN", "IP_ADDRESS")


@functools.cache
def presidio_pattern_recognizers() -> tuple:
    """Presidio's checksum- and pattern-based recognisers for the entities they handle well."""
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        UsSsnRecognizer,
    )

    # Presidio logs the text of a value that fails its checksum: never let that reach a log.
    logging.getLogger("presidio-analyzer").setLevel(logging.CRITICAL + 1)
    return (EmailRecognizer(), IbanRecognizer(), UsSsnRecognizer(), IpRecognizer())


def find_patterns(text: str, entities: Sequence[str]) -> list[Finding]:
    wanted = [entity for entity in PRESIDIO_PATTERN_ENTITIES if entity in entities]
    findings = []
    for recognizer in presidio_pattern_recognizers():
        supported = [entity for entity in recognizer.supported_entities if entity in wanted]
        if not supported:
            continue
        for result in recognizer.analyze(text, entities=supported, nlp_artifacts=None) or []:
            findings.append(Finding(result.start, result.end, result.entity_type, result.score,
                                    type(recognizer).__name__))
    return findings
