"""What the programmes pages read: the needs list with its totals, the villages, the claims,
a page of each, and the names of the organisations that claim.

Read only: every change goes through needs.py, as the API's does. The page
sizes and the arguments are the pages' GET forms' (forms.py), checked by the
shapes below.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Select, case, cast, func, select
from sqlalchemy.orm import Session

from services.programmes import caps, drives, needs, projects, teams
from services.programmes.models import Claim, Need, Team, Village
from services.programmes.rules import (
    CLAIM_STATUSES, NEED_CATEGORIES, NEED_STATUSES, PROJECT_STATUSES, name_text, record_id,
)
from shared.contracts.caps import need_cap_key
from shared.contracts.funds import fund_code
from shared import listing
from shared.listing import Page
from shared.shapes import Choice, Field, Shape

# The programmes' lists show 20 rows a page unless the reader asks for more.
PAGE_SIZE = 20


def paging_fields() -> dict[str, Field]:
    return listing.paging_fields(default_size=PAGE_SIZE)


# The needs list: /programmes/?township=&village_id=&category=&status=&size=&page=
NEED_PAGE = Shape("NeedPageArgs", {
    **paging_fields(),
    "township": name_text(required=False),
    "village_id": record_id(required=False),
    "category": Choice(NEED_CATEGORIES, required=False),
    "status": Choice(NEED_STATUSES, required=False),
})
VILLAGE_PAGE = Shape("VillagePageArgs", {**paging_fields(), "township": name_text(required=False)})
CLAIM_PAGE = Shape("ClaimPageArgs", {**paging_fields(), "status": Choice(CLAIM_STATUSES, required=False)})
# The projects list: /programmes/projects?status=&organization_id=&village_id=&fund_code=&size=&page=
PROJECT_PAGE = Shape("ProjectPageArgs", {
    **paging_fields(),
    "status": Choice(PROJECT_STATUSES, required=False),
    "organization_id": record_id(required=False),
    "village_id": record_id(required=False),
    "fund_code": fund_code(required=False),
})
# The teams' and the drives' lists: pages only.
SIMPLE_PAGE = Shape("SimplePageArgs", paging_fields())


def _page(session: Session, query: Select[Any], values: dict[str, Any], count: int,
          totals: dict[str, int] | None = None) -> Page:
    number, size = listing.placed(values, count)
    rows = list(session.scalars(query.offset((number - 1) * size).limit(size)))
    return Page(rows, number, size, count, totals=totals or {})


# -- needs -------------------------------------------------------------------------------------

def need_list_query(values: dict[str, Any]) -> Select[Any]:
    """needs.need_query, also by township."""
    query = needs.need_query(village_id=values.get("village_id"), status=values.get("status"),
                             category=values.get("category"))
    if values.get("township"):
        query = query.where(Need.village_id.in_(select(Village.id).where(Village.township == values["township"])))
    return query


def need_page(session: Session, values: dict[str, Any]) -> Page:
    """A page of needs with the ledger's figures, and the totals of every matching need:
    asked, pledged, open (none once closed) and paid."""
    query = need_list_query(values)
    matching = query.order_by(None).subquery()
    row = session.execute(select(
        func.count().label("count"),
        cast(func.coalesce(func.sum(matching.c.amount_fen), 0), BigInteger).label("amount"),
        cast(func.coalesce(func.sum(matching.c.pledged_fen), 0), BigInteger).label("pledged"),
        cast(func.coalesce(func.sum(case((matching.c.status == "closed", 0),
                                         else_=matching.c.amount_fen - matching.c.pledged_fen)), 0),
             BigInteger).label("open"),
    )).one()
    keys = [need_cap_key(need_id, organization_id) for need_id, organization_id in session.execute(
        select(Claim.need_id, Claim.organization_id).where(Claim.need_id.in_(select(matching.c.id))).distinct())]
    found = caps.figures(keys)  # the page's rows' figures are among these
    page = _page(session, query, values, int(row.count), {
        "amount_fen": int(row.amount), "pledged_fen": int(row.pledged), "open_fen": int(row.open),
        "paid_fen": caps.paid_fen(found, keys)})
    by_need: dict[int, list[str]] = {}
    for key in keys:
        by_need.setdefault(int(key.split(":")[1]), []).append(key)
    shown = [needs.NeedFigures(need, caps.paid_fen(found, by_need.get(need.id, []))) for need in page.rows]
    return Page(shown, page.number, page.size, page.count, totals=page.totals)


def townships(session: Session) -> list[str]:
    return list(session.scalars(select(Village.township).distinct().order_by(Village.township)))


def villages(session: Session, township: str | None = None) -> list[Village]:
    query = select(Village).order_by(Village.township, Village.name)
    if township:
        query = query.where(Village.township == township)
    return list(session.scalars(query))


# -- villages ----------------------------------------------------------------------------------

def village_page(session: Session, values: dict[str, Any]) -> Page:
    query = needs.village_query(township=values.get("township") or None)
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return _page(session, query, values, int(count))


def need_counts(session: Session, village_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each village's needs: how many, and how many are open."""
    if not village_ids:
        return {}
    rows = session.execute(select(Need.village_id, func.count(), func.count().filter(Need.status == "open"))
                           .where(Need.village_id.in_(village_ids)).group_by(Need.village_id))
    return {village_id: (int(total), int(still_open)) for village_id, total, still_open in rows}


