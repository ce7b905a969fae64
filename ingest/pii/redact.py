"""PII detection and redaction under a tenant's policy.

Detection combines spaCy's named-entity model (names; only its tokenizer, tok2vec and NER run),
Presidio's checksum recognisers and this project's recognisers (`ingest.pii.recognizers`).
Findings are filtered by the policy (thresholds, allow list, business-identifier context) and
replaced by the policy's operator. Only counts by entity type leave this module: values are never
returned, logged or stored.

Throughput: small batches run in this process; large ones are split over worker processes, one
per core, each holding its own model.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ingest.pii.policy import DEFAULT_ENTITIES, RedactionPolicy
from ingest.pii.recognizers import (
    ROLE_NAME_SCORE,
    Finding,
    NameLexicon,
    find_card_numbers,
    find_denied,
    find_driver_licences,
    find_ibans,
    find_names,
    find_patterns,
    find_phone_numbers,
    find_social_security_numbers,
    find_street_addresses,
    name_lexicon,
    person_span_parts,
    refine_people,
    stop_words,
)
from ingest.pii.recognizers.mentions import (
    credited_names,
    described_people,
    dialogue_speakers,
    listed_given_names,
    paired_subjects,
    possessive_owners,
    repeated_mentions,
    signature_names,
    speakers_to_people,
    wanting_subjects,
)

if TYPE_CHECKING:  # polars is imported where it is used: the fork server (ingest.parsing.preload) must not hold
    import polars as pl  # its thread pool, which would not survive a fork

__all__ = ["DEFAULT_ENTITIES", "BLOCKING_ENTITIES", "Finding", "PiiDetector", "RedactedText", "RedactionPolicy",
           "Redactor", "apply_operators", "entity_counts_by_document", "redact_elements", "residue_scan"]

# Entity types found by patterns and checksums, not by a language model: a re-scan for them is
# fast and precise, so any left after redaction blocks the run.
BLOCKING_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
# Types that a business identifier can be mistaken for; next to "order", "ticket", ... they are kept.
ID_LIKE_ENTITIES = ("PHONE_NUMBER", "US_DRIVER_LICENSE", "STREET_ADDRESS")
# spaCy labels that mean a person.
NER_PERSON_LABELS = ("PERSON", "PER")
# spaCy labels of what a name-lexicon word can be part of without being a person: "Douglas Emmett
# Inc." (ORG), "Glen Arbor" (GPE).
NER_VETO_LABELS = ("ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW")
# Of those, what the model reads a foreign name as when no English word tells it apart.
NER_REREAD_LABELS = ("ORG", "NORP", "PRODUCT", "WORK_OF_ART")
# Of those, the places: a word the model reads as one alone is no person either.
NER_PLACE_LABELS = ("GPE", "LOC", "FAC")
# Pattern findings at least this sure are settled: the model need not read the capitalised words in them.
SETTLED_SCORE = 0.6
# Below this many characters a batch goes to one worker: a second costs more to start than it saves.
PARALLEL_MIN_CHARACTERS = 100_000


@dataclass(frozen=True, slots=True)
class RedactedText:
    text: str
    entity_counts: dict[str, int] = field(default_factory=dict)


def windows(text: str, size: int, overlap: int) -> Iterator[tuple[int, str]]:
    """(offset, piece) covering `text` in pieces of at most `size` characters, consecutive pieces
    sharing `overlap` characters, so an entity cut by one boundary lies whole in the next piece.
    Pieces end at whitespace (a space, a tab, a line break...) where there is some."""
    if len(text) <= size:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = _last_space(text, start + size - overlap // 2, end)
            end = cut if cut > start else end
        yield start, text[start:end]
        if end >= len(text):
            return
        start = max(end - overlap, start + 1)


def _last_space(text: str, low: int, high: int) -> int:
    """The offset of the last whitespace character in text[low:high], or -1."""
    for index in range(high - 1, low - 1, -1):
        if text[index].isspace():
            return index
    return -1


_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n+|$)")
_CAPITALISED = re.compile(r"(?<![\w'’])[A-ZÀ-ÖØ-ÞĀ-ſ][\w'’-]*")


def name_bearing_parts(text: str) -> Iterator[tuple[int, str]]:
    """(offset, part) of the runs of sentences that hold a capitalised word other than a sentence's
    first function word ("The", "In", "We"): the model tags a person only where a name is
    capitalised, so the other sentences are not worth its time. Lowercase names are the name
    lexicon's job."""

    run_start = run_end = -1
    for sentence in _SENTENCE.finditer(text):
        words = _CAPITALISED.findall(sentence.group())
        first = sentence.group().lstrip()[:len(words[0])] == words[0] if words else False
        if first and words[0].lower() in stop_words():
            words = words[1:]
        if not words:
            continue
        if run_end == sentence.start():
            run_end = sentence.end()
            continue
        if run_start >= 0:
            yield run_start, text[run_start:run_end]
        run_start, run_end = sentence.start(), sentence.end()
    if run_start >= 0:
        yield run_start, text[run_start:run_end]


