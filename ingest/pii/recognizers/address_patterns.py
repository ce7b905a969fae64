"""The words and patterns street addresses are read by: street types written before, after or glued to
the name in many languages, apartment lines, post-office boxes, postal tails and the lines of an
address block, and the words that announce an address.
"""

from __future__ import annotations

import re

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
χλμ χλμ. ulitsa
prospekt caddesi sokak cesta trg
""".split())
# Prefixes that are English words or common abbreviations: a street only with a number.
_WEAK_PREFIXES = frozenset("via place route plaza boulevard avenue corso largo al. pl. r. r av. os. str. bd. "
                           "cesta trg χλμ χλμ.".split())
# "χλμ" (the kilometre of a Greek highway: "χλμ Αθηνών Σουνίου 246") names a road only with its number after
# the name; "40 χλμ συνολικά" is a distance.
_NUMBER_AFTER_PREFIXES = frozenset({"χλμ", "χλμ."})
# Street types written as a separate word after the name in other languages ("Bécsi utca 35.").
_STREET_POSTFIXES = frozenset("""
utca u. út útja körút krt. tér köz sétány rakpart rkp. fasor tee tänav mnt. maantee puiestee
ulica ul. gate gata gatan vej vei veien veg vegen gade stræde straat
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
# "∆" (the increment sign) stands for a Greek capital delta in text converted from some fonts ("∆ΕΚΕΛΕΙΑ").
_CAP_START = r"[A-ZÀ-ÖØ-ÞĀ-ſΑ-ΩΆ-ΏА-Я∆]"
_CAP = rf"{_CAP_START}[\w'’∆-]*\.?"  # "∆" is a Greek capital delta written as a sign: "ΘΕΟ∆ΩΡΟΣ"
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
# A street named after a date ("Rue 9 Avril 1938", "Avenida 5 de Mayo"): a day, a month, maybe a year.
_DATE_AFTER_PREFIX = re.compile(r"[ \t]+(?:du[ \t]+)?\d{1,2}[ \t]+(?:de[ \t]+)?([^\W\d_]+)"
                                r"(?:[ \t]+(?:de[ \t]+)?\d{4})?(?![\w-])")
_NUMBER_AFTER_NAME = re.compile(rf"[ \t]*,?[ \t]+{_NUMBER}(?![\w-]|[.,]\d)\.?")
_NUMBER_AFTER = re.compile(rf"[ \t]+{_NUMBER}(?![\w-]|[.,]\d)\.?")
# Two numbers around foreign words ("637 Strojírenská 1006"), or words and a number ("Harevænget 23").
_NUMBERED_NAME = re.compile(
    rf"(?<![\w.,/-])(?:({_NUMBER})[ \t]+){{0,2}}({_CAP}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?(?:{_CAP}|{_LOWER_WORD})){{0,3}})"
    rf"[ \t]+({_NUMBER})"
    rf"(?![\w-]|[.,]\d|[ \t]*%)\.?")
# A house number and a building number before a street's name that ends its line ("562 93 Zeas Pasalimani\n",
# "213 176 Akti Pagalou\n"): the name alone could be a person's.
_NUMBERS_THEN_NAME = re.compile(
    rf"(?<![\w.,/-]){_NUMBER}[ \t]+{_NUMBER}[ \t]+({_CAP}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_CAP}){{0,2}})"
    r"(?=[ \t]*(?:\n|\Z))")
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
# ", City, Country 12345" or ", City, ST 12345": the postal tail of a one-line address; a town may
# carry a district's number (", Kaplice 1, Czech Republic").
# A town may hold a number between its words (", Cite 22 Janvier, Tunisia"); a list of addresses goes on
# after the tail (", Czech Republic 60225, and PSC 0075").
# A word's full stop ends the town ("Tunisia. Please"), an abbreviation's does not ("St. Gallen").
_TAIL_PLACE_NAME = (rf"{_CAP}(?:(?<!\w{{4}}\.)[ \t]+(?:{_PLACE_WORD}|{_PARTICLE}"
                    rf"|\d{{1,3}}(?=[ \t]+{_CAP_START}))){{0,3}}")
_COMMA_TAIL = re.compile(rf"(?:[ \t]*,[ \t]*(?:{_PARTICLE}[ \t]+)?{_TAIL_PLACE_NAME}(?:[ \t]+\d{{1,3}})?){{1,3}}"
                         rf"(?:,?[ \t]+{_POSTCODE})?(?=[ \t]*(?:[.?!;:)]|,[ \t]+(?:and|or)[ \t]|\n|$)"
                         r"|[ \t]+[a-z])")
