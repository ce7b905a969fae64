"""Identifiers written as numbers: card numbers of 12 to 19 digits with the Luhn check (Presidio's
pattern stops at 17 digits); IBANs in lower or mixed case, and US SSNs in any layout next to words
that say so; US driver's licences only next to words that say so (Presidio's pattern takes any
letter-and-digits code for one).
"""

from __future__ import annotations

import re

from ingest.pii.recognizers.common import Finding, has_context

# --- card numbers ------------------------------------------------------------------------

# 12 to 19 digits, in groups separated by single spaces or dashes (Maestro has 12, some Visa 19;
# Presidio's pattern stops at 17).
_CARD = re.compile(r"(?<![\w-])[0-6]\d{3}(?:[ -]?\d){8,15}(?![\w-])")
_CARD_CUES = frozenset("card cc credit debit visa mastercard amex maestro payment pay number".split())
_CARD_WORDS = _CARD_CUES - {"number", "pay", "payment"}


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
            if _licence_cued(text, match.start()) and not has_context(text, match.start(), _CARD_WORDS, window=30,
                                                                       words=4):
                continue  # "My driver's license number is 128753505592": a licence that passes Luhn
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



# --- driver's licences ---------------------------------------------------------------

# The shapes the US states issue (a letter and up to 18 digits, digits with a letter or two after
# them, "99ABC99999" in New Hampshire, "999AB9999" in Iowa, "K99-99-9999" in Kansas, Washington's
# name-derived "SMITHJA123B4", seven digits and more), taken only next to words that say so.
_LICENCE = re.compile(
    r"(?<![\w-])(?:[A-Za-z]\d{4,18}|[A-Za-z]{2}\d{2,12}|[A-Za-z]\d{6}R|\d{7,16}|\d{7,9}[A-Za-z]{1,2}"
    r"|\d{2}[A-Za-z]{3}\d{5}|\d{3}[A-Za-z]{2}\d{4}|[A-Za-z]{3}\d{6}|[A-Za-z]{2}\d{6}[A-Za-z]"
    r"|[A-Za-z]\d{2}-\d{2}-\d{4}|(?=[A-Z*]{5,7}\d)[A-Z*]{5,7}\d{3}[A-Z0-9]{2}|WDL[A-Z0-9]{9}"
    r"|[A-Za-z](?:[ -]?\d{3,4}){3,4})(?![\w-])")
_LICENCE_CUES = frozenset("""driver driver's drivers driving licence license licenses licences dl dln
permit""".split())


def _licence_cued(text: str, start: int) -> bool:
    return has_context(text, start, _LICENCE_CUES, window=40, words=5)


def find_driver_licences(text: str) -> list[Finding]:
    return [Finding(m.start(), m.end(), "US_DRIVER_LICENSE", 0.8, "us-driver-licence+context")
            for m in _LICENCE.finditer(text) if _licence_cued(text, m.start())]
