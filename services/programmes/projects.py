"""Micro public-welfare projects (微公益创投): proposed, approved, reported on, paid, closed.

A project is proposed as a draft by its implementing organisation, with a
budget in lines and milestones whose instalments add up to it. Someone other
than its proposer approves it (an approver of the organisation, or the
bureau); then its money is held in the ledger by caps (shared/contracts/caps.py):
each line's approved amount, and what the project may have paid so far, the
instalments of its accepted milestones. A milestone's report, accepted by
someone other than its reporter, makes its instalment payable. A stopped
project's unpaid instalments are cancelled (its caps clamped to what is
already approved or paid); what was misspent is recorded to be recovered.
A budget change is an amendment, approved like a payout, and becomes the
budget's next version; earlier versions are kept. A project closes with a
final report, and says where money left over goes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.programmes import caps, organizations
from services.programmes.models import (
    Amendment, AuditLog, BudgetLine, LedgerCap, Milestone, Project, Team, Village,
)
from shared import audit
from shared.auth import Principal
from shared.contracts.caps import CapFigures, project_cap_key, project_line_cap_key
from shared.dates import today
from shared.db import MAX_ID, utcnow
from shared.errors import Problem
from shared.money import Money

# Where a project may be stopped from, and where its budget may still change.
STOPPABLE = ("approved", "in_progress", "closing")
AMENDABLE = ("draft", "approved", "in_progress", "closing")
# Where a milestone may be reported on.
REPORTABLE = ("approved", "in_progress", "closing")
RECOVERY_ACTION = "project.recovery"


def _money(fen: int) -> str:
    return str(Money(fen))


# -- reading -----------------------------------------------------------------------------------------

def get_project(session: Session, actor: Principal, code: str, *, lock: bool = False) -> Project:
    """The project with this code, if the caller may read it (another organisation's answers 404)."""
    query = select(Project).where(Project.code == code)
    project = session.scalar(query.with_for_update(of=Project) if lock else query)
    if project is None or not actor.may_read(project.organization_id):
        raise Problem("project_not_found", code=code)
    return project


def _for_change(session: Session, actor: Principal, code: str) -> Project:
    """The project locked for a change (changes of one project are made one at a time)."""
    project = get_project(session, actor, code, lock=True)
    if not actor.may_write(project.organization_id):
        raise Problem("project_not_found", code=code)
    return project


def project_query(actor: Principal, *, organization_id: int | None = None, status: str | None = None,
                  village_id: int | None = None, fund_code: str | None = None) -> Select[Any]:
    query = select(Project).order_by(Project.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Project.organization_id == actor.organization_id)
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    if status is not None:
        query = query.where(Project.status == status)
    if village_id is not None:
        query = query.where(Project.village_id == village_id)
    if fund_code is not None:
        query = query.where(Project.fund_code == fund_code)
    return query


def _lines(session: Session, project: Project, version: int | None = None) -> list[BudgetLine]:
    return list(session.scalars(select(BudgetLine).where(
        BudgetLine.project_id == project.id, BudgetLine.version == (version or project.budget_version))
        .order_by(BudgetLine.position)))


def _milestones(session: Session, project: Project, *, lock: bool = False) -> list[Milestone]:
    query = select(Milestone).where(Milestone.project_id == project.id).order_by(Milestone.n)
    return list(session.scalars(query.with_for_update() if lock else query))


def _percent(part_fen: int, whole_fen: int) -> str:
    if whole_fen <= 0:
        return "0.0"
    return str((Decimal(part_fen) * 100 / Decimal(whole_fen)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class LineFigures:
    name: str
    position: int
    amount_fen: int  # planned
    approved_fen: int  # what the ledger may pay for it (0 until the project is approved)
    reserved_fen: int  # approved disbursements not yet paid
    paid_fen: int

    @property
    def remaining_fen(self) -> int:
        return max(0, self.approved_fen - self.reserved_fen - self.paid_fen)

    @property
    def percent_of_plan(self) -> str:
        return _percent(self.paid_fen, self.amount_fen)


@dataclass(frozen=True)
class MilestoneView:
    milestone: Milestone
    on: dt.date

    def __getattr__(self, name: str) -> Any:
        return getattr(self.milestone, name)

    @property
    def overdue(self) -> bool:
        return self.milestone.status == "pending" and self.milestone.due_on < self.on


@dataclass(frozen=True)
class ProjectFigures:
    """A project as the API shows it: its row, its budget's lines with the ledger's figures, its milestones,
    its budget's versions and amendments, and what is recorded to be recovered."""

    project: Project
    lines: list[LineFigures]
    milestones: list[MilestoneView]
    payable_fen: int  # what the project may pay so far (accepted milestones' instalments)
    budget_versions: list[dict[str, Any]] = field(default_factory=list)
    amendments: list[Amendment] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.project, name)

    @property
    def budget_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def approved_fen(self) -> int:
        return sum(line.approved_fen for line in self.lines)

    @property
    def reserved_fen(self) -> int:
        return sum(line.reserved_fen for line in self.lines)

    @property
    def paid_fen(self) -> int:
        return sum(line.paid_fen for line in self.lines)

    @property
    def remaining_fen(self) -> int:
        return sum(line.remaining_fen for line in self.lines)

    @property
    def percent_of_plan(self) -> str:
        return _percent(self.paid_fen, self.budget_fen)

    @property
    def payable_remaining_fen(self) -> int:
        return max(0, self.payable_fen - self.reserved_fen - self.paid_fen)

    @property
    def to_recover_fen(self) -> int:
        return sum(Money.parse(item["amount"]).fen for item in self.recoveries)


def _limit(local: LedgerCap | None, found: CapFigures | None) -> int:
    """A cap's limit: the ledger's once it has heard of this service's last change, else this service's
    (a change not yet sent, or sent after the commit)."""
    if local is None:
        return found.limit.fen if found is not None else 0
    if found is not None and found.version >= local.version:
        return found.limit.fen
    return local.limit_fen


def with_figures(session: Session, projects: list[Project], *, detail: bool = True) -> list[ProjectFigures]:
    """The projects with the ledger's figures (one call for them all) and, with `detail`, their budgets'
    versions, amendments and recoveries: a fixed handful of queries however many projects there are."""
    ids = [project.id for project in projects]
    lines = _grouped(session, select(BudgetLine).join(Project, Project.id == BudgetLine.project_id)
                     .where(BudgetLine.project_id.in_(ids), BudgetLine.version == Project.budget_version)
                     .order_by(BudgetLine.position), ids, lambda line: line.project_id)
    milestones = _grouped(session, select(Milestone).where(Milestone.project_id.in_(ids)).order_by(Milestone.n),
                          ids, lambda milestone: milestone.project_id)
    keys = [project_cap_key(project.code) for project in projects]
    keys += [project_line_cap_key(project.code, line.name) for project in projects for line in lines[project.id]]
    found = caps.figures(keys) if projects else {}
    local = {row.cap_key: row for row in session.scalars(select(LedgerCap).where(LedgerCap.cap_key.in_(keys)))} \
        if keys else {}
    details = _details(session, projects) if detail else {}
    on = today()
    shown = []
    for project in projects:
        figures = []
        for line in lines[project.id]:
            key = project_line_cap_key(project.code, line.name)
            cap = found.get(key)
            figures.append(LineFigures(
                name=line.name, position=line.position, amount_fen=line.amount_fen,
                approved_fen=_limit(local.get(key), cap), reserved_fen=cap.reserved.fen if cap else 0,
                paid_fen=cap.paid.fen if cap else 0))
        project_key = project_cap_key(project.code)
        shown.append(ProjectFigures(project, figures, [MilestoneView(m, on) for m in milestones[project.id]],
                                    _limit(local.get(project_key), found.get(project_key)),
                                    **details.get(project.id, {})))
    return shown


def _grouped(session: Session, query: Any, ids: list[int], project_of: Any) -> dict[int, list[Any]]:
    """The rows of `query`, in its order, by their project."""
    grouped: dict[int, list[Any]] = {project_id: [] for project_id in ids}
    if ids:
        for row in session.scalars(query):
            grouped[project_of(row)].append(row)
    return grouped


def _details(session: Session, projects: list[Project]) -> dict[int, dict[str, Any]]:
    """Each project's budget versions (every version's lines, kept), amendments and recoveries."""
    ids = [project.id for project in projects]
    every_line = _grouped(session, select(BudgetLine).where(BudgetLine.project_id.in_(ids))
                          .order_by(BudgetLine.version, BudgetLine.position), ids, lambda line: line.project_id)
    amendments = _grouped(session, select(Amendment).where(Amendment.project_id.in_(ids)).order_by(Amendment.version),
                          ids, lambda amendment: amendment.project_id)
    by_code = {project.code: project.id for project in projects}
    recoveries: dict[int, list[dict[str, Any]]] = {project_id: [] for project_id in ids}
    if ids:
        for entry in session.scalars(select(AuditLog).where(
                AuditLog.subject.in_([f"project:{code}" for code in by_code]), AuditLog.action == RECOVERY_ACTION)
                .order_by(AuditLog.id)):
            # What was recorded to be recovered is kept in the audit log, which is never changed.
            recoveries[by_code[entry.subject.removeprefix("project:")]].append({
                "amount": entry.details.get("amount", "0.00"), "reason": entry.details.get("reason", ""),
                "recorded_at": entry.at, "recorded_by": entry.actor})
    return {project.id: {"budget_versions": _budget_versions(project, every_line[project.id], amendments[project.id]),
                         "amendments": amendments[project.id], "recoveries": recoveries[project.id]}
            for project in projects}


def _budget_versions(project: Project, lines: list[BudgetLine], amendments: list[Amendment]) -> list[dict[str, Any]]:
    versions: dict[int, list[BudgetLine]] = {}
    for line in lines:
        versions.setdefault(line.version, []).append(line)
    approved_at = {amendment.version: amendment.decided_at for amendment in amendments
                   if amendment.status == "approved"}
    return [{"version": version, "current": version == project.budget_version,
             "approved_at": project.approved_at if version == 1 else approved_at.get(version),
             "lines": [{"name": line.name, "amount_fen": line.amount_fen} for line in rows]}
            for version, rows in sorted(versions.items())]


# -- proposing ---------------------------------------------------------------------------------------

def create_project(session: Session, actor: Principal, data: dict[str, Any]) -> Project:
    organization_id = organizations.acting(actor, data.get("organization_id"))
    fund = organizations.own_fund(data["fund_code"], organization_id)
    village_id, team_id = data.get("village_id"), data.get("team_id")
    if village_id is not None and session.get(Village, village_id) is None:
        raise Problem.field("village_id", "no_such_village", id=village_id)
    if team_id is not None and session.get(Team, team_id) is None:
        raise Problem.field("team_id", "no_such_team", id=team_id)
    if session.scalar(select(Project.id).where(Project.code == data["code"])) is not None:
        raise Problem("project_code_taken", code=data["code"])
    project = Project(code=data["code"], name=data["name"], description=data["description"],
                      organization_id=organization_id, village_id=village_id, team_id=team_id,
                      fund_code=fund.code, starts_on=data["starts_on"], ends_on=data["ends_on"],
                      created_by=actor.actor)
    session.add(project)
    session.flush()
    _write_lines(session, project, 1, data["lines"])
    for n, milestone in enumerate(data["milestones"], start=1):
        session.add(Milestone(project_id=project.id, n=n, name=milestone["name"], due_on=milestone["due_on"],
                              instalment_fen=milestone["instalment"].fen))
    session.flush()
    audit.record(session, AuditLog, actor, "project.create", f"project:{project.code}", {
        "name": project.name, "organization_id": organization_id, "fund_code": fund.code,
        "village_id": village_id, "team_id": team_id, "starts_on": project.starts_on.isoformat(),
        "ends_on": project.ends_on.isoformat(), "lines": _lines_json(data["lines"]),
        "milestones": [{"name": m["name"], "due_on": m["due_on"].isoformat(), "instalment": str(m["instalment"])}
                       for m in data["milestones"]]})
    return project


def _lines_json(lines: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"name": line["name"], "amount": str(line["amount"])} for line in lines]


def _write_lines(session: Session, project: Project, version: int, lines: list[dict[str, Any]]) -> None:
    for position, line in enumerate(lines, start=1):
        session.add(BudgetLine(project_id=project.id, version=version, position=position, name=line["name"],
                               amount_fen=Money.parse(str(line["amount"])).fen))


def _move(project: Project, allowed: tuple[str, ...], target: str) -> None:
    if project.status not in allowed:
        raise Problem("project_transition_invalid", code=project.code, status=project.status, target=target)
    project.status = target


# -- the ledger's caps ---------------------------------------------------------------------------------

def _set_line_caps(session: Session, project: Project, lines: list[BudgetLine], *, clamp: bool = False) -> None:
    for line in lines:
        caps.set_cap(session, project_line_cap_key(project.code, line.name), "project_line",
                     0 if clamp else line.amount_fen, organization_id=project.organization_id,
                     fund_code=project.fund_code, clamp=clamp, label=f"{project.name}: {line.name}")


def _set_project_cap(session: Session, project: Project, *, clamp: bool = False) -> None:
    accepted = session.scalar(select(func.coalesce(func.sum(Milestone.instalment_fen), 0)).where(
        Milestone.project_id == project.id, Milestone.status == "accepted"))
    caps.set_cap(session, project_cap_key(project.code), "project", 0 if clamp else int(accepted or 0),
                 organization_id=project.organization_id, fund_code=project.fund_code, clamp=clamp,
                 label=project.name)


def _close_caps(session: Session, project: Project) -> None:
    """Nothing more may be approved for the project: its caps become what is already approved or paid."""
    _set_project_cap(session, project, clamp=True)
    _set_line_caps(session, project, _lines(session, project), clamp=True)


# -- deciding -----------------------------------------------------------------------------------------

def approve_project(session: Session, actor: Principal, code: str) -> Project:
    project = _for_change(session, actor, code)
    if project.created_by == actor.actor:
        raise Problem("own_project_approval", code=project.code)
    _move(project, ("draft",), "approved")
    project.approved_by, project.approved_at = actor.actor, utcnow()
    _set_project_cap(session, project)
    _set_line_caps(session, project, _lines(session, project))
    audit.record(session, AuditLog, actor, "project.approve", f"project:{project.code}")
    return project


def _milestone(session: Session, project: Project, n: int) -> Milestone:
    milestone = session.scalar(select(Milestone).where(Milestone.project_id == project.id, Milestone.n == n)
                               .with_for_update()) if 0 < n <= MAX_ID else None
    if milestone is None:
        raise Problem("milestone_not_found", code=project.code, n=n)
    return milestone


def _move_milestone(project: Project, milestone: Milestone, allowed: tuple[str, ...], target: str) -> None:
    if milestone.status not in allowed:
        raise Problem("milestone_transition_invalid", code=project.code, n=milestone.n, status=milestone.status,
                      target=target)
    milestone.status = target


def report_milestone(session: Session, actor: Principal, code: str, n: int, report: str) -> Project:
    project = _for_change(session, actor, code)
    if project.status not in REPORTABLE:
        raise Problem("project_transition_invalid", code=project.code, status=project.status, target="reported on")
    milestone = _milestone(session, project, n)
    _move_milestone(project, milestone, ("pending",), "reported")
    milestone.report, milestone.reported_by, milestone.reported_at = report, actor.actor, utcnow()
    if project.status == "approved":
        project.status = "in_progress"
    audit.record(session, AuditLog, actor, "project.milestone_report", f"project:{project.code}",
                 {"n": n, "report": report})
    return project


def accept_milestone(session: Session, actor: Principal, code: str, n: int) -> Project:
    project = _for_change(session, actor, code)
    if project.status not in REPORTABLE:
        raise Problem("project_transition_invalid", code=project.code, status=project.status, target="accepted")
    milestone = _milestone(session, project, n)
    if milestone.reported_by == actor.actor:
        raise Problem("own_milestone_acceptance", code=project.code, n=n)
    _move_milestone(project, milestone, ("reported",), "accepted")
    milestone.accepted_by, milestone.accepted_at = actor.actor, utcnow()
    session.flush()
    _set_project_cap(session, project)  # its instalment is payable (raised after the commit)
    audit.record(session, AuditLog, actor, "project.milestone_accept", f"project:{project.code}",
                 {"n": n, "instalment": _money(milestone.instalment_fen)})
    return project


def stop_project(session: Session, actor: Principal, code: str, reason: str) -> Project:
    project = _for_change(session, actor, code)
    _move(project, STOPPABLE, "stopped")
    project.stopped_at, project.stop_reason = utcnow(), reason
    cancelled = []
    for milestone in _milestones(session, project, lock=True):
        if milestone.status in ("pending", "reported"):
            milestone.status = "cancelled"
            cancelled.append(milestone.n)
    session.flush()
    _close_caps(session, project)
    audit.record(session, AuditLog, actor, "project.stop", f"project:{project.code}",
                 {"reason": reason, "cancelled_milestones": cancelled})
    return project


def record_recovery(session: Session, actor: Principal, code: str, data: dict[str, Any]) -> Project:
    """Misspent money to be recovered: at most what was paid, less what is already recorded."""
    project = _for_change(session, actor, code)
    if project.status == "draft":
        raise Problem("project_transition_invalid", code=project.code, status=project.status,
                      target="recovered from")
    shown = with_figures(session, [project])[0]
    amount: Money = data["amount"]
    if shown.to_recover_fen + amount.fen > shown.paid_fen:
        raise Problem("recovery_exceeds_paid", code=project.code, paid_fen=shown.paid_fen,
                      recovering_fen=shown.to_recover_fen, amount_fen=amount.fen)
    audit.record(session, AuditLog, actor, RECOVERY_ACTION, f"project:{project.code}",
                 {"amount": str(amount), "reason": data["reason"]})
    return project


def start_closing(session: Session, actor: Principal, code: str) -> Project:
    project = _for_change(session, actor, code)
    _move(project, ("in_progress",), "closing")
    audit.record(session, AuditLog, actor, "project.closing", f"project:{project.code}")
    return project


def close_project(session: Session, actor: Principal, code: str, data: dict[str, Any]) -> Project:
    project = _for_change(session, actor, code)
    if project.status not in ("in_progress", "closing"):
        raise Problem("project_transition_invalid", code=project.code, status=project.status, target="complete")
    unfinished = [m.n for m in _milestones(session, project) if m.status not in ("accepted", "cancelled")]
    if unfinished:
        raise Problem("milestones_unfinished", code=project.code, milestones=", ".join(map(str, unfinished)))
    shown = with_figures(session, [project], detail=False)[0]
    leftover = shown.budget_fen - shown.reserved_fen - shown.paid_fen
    if leftover > 0 and not data.get("leftover_to"):
        raise Problem.field("leftover_to", "leftover_to_required", leftover_fen=leftover)
    project.status, project.closed_at = "complete", utcnow()
    project.final_report, project.leftover_to = data["final_report"], data.get("leftover_to")
    _close_caps(session, project)
    audit.record(session, AuditLog, actor, "project.close", f"project:{project.code}", {
        "final_report": data["final_report"], "leftover": _money(max(leftover, 0)),
        "leftover_to": data.get("leftover_to")})
    return project


# -- amendments ----------------------------------------------------------------------------------------

def request_amendment(session: Session, actor: Principal, code: str, data: dict[str, Any]) -> Amendment:
    project = _for_change(session, actor, code)
    if project.status not in AMENDABLE:
        raise Problem("project_transition_invalid", code=project.code, status=project.status, target="amended")
    pending = session.scalar(select(Amendment).where(Amendment.project_id == project.id,
                                                     Amendment.status == "requested"))
    if pending is not None:
        raise Problem("amendment_pending", code=project.code, version=pending.version)
    total = sum(line["amount"].fen for line in data["lines"])
    instalments = sum(m.instalment_fen for m in _milestones(session, project))
    if total != instalments:
        raise Problem.field("lines", "amendment_total_changed", total_fen=total, instalments_fen=instalments)
    last = session.scalar(select(func.max(Amendment.version)).where(Amendment.project_id == project.id))
    amendment = Amendment(project_id=project.id, version=max(int(last or 0), project.budget_version) + 1,
                          lines=_lines_json(data["lines"]), reason=data["reason"], requested_by=actor.actor)
    session.add(amendment)
    session.flush()
    audit.record(session, AuditLog, actor, "project.amendment_request", f"project:{project.code}",
                 {"version": amendment.version, "lines": amendment.lines, "reason": data["reason"]})
    return amendment


def _amendment(session: Session, project: Project, version: int) -> Amendment:
    amendment = session.scalar(select(Amendment).where(Amendment.project_id == project.id,
                                                       Amendment.version == version).with_for_update()) \
        if 0 < version <= MAX_ID else None
    if amendment is None:
        raise Problem("amendment_not_found", code=project.code, version=version)
    if amendment.status != "requested":
        raise Problem("amendment_not_requested", code=project.code, version=version, status=amendment.status)
    return amendment


def approve_amendment(session: Session, actor: Principal, code: str, version: int) -> Project:
    project = _for_change(session, actor, code)
    amendment = _amendment(session, project, version)
    if amendment.requested_by == actor.actor:
        raise Problem("own_amendment_approval", code=project.code, version=version)
    if project.status not in AMENDABLE:
        raise Problem("project_transition_invalid", code=project.code, status=project.status, target="amended")
    old = _lines(session, project)
    amendment.status, amendment.decided_by, amendment.decided_at = "approved", actor.actor, utcnow()
    _write_lines(session, project, amendment.version, amendment.lines)
    project.budget_version = amendment.version
    session.flush()
    if project.status != "draft":
        new = {line["name"]: Money.parse(line["amount"]).fen for line in amendment.lines}
        _check_committed(project, {line.name: new.get(line.name, 0) for line in old})
        # The removed lines first, then the lowered ones (sent at once, so the ledger may refuse), then
        # the raised ones (after the commit).
        for line in old:
            if line.name not in new:
                caps.set_cap(session, project_line_cap_key(project.code, line.name), "project_line", 0,
                             organization_id=project.organization_id, fund_code=project.fund_code,
                             label=f"{project.name}: {line.name}")
        _set_line_caps(session, project, _lines(session, project))
    audit.record(session, AuditLog, actor, "project.amendment_approve", f"project:{project.code}",
                 {"version": amendment.version})
    return project


def _check_committed(project: Project, limits: dict[str, int]) -> None:
    """A line may not go below what is approved or paid for it: refused before any cap is changed."""
    keys = {name: project_line_cap_key(project.code, name) for name in limits}
    found = caps.figures(list(keys.values()))
    for name, key in keys.items():
        cap = found.get(key)
        committed = cap.reserved.fen + cap.paid.fen if cap else 0
        if limits[name] < committed:
            raise Problem("cap_below_committed", cap_key=key, limit_fen=limits[name], committed_fen=committed)


def reject_amendment(session: Session, actor: Principal, code: str, version: int) -> Project:
    project = _for_change(session, actor, code)
    amendment = _amendment(session, project, version)
    amendment.status, amendment.decided_by, amendment.decided_at = "rejected", actor.actor, utcnow()
    if amendment.requested_by == actor.actor:  # withdrawn by its requester: no second pair of eyes needed
        amendment.decided_by = None
    audit.record(session, AuditLog, actor, "project.amendment_reject", f"project:{project.code}",
                 {"version": amendment.version})
    return project