_WORD_SPAN = re.compile(r"\S+")
# Words read on each side of a capitalised word: the model's features reach four words either way. Six
# were read before set 9: four find the same values at tuning seeds 42, 7, 99 and 3 (and 1,737 of the same 1,738
# spans on 2,000 SciFact abstracts) and make PII-dense text 8% faster.
NER_CONTEXT_WORDS = 4


def name_windows(text: str, context: int = NER_CONTEXT_WORDS,
                 skip: Sequence[tuple[int, int]] = ()) -> Iterator[tuple[int, str]]:
    """(offset, piece) of the stretches of `text` the model must read to tag the names in it: each
    capitalised word other than a sentence's first function word, with `context` words on either
    side within its sentence; overlapping or touching stretches are one. The rest of a sentence (a
    list of numbers, an e-mail address, lower-case prose) costs the model time and tells it nothing
    about the names. Capitalised words inside a `skip` span (start, end) need no reading."""
    for part_offset, part in name_bearing_parts(text):
        words = list(_WORD_SPAN.finditer(part))
        capitalised = [i for i, word in enumerate(words) if _CAPITALISED.match(word.group().lstrip("\"'(“[<*>}?#-"))
                       and not any(s <= part_offset + word.start() < e for s, e in skip)
                       and not (word.group().lower() in stop_words() and _sentence_first(part, word.start()))]
        start = end = -1
        for i in capitalised:
            low, high = max(0, i - context), min(len(words) - 1, i + context)
            if start >= 0 and low <= end + 1:
                end = max(end, high)
                continue
            if start >= 0:
                yield _window(text, part_offset, words, start, end)
            start, end = low, high
        if start >= 0:
            yield _window(text, part_offset, words, start, end)


def _sentence_first(text: str, start: int) -> bool:
    """Whether only spaces and quote marks stand between `start` and the previous sentence's end."""
    before = text[:start].rstrip(" \t\"'“(")
    return not before or before[-1] in ".!?\n"


def _window(text: str, offset: int, words: list[re.Match[str]], first: int, last: int) -> tuple[int, str]:
    start, end = offset + words[first].start(), offset + words[last].end()
    return start, text[start:end]


def _merge_same_type(findings: list[Finding]) -> list[Finding]:
    """Overlapping findings of one type become one: their union, at the higher score."""
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.entity_type, f.start, -f.end)):
        last = merged[-1] if merged else None
        if last and last.entity_type == finding.entity_type and finding.start < last.end:
            merged[-1] = Finding(last.start, max(last.end, finding.end), last.entity_type,
                                 max(last.score, finding.score),
                                 last.recognizer if last.score >= finding.score else finding.recognizer)
        else:
            merged.append(finding)
    return merged


