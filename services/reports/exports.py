"""A scope's ledger for a period, as a file an accountant opens: journal, CSV or XLSX.

    body, content_type, filename = export(Sources(peers), Scope(fund_code="TL-HQ-001"),
                                          Period.parse("2026-Q3"), "journal")

The heads are taken first and every later question is asked up to them, as a
report does, so an export is one moment of the ledger even while postings go
on. The scope's funds are the report's (build.py): the funds service's list,
and any fund the ledger holds for the scope that the list lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from services.reports import facts
from services.reports.build import scope_funds
from services.reports.render import ledger_export
from services.reports.rules import EXPORT_FORMATS
from services.reports.sources import Sources
from shared.periods import Period

CONTENT_TYPES = {
    "journal": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def file_name(scope: facts.Scope, period: Period, fmt: str) -> str:
    """`ledger-2026-Q3-all.journal`, `ledger-2026-08-org-7.csv`, `ledger-2026-fund-TL-HQ-001.xlsx`:
    only letters, digits and `-`, so the name needs no quoting in a header."""
    return f"ledger-{period.label}-{scope.key.replace(':', '-')}.{fmt}"


def export(sources: Sources, scope: facts.Scope, period: Period, fmt: str) -> tuple[bytes, str, str]:
    """The scope's ledger for the period in `fmt` (csv, xlsx or journal): (body, content type, file name).

    Raises ValueError for another format, build.NoSuchScope for an unknown fund or
    organisation, and whatever Sources raises when a service is out of reach.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"no such export format: {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")
    snapshot = sources.heads()
    label, _, funds = scope_funds(sources, scope, snapshot)
    # A fund without entries has no head in the ledger: it starts from nothing.
    held = {f.fund_code: f.head for f in snapshot.funds}
    heads = [held.get(f.code) or facts.Head(f.code, 0, facts.NO_ENTRIES_HASH) for f in funds]
    codes = [f.code for f in funds]
    openings: Iterable[facts.OpeningBalance] = ()
    entries: Iterable[facts.LedgerEntry] = ()
    if codes:  # an organisation without funds: an empty ledger, nothing to ask
        openings = sources.opening_balances(heads, codes, period.first)
        entries = sources.entries(heads, codes, period.first, period.last)
    render: dict[str, Callable[[], bytes]] = {
        "journal": lambda: ledger_export.journal(openings, entries, period=period, scope_label=label),
        "csv": lambda: ledger_export.csv(openings, entries, period=period),
        "xlsx": lambda: ledger_export.xlsx(openings, entries, period=period),
    }
    return render[fmt](), CONTENT_TYPES[fmt], file_name(scope, period, fmt)