# After an apartment or suite: "Apt. 542 KÖTTMANNSDORF Austria", "Suite 646 Telc VY".
_TOWN_WORD = rf"(?:{_CAP_START}[\w'’-]*|\({_CAP}\))"  # no full stop: "Castellón. It serves"
_TOWN_PARTICLE = rf"(?:{_PARTICLE}|pri|mesto|sur|bei|upon)"
# A region's word in lower case after its name ("Plzenský kraj", "Harju maakond").
_REGION_WORD = r"(?:kraj|oblast|megye|maakond|län|fylke|županija|vojvodstvo|okres)"
_SPACE_TAIL = re.compile(rf"(?:[ \t]+(?:{_TOWN_PARTICLE}[ \t]+)?(?:\d{{1,3}}[ \t]+{_TOWN_PARTICLE}[ \t]+)?{_TOWN_WORD}"
                         rf"(?:[ \t]+\d{{1,3}}(?=[ \t]+{_CAP_START}))?){{1,4}}"
                         rf"(?:(?:[ \t]+{_TOWN_PARTICLE}){{1,2}}(?:[ \t]+{_TOWN_WORD}){{1,3}})?(?:[ \t]+{_TOWN_WORD}){{0,3}}"
                         rf"(?:[ \t]+{_REGION_WORD}\b)?(?:[ \t]+{_POSTCODE})?"
                         r"(?=[ \t]*(?:[.?!;:,)]|\n|$)|[ \t]+[a-z])")
# A town line of a block may have five words and a district's number ("\n Cite Bain Maure Ben Azouz",
# "\n Cite Mongi Slim 2").
_BLOCK_PLACE_NAME = rf"{_CAP}(?:[ \t]+(?:{_PLACE_WORD}|{_PARTICLE})){{0,4}}(?:[ \t]+\d{{1,3}}(?=[ \t]*\n))?"
# "\nCity\n, ST\n 12345", "\nCity, ST 12345": a US-style locality (the comma says the state follows).
_LOCALITY_LINES = re.compile(
    rf"[ \t]*\n[^\w\n]{{0,6}}(?:{_PARTICLE}[ \t]+)?{_BLOCK_PLACE_NAME}(?:[ \t]*\n[ \t]*,[ \t]*|[ \t]*,[ \t]*)"
    rf"(?:[A-Z]{{2,3}}|\d{{1,2}})(?:[ \t]*\n[^\w\n]{{0,6}}|[ \t]+)(?:{_PLACE_NAME}[ \t]+)?{_POSTCODE}(?![\w])")
# A country (or town) line ending in a postcode, within the lines after a street line.
_POSTCODE_LINE = re.compile(rf"\n[^\w\n]{{0,6}}{_PLACE_NAME}[ \t]+({_POSTCODE})[ \t]*(?=\n|$)")
# A town line of a block, also a town and its district ("Warszawa/Wesoła").
_PLACE_LINE = re.compile(rf"\n[^\w\n]{{0,6}}{_PLACE_NAME}(?:/{_PLACE_NAME})?(?:[ \t]+\d{{1,3}})?[ \t]*(?=\n)"
                         r"|\n[ \t]*(?=\n)")
# A line of an address block below the street line: a town or a country, with a state code or a
# postcode or neither ("\n Montevideo", "\n Uruguay 05730", "\n Cyprus (Greek) 42486"). Only a plain,
# maybe indented line continues the block: a bullet or a blank line starts something else.
_BLOCK_LINE = re.compile(
    rf"[ \t]*\n[ \t]*({_BLOCK_PLACE_NAME})(?:[ \t]*,?[ \t]+[A-Z]{{2,3}})?(?:[ \t]*,?[ \t]+({_POSTCODE}))?"
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
# Capitalised words right before a street line that starts with its number ("Mäe 47 Frederikke Greens").
_NAME_BEFORE_NUMBER = re.compile(rf"((?:{_CAP_START}[\w'’-]*[ \t]+){{1,3}})\Z")
# A crossing before a street: "Monika and Turjaška 48", also a given and a second name ("Alojzija Ana and
# Pilekrogen 51").
_WORD_AND_BEFORE = re.compile(rf"(?<![\w])((?:{_CAP}[ \t]+)?{_CAP})[ \t]+and[ \t]+\Z")
_ADDRESS_CUES = frozenset("""address addresses adresse lives live lived living located location at to on in moved move
ship shipped send sent deliver delivered delivery meet visit street corner reside resides residing side near
opposite""".split())


# Words before a street written as name and number ("lives on Harevænget 23"); not "in", which
# comes before towns ("in Ezzahra 2034").
_STREET_CUES = _ADDRESS_CUES - {"in"}