def resolve(findings: Sequence[Finding]) -> list[Finding]:
    """Non-overlapping findings: same-type overlaps merged, then the higher score (then the longer
    span) wins between types."""
    ranked = sorted(_merge_same_type(list(findings)), key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= other.start or finding.start >= other.end for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


# The project's own pattern recognisers, each for one entity type.
_PATTERN_RECOGNIZERS = (
    ("US_SSN", find_social_security_numbers), ("IBAN_CODE", find_ibans), ("CREDIT_CARD", find_card_numbers),
    ("PHONE_NUMBER", find_phone_numbers), ("STREET_ADDRESS", find_street_addresses),
    ("US_DRIVER_LICENSE", find_driver_licences),
)


class PiiDetector:
    """Finds PII spans under a policy. Loads its spaCy model once; `detect` takes batches."""

    def __init__(self, policy: RedactionPolicy = RedactionPolicy()) -> None:
        self.policy = policy
        self._nlp = _load_ner(policy.spacy_model) if "PERSON" in policy.entities else None
        self._allowed = {value.casefold() for value in policy.allow_list}

    def detect(self, texts: Sequence[str], *, batch_size: int = 256) -> list[list[Finding]]:
        patterns = [self._pattern_findings(text) for text in texts]
        people, others = self._ner_entities(texts, batch_size, patterns)
        return [self._detect_one(text, found, other, pattern)
                for text, found, other, pattern in zip(texts, people, others, patterns, strict=True)]

    def _pattern_findings(self, text: str) -> list[Finding]:
        """What patterns and checksums find: e-mail and IP addresses, IBANs, SSNs, cards, phones, streets."""
        entities = self.policy.entities
        findings = find_patterns(text, entities)
        for entity_type, recognize in _PATTERN_RECOGNIZERS:
            if entity_type in entities:
                findings += recognize(text)
        return findings

    def _ner_entities(self, texts: Sequence[str], batch_size: int, patterns: Sequence[Sequence[Finding]] = ()
                      ) -> tuple[list[list[Finding]], list[list[tuple[int, int, str]]]]:
        """Per text, the model's people (trimmed) and its other entities (start, end, label): the
        organisations and places a word from the name lexicon may be part of. The model reads only
        around capitalised words outside what the patterns found for sure (an address block's towns
        and streets are no people, and reading them costs a fifth of the time on contact details)."""
        found: list[list[Finding]] = [[] for _ in texts]
        others: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        if self._nlp is None:
            return found, others
        settled = [[(f.start, f.end) for f in findings if f.score >= SETTLED_SCORE] for findings in patterns] \
            if patterns else [[] for _ in texts]
        pieces = [(i, offset + part_offset, part) for i, text in enumerate(texts)
                  for offset, piece in windows(text, self.policy.window_chars, self.policy.window_overlap)
                  for part_offset, part in name_windows(piece, skip=[(s - offset, e - offset) for s, e in settled[i]
                                                                     if e > offset and s < offset + len(piece)])]
        lexicon = name_lexicon()
        # The model reads case: an upper-case passage ("MS. JANE ROE SIGNED") is read with its names
        # capitalised and its other words in lower case ("Ms. Jane Roe signed").
        docs = self._nlp.pipe((_readable_case(piece, lexicon) for _, _, piece in pieces), batch_size=batch_size)
        for (i, offset, piece), doc in zip(pieces, docs, strict=True):
            for ent in doc.ents:
                if ent.label_ in NER_PERSON_LABELS:
                    for start, end in _trim_person(piece, ent.start_char, ent.end_char):
                        found[i].append(Finding(offset + start, offset + end, "PERSON", 0.85, "spacy-ner"))
                elif ent.label_ in NER_REREAD_LABELS and _foreign_name(ent.text, lexicon):
                    # "Racław Piotrowski", "Jordanka Kavran" read as an organisation: names, no company
                    found[i].append(Finding(offset + ent.start_char, offset + ent.end_char, "PERSON", 0.6,
                                            "spacy-ner"))
                elif ent.label_ in NER_VETO_LABELS:
                    end = ent.end_char - 2 if ent.text.endswith(("'s", "’s")) else ent.end_char  # "Esjar Sturluson's"
                    others[i].append((offset + ent.start_char, offset + end, ent.label_))
        return found, others

    def _ner_people(self, texts: Sequence[str], batch_size: int) -> list[list[Finding]]:
        """The model's people alone, trimmed."""
        return self._ner_entities(texts, batch_size)[0]

    def _detect_one(self, text: str, people: list[Finding], others: Sequence[tuple[int, int, str]] = (),
                    patterns: Sequence[Finding] | None = None) -> list[Finding]:
        entities = self.policy.entities
        findings = list(patterns) if patterns is not None else self._pattern_findings(text)
        if "PERSON" in entities:
            findings += people
            findings += _outside_other_entities(
                text, find_names(text, known=people) + possessive_owners(text) + dialogue_speakers(text)
                + described_people(text) + paired_subjects(text, known=people) + speakers_to_people(text, known=people)
                + wanting_subjects(text) + listed_given_names(text)
                + signature_names(text, findings), others)
            findings += credited_names(text)  # the work after the name is what the model reads as one
        findings = [f for f in findings if f.entity_type in entities and self._keep(text, f)]
        findings = refine_people(text, findings)
        if "PERSON" in entities:
            # The other mentions of a name found once ("Marino was influenced ... sung by Ofelia Marino").
            echoes = repeated_mentions(text, [f for f in findings if f.entity_type == "PERSON"])
            findings += [f for f in echoes if self._keep(text, f)]
        findings = _without_names_inside_addresses(findings)
        findings += find_denied(text, self.policy.deny_list)
        return resolve(findings)

    def _keep(self, text: str, finding: Finding) -> bool:
        threshold = self.policy.threshold(finding.entity_type)
        # A threshold of 1 switches a type off: no finding is surer than certain.
        if finding.score < threshold or threshold >= 1.0:
            return False
        if text[finding.start:finding.end].casefold() in self._allowed:
            return False
        if finding.entity_type in ID_LIKE_ENTITIES and _id_cued(text, finding.start, self.policy.id_context):
            return False
        return True


def _foreign_name(value: str, lexicon: NameLexicon) -> bool:
    """Whether an entity's text is two capitalised words, neither an English word nor a place, the
    first a known given name or the second a known family name ("Racław Piotrowski", "Jordanka
    Kavran"): a person's name whatever the model's label."""
    words = value.split()
    if len(words) != 2 or not all(word[:1].isupper() and word[1:].islower() and word.isalpha() for word in words):
        return False
    given, family = (word.lower() for word in words)
    return ((given in lexicon.first_names or family in lexicon.last_names)
            and not any(lexicon.is_english_word(word) or word in lexicon.places for word in (given, family)))


def _outside_other_entities(text: str, names: list[Finding],
                            others: Sequence[tuple[int, int, str]]) -> list[Finding]:
    """The name lexicon's guesses, less those the model reads as part of an organisation or a work
    named with more English words ("Douglas Emmett Inc.", "Eaton Vance Tax-Managed ... Fund"), or as
    a place our gazetteer knows too ("Our London office"). A given name with a family name, and a
    name after a cue, stand; entities that run over a line break are ignored."""
    if not others:
        return names
    lexicon = name_lexicon()
    kept = []
    for name in names:
        vetoed = False
        for start, end, label in others:
            if not (start <= name.start and name.end <= end) or _GARBLED_ENTITY.search(text, start, end):
                continue
            if (start, end) == (name.start, name.end):
                word = text[start:end]
                vetoed = (label in NER_PLACE_LABELS and name.score <= 0.6 and word.lower() in lexicon.places
                          and not _listed_with_a_name(text, name, names, lexicon)) or (
                    name.score <= ROLE_NAME_SCORE and label not in NER_PLACE_LABELS
                    and not lexicon.is_name(word))  # "Microsoft said": a name by its role alone
            elif name.score <= 0.7 and not _NAME_OF_ORGANISATION.match(text, name.end, end) and not (
                    name.end == end and _ROLE_BEFORE_NAME.fullmatch(text, start, name.start)):
                # Other names in an organisation are no words of its name ("Petersson, Crane" read as a firm); a
                # place's words are its own ("North Carolina").
                names_inside = [(name.start, name.end)]
                if label not in NER_PLACE_LABELS:
                    names_inside += [(other.start, other.end) for other in names
                                     if start <= other.start and other.end <= end]
                vetoed = any(lexicon.is_plain_word(word.group()) and word.group().lower() not in stop_words()
                             and not any(s <= word.start() < e for s, e in names_inside)
                             for word in _LETTERS.finditer(text, start, end))
            if vetoed:
                break
        if not vetoed:
            kept.append(name)
    return kept


# An entity over a line break, a quote or a colon is the model's misreading ('Kelsey:"I'm Lisa's' as an
# organisation): it vetoes nothing.
_GARBLED_ENTITY = re.compile(r"[\n\"“”:]")
_LETTERS = re.compile(r"[^\W\d_]+")
# "Laurencio Estévez of HOKURIKU GAS CO.LTD.": a person of an organisation the model read as one entity.
_NAME_OF_ORGANISATION = re.compile(r"[ \t]+of[ \t]+[A-Z]")
# "Producer Jørgen Egede" read as one organisation: a person's job before their name, no company's word.
_ROLE_BEFORE_NAME = re.compile(r"(?:songwriter|producer|director|singer|author|composer|commenter|founder)[ \t]+",
                               re.IGNORECASE)
_LIST_GAP = re.compile(r"[ \t]*(?:,[ \t]*(?:(?:and|&)[ \t]+)?|[ \t]+(?:and|&)[ \t]+)", re.IGNORECASE)


def _listed_with_a_name(text: str, name: Finding, names: Sequence[Finding], lexicon: NameLexicon) -> bool:
    """Whether `name` stands in a list next to another name that is no place ("Deguchi and Durham")."""
    for other in names:
        if other is name or text[other.start:other.end].lower() in lexicon.places:
            continue
        if (other.end <= name.start and _LIST_GAP.fullmatch(text, other.end, name.start)
                or name.end <= other.start and _LIST_GAP.fullmatch(text, name.end, other.start)):
            return True
    return False


def _without_names_inside_addresses(findings: list[Finding]) -> list[Finding]:
    """Drop the names inside a street address: streets are named after people ("Rua João Pessoa",
    "Lemmens Drive") and towns after saints; the address holds the name, and more. A street read
    from a prefix alone, with no number ("Calle Norberg" after "Name:"), yields to a surer name."""
    addresses = [f for f in findings if f.entity_type == "STREET_ADDRESS"]
    if not addresses:
        return findings
    return [f for f in findings if f.entity_type != "PERSON"
            or not any(a.start <= f.start and f.end <= a.end and (a.score >= 0.6 or a.score >= f.score)
                       for a in addresses)]


# Where a clause ends: a business word before it ("Products Ltd, 893 Via Leopardi") says nothing
# of what follows.
_CLAUSE_BREAK = re.compile(r"[,;\n]|[.!?][ \t]+(?=[A-Z])")


def _id_cued(text: str, start: int, cues: Sequence[str], window: int = 25) -> bool:
    """Whether one of the two words right before `start`, in the same clause, announces an identifier."""
    low = max(0, start - window)
    for match in _CLAUSE_BREAK.finditer(text, low, start):
        low = match.end()
    cue_set = set(cues)
    words = re.findall(r"[\w#']+", text[low:start].lower())[-2:]
    return any(word in cue_set or word.rstrip("s") in cue_set for word in words) or (
        "#" in cue_set and "#" in text[max(low, start - 3):start])


_READABLE_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def _readable_case(text: str, lexicon: NameLexicon | None = None) -> str:
    """An upper-case passage as the model reads best: names (and words that are no English)
    capitalised, other words in lower case; without a lexicon, title case. Offsets never move."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 8 or sum(c.isupper() for c in letters) <= 0.8 * len(letters):
        return text
    if lexicon is None:
        titled = text.title()
        return titled if len(titled) == len(text) else text

    def recase(match: re.Match[str]) -> str:
        word = match.group()
        lower = word.lower()
        base = lower[:-2] if lower.endswith(("'s", "’s")) else lower  # "KLAUS'S", "HERE'S"
        if lexicon.is_name(base) or not lexicon.is_english_word(base):
            new = word[0] + word[1:].lower() if len(word) > 1 else word
            new = re.sub(r"(?<=['’-])(\w)(?=\w)", lambda m: m.group(1).upper(), new)  # O'Brien, not Klaus'S
        else:
            new = lower
        return new if len(new) == len(word) else word

    return _READABLE_WORD.sub(recase, text)


def _trim_person(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The names in the model's person span text[start:end]: no line breaks, titles, English
    words, places or acronyms, and never a code, URL or e-mail address (the small model sometimes
    tags those as people). See `person_span_parts`."""
    return person_span_parts(text, start, end)


@functools.cache
def _load_ner(model: str):
    """The spaCy model with only what named-entity recognition needs."""
    import spacy

    from ingest.core.errors import ModelNotAvailable

    try:
        nlp = spacy.load(model, exclude=["tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])
    except OSError as error:
        raise ModelNotAvailable(
            f"spaCy model {model!r} is not installed: the redaction policy names it as `spacy_model`. "
            "Install its package (nothing is downloaded at run time) or choose an installed model "
            "such as 'en_core_web_sm'") from error
    # The packaged pipelines' shared tok2vec feeds only the tagger and parser; their NER embeds its words
    # itself. Unheard, it is about a quarter of NER time. A model whose NER listens to it keeps it.
    if "tok2vec" in nlp.pipe_names and not nlp.get_pipe("tok2vec").listening_components:
        nlp.remove_pipe("tok2vec")
    nlp.max_length = 10_000_000  # windows keep each text short; this only guards the call
    return nlp


# --- operators ---------------------------------------------------------------------

def _hash_token(entity_type: str, value: str, salt: bytes) -> str:
    normalized = " ".join(value.casefold().split())  # "John  Smith" and "JOHN SMITH" join
    digest = hmac.new(salt, f"{entity_type}:{normalized}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"<{entity_type}:{digest}>"


def apply_operators(text: str, findings: Sequence[Finding], policy: RedactionPolicy,
                    salt: bytes | None = None) -> RedactedText:
    """Replace each finding by its type's operator and count what was replaced.

    placeholder: `<TYPE>`; mask: `*` for each character; hash: `<TYPE:hmac>` with a secret salt, so
    equal values stay joinable across documents; drop: nothing.
    """
    pieces = []
    cursor = 0
    counts: Counter[str] = Counter()
    for finding in resolve(findings):
        value = text[finding.start:finding.end]
        operator = policy.operator(finding.entity_type)
        if operator == "placeholder":
            replacement = f"<{finding.entity_type}>"
        elif operator == "mask":
            replacement = re.sub(r"\S", "*", value)
        elif operator == "hash":
            replacement = _hash_token(finding.entity_type, value, salt if salt is not None else policy.hash_salt())
        else:
            replacement = ""
        pieces.append(text[cursor:finding.start])
        pieces.append(replacement)
        counts[finding.entity_type] += 1
        cursor = finding.end
    pieces.append(text[cursor:])
    return RedactedText("".join(pieces), dict(sorted(counts.items())))


# --- the redactor -----------------------------------------------------------------------

_worker_detector: PiiDetector | None = None


def _start_worker(policy: RedactionPolicy) -> None:
    global _worker_detector
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _worker_detector = PiiDetector(policy)


def _detect_in_worker(texts: list[str]) -> list[list[Finding]]:
    assert _worker_detector is not None
    return _worker_detector.detect(texts)


def _balanced_batches(texts: Sequence[str], batches: int) -> list[list[int]]:
    """Indexes of `texts` in consecutive groups of about equal characters."""
    total = sum(len(text) for text in texts) or 1
    target = total / batches
    groups: list[list[int]] = [[]]
    size = 0
    for i, text in enumerate(texts):
        if size >= target and groups[-1]:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += len(text)
    return groups


class Redactor:
    """Detects and replaces PII under a policy, in this process (`workers` 1) or in worker processes.

    With more than one worker allowed, detection always runs in workers forked from the fork
    server, which already holds the NER model and the name lexicon: this process never loads them,
    and a small batch costs one worker's start (a fraction of a second) instead of a model load.
    """

    def __init__(self, policy: RedactionPolicy = RedactionPolicy(), *, workers: int | None = None) -> None:
        self.policy = policy
        self.workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        self._salt = policy.hash_salt() if policy.uses_hash() else None
        self._detector: PiiDetector | None = None

    @property
    def detector(self) -> PiiDetector:
        if self._detector is None:
            self._detector = PiiDetector(self.policy)
        return self._detector

    def detect(self, texts: Sequence[str], *,
               on_progress: Callable[[int, int], None] | None = None) -> list[list[Finding]]:
        """Findings per text; `on_progress(characters done, characters)` follows each group of texts."""
        texts = list(texts)
        characters = sum(len(text) for text in texts)
        if self.workers <= 1 or not texts:
            findings = self.detector.detect(texts)
            if on_progress is not None:
                on_progress(characters, characters)
            return findings
        from ingest.core.workers import worker_context

        # A second worker pays off only on a large batch; several groups per worker balance the load.
        workers = self.workers if characters >= PARALLEL_MIN_CHARACTERS else 1
        groups = _balanced_batches(texts, workers * 4)
        findings: list[list[Finding]] = [[] for _ in texts]
        # The fork server is a fresh interpreter: no thread of this process (Dagster's) reaches a worker.
        with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(),
                                 initializer=_start_worker, initargs=(self.policy,)) as pool:
            done = 0
            for group, result in zip(groups, pool.map(_detect_in_worker, [[texts[i] for i in g] for g in groups]),
                                     strict=True):
                for i, found in zip(group, result, strict=True):
                    findings[i] = found
                done += sum(len(texts[i]) for i in group)
                if on_progress is not None:
                    on_progress(done, characters)
        return findings

    def redact(self, texts: Sequence[str], *,
               on_progress: Callable[[int, int], None] | None = None) -> list[RedactedText]:
        texts = list(texts)
        return [apply_operators(text, found, self.policy, self._salt)
                for text, found in zip(texts, self.detect(texts, on_progress=on_progress), strict=True)]


def redact_elements(elements: pl.DataFrame, redactor: Redactor, *,
                    on_progress: Callable[[int, int], None] | None = None) -> pl.DataFrame:
    """The elements with redacted text and an `entities` column: JSON counts by entity type.
    `on_progress(characters done, characters)` as `Redactor.detect` reports it."""
    import polars as pl

    redacted = redactor.redact(elements["text"].to_list(), on_progress=on_progress)
    return elements.with_columns(
        pl.Series("text", [r.text for r in redacted], dtype=pl.String),
        pl.Series("entities", [json.dumps(r.entity_counts, sort_keys=True) for r in redacted], dtype=pl.String),
    )


def entity_counts_by_document(redacted: pl.DataFrame) -> dict[str, dict[str, int]]:
    """doc id -> {entity type: count} over a redacted elements frame."""
    totals: dict[str, Counter[str]] = {}
    for doc_id, entities in redacted.select("doc_id", "entities").iter_rows():
        totals.setdefault(doc_id, Counter()).update(json.loads(entities))
    return {doc_id: dict(sorted(counts.items())) for doc_id, counts in totals.items()}


def residue_scan(texts: Sequence[str], policy: RedactionPolicy = RedactionPolicy(),
                 entities: Sequence[str] = BLOCKING_ENTITIES) -> list[dict[str, int]]:
    """Counts by entity type of pattern-detectable PII still present in already-redacted texts.

    The same recognisers, thresholds, allow list and identifier context as the redaction, without the
    language model: fast enough to re-scan everything before it is embedded. Every blocking type is
    scanned even when the policy leaves it out: keeping such values takes an explicit allow list.
    """
    scan_policy = replace(policy, entities=tuple(entities), deny_list=())
    detector = PiiDetector(scan_policy)
    return [dict(Counter(f.entity_type for f in found)) for found in detector.detect(list(texts))]