def village_needs(session: Session, village_id: int) -> list[needs.NeedFigures]:
    rows = list(session.scalars(needs.need_query(village_id=village_id)))
    return needs.with_figures(session, rows)


# -- claims ------------------------------------------------------------------------------------

def claim_page(session: Session, actor: Any, values: dict[str, Any]) -> Page:
    query = needs.claim_query(actor, status=values.get("status"))
    matching = query.order_by(None).subquery()
    row = session.execute(select(func.count().label("count"),
                                 cast(func.coalesce(func.sum(matching.c.amount_fen), 0), BigInteger).label("amount"))
                          ).one()
    return _page(session, query, values, int(row.count), {"amount_fen": int(row.amount)})


def need_claims(session: Session, actor: Any, need_id: int) -> list[Claim]:
    """The need's claims the user sees: their organisation's, or all for those who see every one."""
    return list(session.scalars(needs.claim_query(actor, need_id=need_id)))


# -- projects, teams, drives -----------------------------------------------------------------------

def project_page(session: Session, actor: Any, values: dict[str, Any]) -> Page:
    """A page of projects with the ledger's figures, and the totals of every matching project:
    budget, approved, paid, remaining (the ledger asked once for them all)."""
    query = projects.project_query(actor, organization_id=values.get("organization_id"),
                                   status=values.get("status"), village_id=values.get("village_id"),
                                   fund_code=values.get("fund_code"))
    every = projects.with_figures(session, list(session.scalars(query)), detail=False)
    totals = {"budget_fen": sum(p.budget_fen for p in every), "approved_fen": sum(p.approved_fen for p in every),
              "paid_fen": sum(p.paid_fen for p in every), "remaining_fen": sum(p.remaining_fen for p in every)}
    number, size = listing.placed(values, len(every))
    return Page(every[(number - 1) * size:number * size], number, size, len(every), totals=totals)


def team_page(session: Session, actor: Any, values: dict[str, Any], village_id: int | None = None) -> Page:
    query = teams.team_query(actor, village_id=village_id)
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = _page(session, query, values, int(count))
    return Page(teams.with_figures(session, page.rows), page.number, page.size, page.count)


def drive_page(session: Session, actor: Any, values: dict[str, Any], village_id: int | None = None) -> Page:
    query = drives.drive_query(actor, village_id=village_id)
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = _page(session, query, values, int(count))
    return Page(drives.with_figures(session, page.rows), page.number, page.size, page.count)


def team_choices(session: Session, actor: Any) -> list[Team]:
    """The teams a project may belong to: those the user sees."""
    return list(session.scalars(teams.team_query(actor).order_by(None).order_by(Team.name)))


def team_name(session: Session, team_id: int | None) -> str | None:
    return session.get(Team, team_id).name if team_id is not None else None  # type: ignore[union-attr]


def team_villages(session: Session, team_id: int) -> list[Village]:
    from services.programmes.models import TeamVillage

    return list(session.scalars(select(Village).join(TeamVillage, TeamVillage.village_id == Village.id)
                                .where(TeamVillage.team_id == team_id).order_by(Village.name)))


def drive_pledges(session: Session, drive_id: int) -> list[Any]:
    from services.programmes.models import DrivePledge

    return list(session.scalars(select(DrivePledge).where(DrivePledge.drive_id == drive_id)
                                .order_by(DrivePledge.id)))


def village_projects(session: Session, actor: Any, village_id: int) -> list[projects.ProjectFigures]:
    rows = list(session.scalars(projects.project_query(actor, village_id=village_id)))
    return projects.with_figures(session, rows, detail=False)
