"""Regenerate the bundled sample corpus in ingest/sample_corpus (committed output).

Two tenants with every supported kind of file, including a scanned PDF page
whose facts exist only in the image. Run from the checkout: .venv/bin/python -m scripts.make_sample_corpus
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.corpus import (
    Section,
    write_docx,
    write_eml,
    write_html,
    write_image,
    write_markdown,
    write_msg,
    write_pptx,
    write_scanned_pdf,
    write_text,
    write_text_pdf,
    write_xlsx,
)

ROOT = Path(__file__).resolve().parents[1] / "ingest" / "sample_corpus"

QUESTIONS = {
    "acme": "How many days do customers have to return an item?",
    "globex": "At what temperature are the cell cultures incubated?",
}


def acme(folder: Path) -> None:
    write_text_pdf(folder / "handbook" / "returns-policy.pdf", [
        Section("Returns and refunds", (
            "Customers may return any unused item within 45 days of delivery for a full refund. "
            "Items must be in their original packaging with all accessories included.",
            "Refunds are issued to the original payment method within five business days after "
            "the warehouse has inspected the returned item.",
        )),
        Section("Exceptions", (
            "Custom-cut timber, mixed paint and clearance items cannot be returned. "
            "Power tools that have been used may be returned only under the warranty terms.",
        )),
    ])
    write_docx(folder / "handbook" / "warranty.docx", [
        Section("Warranty terms", (
            "All Acme power tools carry a three-year warranty against defects in materials and workmanship.",
            "Batteries and chargers are covered for two years. Wear parts such as blades and bits are not covered.",
        )),
        Section("Making a claim", (
            "Bring the tool and the receipt to any Acme store, or open a claim on the support portal "
            "with the serial number printed under the battery slot.",
        )),
    ])
    write_markdown(folder / "support" / "faq.md", [
        Section("Delivery", (
            "Standard delivery takes three to five working days. Express delivery arrives the next "
            "working day when ordered before 2 pm.",
        )),
        Section("Store hours", ("Stores open from 7 am to 8 pm on weekdays and from 8 am to 6 pm at weekends.",)),
    ])
    write_html(folder / "support" / "gift-cards.html", [
        Section("Gift cards", (
            "Acme gift cards are valid for five years from the date of purchase and can be used online "
            "and in every store.",
            "Lost gift cards can be replaced when the original receipt is shown.",
        )),
    ])
    write_scanned_pdf(folder / "scans" / "warehouse-inspection.pdf", [[
        "Warehouse Safety Inspection",
        "Site: Northgate distribution centre",
        "The forklift with fleet number FL-27 failed the brake test",
        "and was taken out of service until repaired.",
        "Loading bay doors 3 and 4 passed the annual inspection.",
    ]])
    write_image(folder / "scans" / "delivery-note.png", [
        "Delivery note 5531",
        "Pallets delivered: 12",
        "Received in good condition at the Northgate dock.",
    ])
    write_eml(
        folder / "mail" / "escalation.eml",
        sender="Dana Whitfield <dana.whitfield@acme-example.com>",
        to="support-leads@acme-example.com",
        subject="Escalation: damaged mitre saw delivery",
        body=(
            "Hello team,\n\n"
            "A customer, Robert Kowalski, received a mitre saw with a cracked base plate. "
            "He asked to be called back on +1 415 555 0142 or by e-mail at robert.kowalski@example.net.\n\n"
            "Please send a replacement by express delivery at no charge.\n\n"
            "Dana Whitfield\n"
        ),
    )
    write_msg(
        folder / "mail" / "supplier-recall.msg",
        sender_name="Supplier Quality Desk",
        sender="quality@boltworks-example.com",
        to="buyers@acme-example.com",
        subject="Recall: step ladders from batch 42",
        body=(
            "Step ladders from production batch 42 are recalled because the hinge pins can shear under load.\n\n"
            "Remove them from sale and return them to the Northgate distribution centre."
        ),
    )
    write_xlsx(folder / "pricing" / "price-list.xlsx", "Power tools", [
        ["Product", "SKU", "Price (USD)"],
        ["Cordless drill 18V", "DR-1800", 129.0],
        ["Mitre saw 10 inch", "MS-1000", 249.0],
        ["Orbital sander", "OS-0500", 79.0],
    ])
    write_pptx(folder / "slides" / "q3-review.pptx", [
        Section("Q3 review", ("Online orders grew 18 percent compared with Q2.",)),
        Section("Priorities for Q4", ("Open two new stores.", "Cut delivery times in rural areas.")),
    ])
    write_text(folder / "notes" / "release-notes.txt", [
        Section("Store app 4.2", (
            "The store app now shows live stock levels for every nearby store.",
            "Barcode scanning works offline and syncs when the phone reconnects.",
        )),
    ])


def globex(folder: Path) -> None:
    write_text_pdf(folder / "protocols" / "cell-culture.pdf", [
        Section("Cell culture protocol", (
            "HEK293 cell cultures are incubated at 37 degrees Celsius with 5 percent carbon dioxide "
            "and passaged every three days at 80 percent confluence.",
            "Media is pre-warmed in a water bath before use and discarded after four weeks.",
        )),
        Section("Contamination control", (
            "Work only in a class II biosafety cabinet and wipe every surface with 70 percent ethanol "
            "before and after use.",
        )),
    ])
    write_markdown(folder / "safety" / "lab-safety.md", [
        Section("Personal protective equipment", (
            "Lab coats, nitrile gloves and safety glasses are required in every wet lab.",
        )),
        Section("Chemical spills", (
            "Small spills are absorbed with the spill kit next to the door; large spills are reported "
            "to the safety officer immediately.",
        )),
    ])
    write_html(folder / "equipment" / "centrifuge.html", [
        Section("Centrifuge operation", (
            "Balance opposite tubes to within 0.1 gram before starting a run.",
            "The maximum speed for the fixed-angle rotor is 15,000 revolutions per minute.",
        )),
    ])
    write_docx(folder / "people" / "onboarding.docx", [
        Section("Onboarding checklist", (
            "New staff complete the biosafety course during their first week.",
            "Badges are issued by the front desk once the course certificate is uploaded.",
        )),
    ])
    write_scanned_pdf(folder / "reports" / "freezer-audit.pdf", [[
        "Freezer Audit Report",
        "Freezer B2 in room 114 held minus 80 degrees Celsius",
        "for the whole audit period.",
        "Sample boxes without labels were moved to quarantine shelf Q1.",
    ]])
    write_eml(
        folder / "mail" / "instrument-booking.eml",
        sender="Priya Raman <priya.raman@globex-example.org>",
        to="lab-managers@globex-example.org",
        subject="Confocal microscope booking",
        body=(
            "Hi all,\n\nThe confocal microscope is booked for maintenance every first Monday of the month. "
            "Questions go to Marcus Chen on +44 20 7946 0958.\n\nPriya\n"
        ),
    )


def main() -> None:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    acme(ROOT / "acme")
    globex(ROOT / "globex")
    (ROOT / "questions.json").write_text(json.dumps(QUESTIONS, indent=2) + "\n", encoding="utf-8")
    print(f"wrote the sample corpus to {ROOT}")


if __name__ == "__main__":
    main()
