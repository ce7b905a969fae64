"""The hand-written cases of the PII evaluation (`benchmarks.pii_eval`): hard cases the generator does
not produce, with their gold values, and identifiers a redactor must leave alone."""

from __future__ import annotations

# Hard cases the generator does not produce: (text, [(value, entity type), ...]); offsets are
# found with text.index(value), so each value occurs once in its text. IBANs pass mod-97 and
# card numbers pass Luhn, so a checksum-validating detector is not wrongly blamed.
_HAND_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    # Names in lower case, upper case, alone, and in unusual shapes.
    ("please ask maria gonzalez to call me back", [("maria gonzalez", "PERSON")]),
    ("JOHN O'BRIEN SIGNED THE DELIVERY NOTE AT 9AM", [("JOHN O'BRIEN", "PERSON")]),
    ("dear priya,\nthanks for the quick reply.", [("priya", "PERSON")]),
    ("cc: wei zhang (finance), tomasz kowalski (legal)", [("wei zhang", "PERSON"), ("tomasz kowalski", "PERSON")]),
    (
        "ATTENDEES: SARAH CONNOR, AHMED KHAN AND LI NA",
        [("SARAH CONNOR", "PERSON"), ("AHMED KHAN", "PERSON"), ("LI NA", "PERSON")],
    ),
    ("Hi Olamide, your parcel is on its way.", [("Olamide", "PERSON")]),
    ("signed: jean-luc picard, captain", [("jean-luc picard", "PERSON")]),
    ("Thanks, Dr. Anika Patel", [("Anika Patel", "PERSON")]),
    ("Regards,\nkatarzyna nowak\nAccounts Payable", [("katarzyna nowak", "PERSON")]),
    ("the form was filled in by MÜLLER, STEFAN on monday", [("MÜLLER, STEFAN", "PERSON")]),
    ("thx, ravi", [("ravi", "PERSON")]),
    ("Spoke with Siobhán Ní Bhriain about the refund.", [("Siobhán Ní Bhriain", "PERSON")]),
    ("my manager is chen jing and she approved it", [("chen jing", "PERSON")]),
    ("Patient: ANA-MARIA POPESCU, admitted for observation", [("ANA-MARIA POPESCU", "PERSON")]),
    # Phone numbers glued to text, and from outside the US, with and without country code.
    ("call me at+44 20 7946 0958 after six", [("+44 20 7946 0958", "PHONE_NUMBER")]),
    ("tel:0049-30-1234567", [("0049-30-1234567", "PHONE_NUMBER")]),
    ("ph.555-867-5309 (mobile)", [("555-867-5309", "PHONE_NUMBER")]),
    ("Our London office is on 020 7946 0018.", [("020 7946 0018", "PHONE_NUMBER")]),
    ("text me on 07700 900123 when you land", [("07700 900123", "PHONE_NUMBER")]),
    ("Rückruf bitte unter +49 30 901820", [("+49 30 901820", "PHONE_NUMBER")]),
    ("Tel. (030) 2312 5000 ab 9 Uhr", [("(030) 2312 5000", "PHONE_NUMBER")]),
    ("Standard : +33 1 42 68 53 00", [("+33 1 42 68 53 00", "PHONE_NUMBER")]),
    ("appelez-moi au 06 12 34 56 78 demain", [("06 12 34 56 78", "PHONE_NUMBER")]),
    ("WhatsApp +91 98765 43210 for updates", [("+91 98765 43210", "PHONE_NUMBER")]),
    ("landline 022 2345 6789 (Mumbai)", [("022 2345 6789", "PHONE_NUMBER")]),
    ("fale comigo: +55 11 91234-5678", [("+55 11 91234-5678", "PHONE_NUMBER")]),
    ("celular (21) 98765-4321", [("(21) 98765-4321", "PHONE_NUMBER")]),
    ("Tokyo office +81 3-1234-5678", [("+81 3-1234-5678", "PHONE_NUMBER")]),
    ("reception desk 03-5555-1234 (Japan)", [("03-5555-1234", "PHONE_NUMBER")]),
    ("Sydney office: (02) 9374 4000", [("(02) 9374 4000", "PHONE_NUMBER")]),
    ("from overseas dial +61 2 9374 4000", [("+61 2 9374 4000", "PHONE_NUMBER")]),
    ("Fax:+1 (617) 555-0199", [("+1 (617) 555-0199", "PHONE_NUMBER")]),
    ("reach the desk at 212.555.0147 anytime", [("212.555.0147", "PHONE_NUMBER")]),
    # IBANs with and without spaces.
    ("Please wire it to DE89 3704 0044 0532 0130 00 by Friday.", [("DE89 3704 0044 0532 0130 00", "IBAN_CODE")]),
    ("IBAN:GB82WEST12345698765432", [("GB82WEST12345698765432", "IBAN_CODE")]),
    ("Compte FR14 2004 1010 0505 0001 3M02 606 (Paris)", [("FR14 2004 1010 0505 0001 3M02 606", "IBAN_CODE")]),
    ("iban nl91abna0417164300 as typed on the form", [("nl91abna0417164300", "IBAN_CODE")]),
    ("Spanish account ES91 2100 0418 4502 0005 1332.", [("ES91 2100 0418 4502 0005 1332", "IBAN_CODE")]),
    ("transfer to CH9300762011623852957, ref. invoice", [("CH9300762011623852957", "IBAN_CODE")]),
    ("Bonifico su IT60X0542811101000000123456 grazie", [("IT60X0542811101000000123456", "IBAN_CODE")]),
    # Card numbers with spaces, dashes and glued to text.
    ("card 4111 1111 1111 1111 exp 12/27", [("4111 1111 1111 1111", "CREDIT_CARD")]),
    ("charged to 5500-0000-0000-0004 yesterday", [("5500-0000-0000-0004", "CREDIT_CARD")]),
    ("Amex 3782 822463 10005", [("3782 822463 10005", "CREDIT_CARD")]),
    ("cc#6011111111111117", [("6011111111111117", "CREDIT_CARD")]),
    ("Visa:4012888888881881.", [("4012888888881881", "CREDIT_CARD")]),
    ("JCB 3530 1113 3330 0000 was declined", [("3530 1113 3330 0000", "CREDIT_CARD")]),
    # US social security numbers (valid-looking, not the famous sample ones).
    ("SSN 536-22-8726 on file", [("536-22-8726", "US_SSN")]),
    ("social security no. 301 47 5512", [("301 47 5512", "US_SSN")]),
    ("ssn:624183390", [("624183390", "US_SSN")]),
    ("Employee SSN: 412-67-9034.", [("412-67-9034", "US_SSN")]),
    # IPv4 and IPv6, with ports and brackets around them.
    ("login from 192.168.10.45 failed", [("192.168.10.45", "IP_ADDRESS")]),
    ("server at 10.0.0.254:8080 is down", [("10.0.0.254", "IP_ADDRESS")]),
    ("IPv6 2001:db8:85a3::8a2e:370:7334 was blocked", [("2001:db8:85a3::8a2e:370:7334", "IP_ADDRESS")]),
    ("link-local fe80::1ff:fe23:4567:890a on eth0", [("fe80::1ff:fe23:4567:890a", "IP_ADDRESS")]),
    ("connect to [2001:db8::1]:443", [("2001:db8::1", "IP_ADDRESS")]),
    ("client_ip=203.0.113.77;", [("203.0.113.77", "IP_ADDRESS")]),
    # E-mail addresses in brackets and glued to punctuation.
    ("From: Jane Doe <jane.doe@example.org>", [("Jane Doe", "PERSON"), ("jane.doe@example.org", "EMAIL_ADDRESS")]),
    ("(contact: ops-team@mail.example.co.uk)", [("ops-team@mail.example.co.uk", "EMAIL_ADDRESS")]),
    ("write to bob.smith@acme.io.", [("bob.smith@acme.io", "EMAIL_ADDRESS")]),
    ("e-mail:anna_k@web.de, fax none", [("anna_k@web.de", "EMAIL_ADDRESS")]),
    ("Send to first.last+billing@sub.example.com;thanks", [("first.last+billing@sub.example.com", "EMAIL_ADDRESS")]),
    ("MAIL ME AT KARL.HEINZ@EXAMPLE.DE", [("KARL.HEINZ@EXAMPLE.DE", "EMAIL_ADDRESS")]),
    # Street addresses, including non-US ones.
    ("He lives at 221B Baker Street, London.", [("221B Baker Street", "STREET_ADDRESS")]),
    ("Deliver to 1600 Pennsylvania Avenue NW, Washington", [("1600 Pennsylvania Avenue NW", "STREET_ADDRESS")]),
    ("Address: Flat 4, 12 Rue de Rivoli, Paris", [("Flat 4, 12 Rue de Rivoli", "STREET_ADDRESS")]),
    ("Büro: Hauptstraße 5, Berlin", [("Hauptstraße 5", "STREET_ADDRESS")]),
    ("ship to 350 Fifth Avenue, Suite 3400", [("350 Fifth Avenue, Suite 3400", "STREET_ADDRESS")]),
    ("Calle de Alcalá 48, 2º izquierda", [("Calle de Alcalá 48", "STREET_ADDRESS")]),
    # California driver's licences (a letter and seven digits) with context.
    ("driver's license number D1234567", [("D1234567", "US_DRIVER_LICENSE")]),
    ("CA DL: B7654321, expires 2027", [("B7654321", "US_DRIVER_LICENSE")]),
    ("Her California driver licence is Y2345678.", [("Y2345678", "US_DRIVER_LICENSE")]),
    # Several types in one text.
    (
        "Contact Lena Fischer at lena.fischer@example.de or +49 170 1234567.",
        [("Lena Fischer", "PERSON"), ("lena.fischer@example.de", "EMAIL_ADDRESS"), ("+49 170 1234567", "PHONE_NUMBER")],
    ),
    (
        "refund to NL91 ABNA 0417 1643 00 for tomás garcía",
        [("NL91 ABNA 0417 1643 00", "IBAN_CODE"), ("tomás garcía", "PERSON")],
    ),
]

