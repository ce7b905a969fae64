"""Phone numbers of any country, also glued to text, checked by digit count and layout and, with a
country code, by `phonenumbers`.
"""

from __future__ import annotations

import re

import phonenumbers

from ingest.pii.recognizers.common import Finding, has_context

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
