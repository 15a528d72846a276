"""A donation's receipt as a document to file: what it shows, on the page and as a PDF.

The receipt names the issuing organisation (from the funds service), the receiving fund, the
amount in figures and in Chinese capitals, the goods of a gift in kind, and leaves room for the
seal and the handler's signature. The page (templates/donations/receipt.html) and the PDF
(templates/donations/receipt_pdf.html, laid out by WeasyPrint) include the same document,
templates/donations/_receipt_document.html, in the reader's language. The PDF embeds the subset
of a CJK font it uses (fonts-noto-cjk or fonts-wqy-zenhei), so it reads the same everywhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Response, render_template
from weasyprint import HTML

from services.donations.models import Donation
from services.donations.names import fund_name, organization_name
from shared.shapes import quantity_text
from shared.money import Money


def quantity_shown(quantity: Decimal) -> str:
    """A quantity as a page shows it: thousands grouped, as few decimals as it needs (2,500; 12.5)."""
    units, _, decimals = quantity_text(quantity).partition(".")
    return f"{int(units):,}" + (f".{decimals}" if decimals else "")


def goods_shown(donation: Donation) -> dict[str, str] | None:
    """A gift in kind's goods as the receipt lists them, or None."""
    if donation.goods_item is None or donation.goods_quantity is None or donation.goods_unit_price_fen is None:
        return None
    return {"item": donation.goods_item, "quantity": quantity_shown(donation.goods_quantity),
            "unit": donation.goods_unit or "", "unit_price": Money(donation.goods_unit_price_fen).display()}


def receipt_context(donation: Donation) -> dict[str, Any]:
    """What the receipt's document shows besides the donation itself."""
    return {"donation": donation, "fund_name": fund_name(donation.fund_code),
            "organization_name": organization_name(donation.organization_id), "goods": goods_shown(donation)}


def filename(donation: Donation) -> str:
    return f"receipt-{donation.receipt_no}.pdf"


def receipt_pdf(donation: Donation) -> bytes:
    """The receipt as a PDF of one A5 page, in the reader's language."""
    html = render_template("donations/receipt_pdf.html", **receipt_context(donation))
    return HTML(string=html).write_pdf()  # type: ignore[no-any-return]


def receipt_download(donation: Donation) -> Response:
    """The PDF as a download named by its receipt number."""
    return Response(receipt_pdf(donation), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename(donation)}"', "Cache-Control": "private, no-store"})