# Identifiers a redactor must leave alone, each in a few sentence templates.
_NON_PII_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Where is order {}? It was due yesterday.", ("4417-2291", "#A-88213", "PO-2024-00871", "10093375")),
    ("Ticket {} was closed as a duplicate.", ("INC0012345", "CASE-00981234", "SR-7730219", "#48213")),
    ("The fix is tracked in JIRA {}.", ("PROJ-4821", "OPS-1187", "DATA-20391", "INFRA-3310")),
    ("Please restock SKU {} before the sale.", ("AB-12345-XL", "TS-0042-BLK", "990-1184-02", "SKU-99812")),
    ("Replace the filter with part no. {}.", ("7731-0042", "A2-55-1093", "114-2280-77", "6205-2RS")),
    ("Invoice {} is attached for your records.", ("INV-2024-0113", "2024/00457", "INV0098812", "F-2023-11-0042")),
    ("Quote reference {} on all correspondence.", ("REF-55210", "QR/7781/B", "88-3312-7", "2023-REF-00917")),
    ("The Model {} ships with a two-year warranty.", ("X200-B", "WH-1000XM5", "KX-TG6821", "SM-G991B")),
    ("See catalogue code {} on page 12.", ("ZX81", "C64-II", "AC-330/12", "B07XJ8C8F5")),
    ("Patients with {} variants were excluded.", ("BRCA1", "TP53", "CYP2D6", "HLA-B*57:01")),
    (
        "Dose: {} twice daily with food.",
        ("metformin 500 mg", "atorvastatin 20 mg", "amoxicillin 875 mg", "ibuprofen 400 mg"),
    ),
    ("Upgrade the agent to {} before the rollout.", ("v2.14.1", "3.11.4", "1.0.0-rc.2", "2024.10.1")),
    (
        "The regression came in with commit {}.",
        ("a3f9c1e", "9fceb02d0ae598e95dc970b74767f19372d61af8", "e83c5163316f89bfbde7d9ab23ca2e25604af290", "4b825dc"),
    ),
    ("Lot {} failed the humidity test.", ("L2309-114", "23-0457-A", "B-77120", "5521/09")),
    ("The log shows error {} after the update.", ("0x80070057", "E1234-07", "ORA-00942", "CVE-2023-44487")),
    ("The meeting moved to room {}.", ("4.12", "B-204", "3F-17", "HQ-2-118")),
)
# (text, identifier): the identifier must come out of redaction untouched.
NON_PII_CASES: tuple[tuple[str, str], ...] = tuple(
    (template.format(identifier), identifier)
    for template, identifiers in _NON_PII_TEMPLATES
    for identifier in identifiers
)
