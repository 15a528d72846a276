"""Lists that scale: a page of rows, a sort, and the count and totals of every matching row.

A list page is a query (its filters, from the service's domain module) read
through `page_of`: its rows sorted by a column the reader picks from an
allow-list, a page of them, and the count and the sums of *all* the rows that
match, computed by PostgreSQL, never by adding up the page. An export
(`export_rows`) reads the same query in the same order, every matching row, up
to EXPORT_LIMIT. The templates' parts (headings, summary, pager, export) are
shared/templates/_listing.html.

Paging is by offset. People jump to a page by its number and sort by any of a
few columns, which keyset paging cannot do with one index a sort; an offset
costs the rows it skips, read from an index in the default sort's order, so a
page deep in 20,000 rows still costs milliseconds.

The arguments are a page's GET form, checked by a shape as everything typed
is: `paging_fields` gives the page, its size and, for a sortable list, the
sort and its direction; a bad value is refused naming its field (422).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Select, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shared.errors import Problem
from shared.shapes import Choice, Field, Integer

PAGE_SIZES = (20, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE = 1_000_000
DIRECTIONS = ("asc", "desc")
# The most rows an export holds (XLSX); a PDF is laid out page by page, so it holds fewer.
EXPORT_LIMIT = 10_000


def paging_fields(sorts: Sequence[str] = (), default_sort: str = "", default_order: str = "desc",
                  default_size: int = DEFAULT_PAGE_SIZE) -> dict[str, Field]:
    """The page and its size, and for a sortable list the column sorted by and the direction."""
    fields: dict[str, Field] = {
        "page": Integer(minimum=1, maximum=MAX_PAGE, default=1),
        "size": Choice(tuple(str(size) for size in PAGE_SIZES), default=str(default_size)),
    }
    if sorts:
        fields["sort"] = Choice(tuple(sorts), default=default_sort)
        fields["order"] = Choice(DIRECTIONS, default=default_order)
    return fields


@dataclass(frozen=True)
class Page:
    """One page of a list, and what every row matching its filters adds up to."""

    rows: list[Any]
    number: int
    size: int
    count: int
    sort: str = ""
    order: str = "desc"
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.count / self.size))

    @property
    def first(self) -> int:
        """The place of the page's first row among all (1-based; 0 when there is none)."""
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    @property
    def exportable(self) -> bool:
        return self.count <= EXPORT_LIMIT


def arguments(values: Mapping[str, Any]) -> tuple[int, int, str, str]:
    """The page number, its size, the sort and its direction from a checked form's values."""
    return (int(values.get("page") or 1), int(values.get("size") or DEFAULT_PAGE_SIZE),
            values.get("sort") or "", values.get("order") or "desc")


def placed(values: Mapping[str, Any], count: int) -> tuple[int, int]:
    """The page number and size the reader asked for, of `count` rows: a page past the last is the last."""
    number, size, _, _ = arguments(values)
    return min(number, max(1, math.ceil(count / size))), size


def sorted_by(query: Select[Any], columns: Mapping[str, Sequence[ColumnElement[Any]]], sort: str, order: str,
              tiebreak: ColumnElement[Any]) -> Select[Any]:
    """The query in the allow-listed column's order, ties broken by `tiebreak` the same way."""
    direction = (lambda column: column.desc()) if order == "desc" else (lambda column: column.asc())
    return query.order_by(None).order_by(*(direction(column) for column in columns[sort]), direction(tiebreak))


def page_of(session: Session, query: Select[Any], *, values: Mapping[str, Any],
            columns: Mapping[str, Sequence[ColumnElement[Any]]] | None = None,
            tiebreak: ColumnElement[Any] | None = None, sums: Sequence[str] = ()) -> Page:
    """A page of the query's rows and the count and sums (of the columns named) of all that match:
    sorted by the allow-listed `columns` (ties broken by `tiebreak`), or in the query's own order.

    A page past the last shows the last.
    """
    _, _, sort, order = arguments(values)
    matching = query.order_by(None).subquery()
    totals_row = session.execute(select(
        func.count().label("count"),
        *(cast(func.coalesce(func.sum(matching.c[name]), 0), BigInteger).label(name) for name in sums),
    )).one()
    count = int(totals_row.count)
    number, size = placed(values, count)
    ordered = sorted_by(query, columns, sort, order, tiebreak) if columns else query
    rows = list(session.scalars(ordered.offset((number - 1) * size).limit(size)))
    return Page(rows, number, size, count, sort, order, {name: int(getattr(totals_row, name)) for name in sums})


def export_rows(session: Session, query: Select[Any], *, columns: Mapping[str, Sequence[ColumnElement[Any]]],
                tiebreak: ColumnElement[Any], values: Mapping[str, Any], limit: int = EXPORT_LIMIT) -> list[Any]:
    """Every row the list shows for these filters, in its order (not only the page): at most `limit`,
    else the export is refused, naming how many match."""
    _, _, sort, order = arguments(values)
    rows = list(session.scalars(sorted_by(query, columns, sort, order, tiebreak).limit(limit + 1)))
    if len(rows) > limit:
        count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        raise Problem("export_too_large", count=count, max=limit)
    return rows
