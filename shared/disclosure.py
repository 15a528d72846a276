"""What public outputs may show: every field's privacy class, written once.

The public pages and the public JSON (services/programmes/public.py) show
funds, projects, villages and teams to anyone, without a login. Each field a
public output may carry is listed below under its record's kind, with its
class:

- PUBLIC: shown as it is (a fund's name, an amount, an organisation's name);
- PSEUDONYMOUS: shown only as a stable pseudonym (`pseudonym`), never as it is
  (an individual recipient of a payment);
- ORGANISATION_ONLY: for the organisations and the bureau, never public (a
  claim's notes, a milestone's report, why a project stopped, why a donation
  was reversed);
- PERSONAL: a person's data, never public (a volunteer's name; public outputs
  show counts and hours only).

A donor's name is PUBLIC only when the donor did not ask to stay anonymous:
`donor_shown` says 匿名 instead. A payment's payee is PUBLIC when the payment
names a project or a need (the village or the implementer is paid), else it
is an individual, PSEUDONYMOUS. `public_only(kind, mapping)` keeps a record's
PUBLIC and PSEUDONYMOUS fields; a field missing from the table is a mistake
of the code that built the record, and fails loudly in development.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

PUBLIC = "public"
PSEUDONYMOUS = "pseudonymous"
ORGANISATION_ONLY = "organisation_only"
PERSONAL = "personal"
CLASSES = (PUBLIC, PSEUDONYMOUS, ORGANISATION_ONLY, PERSONAL)
SHOWN = frozenset({PUBLIC, PSEUDONYMOUS})

# What an anonymous donor is called in every public output.
ANONYMOUS = "匿名"
# A pseudonym reads 受助方-7F3A2C: this prefix, and six hex digits of an HMAC.
PSEUDONYM_PREFIX = "受助方"
PSEUDONYM_DIGITS = 6

FIELDS: dict[str, dict[str, str]] = {
    "fund": {
        "code": PUBLIC, "name": PUBLIC, "purpose": PUBLIC, "restricted": PUBLIC, "status": PUBLIC,
        "organization": PUBLIC,
    },
    "donation": {
        "receipt_no": PUBLIC, "received_on": PUBLIC, "amount": PUBLIC, "channel": PUBLIC,
        "donor": PUBLIC,  # through donor_shown: 匿名 when the donor asked for it
        "anonymous": PUBLIC, "donor_kind": PUBLIC, "status": PUBLIC, "reversed": PUBLIC,
        "donor_name": PERSONAL, "reference": ORGANISATION_ONLY, "purpose": ORGANISATION_ONLY,
    },
    "correction": {
        "receipt_no": PUBLIC, "amount": PUBLIC, "posted_on": PUBLIC, "reason": ORGANISATION_ONLY,
    },
    "disbursement": {
        "paid_on": PUBLIC, "amount": PUBLIC, "purpose": PUBLIC,
        "payee": PUBLIC,  # only when the payment names a project or a need (the village, the implementer)
        "payee_pseudonym": PSEUDONYMOUS,  # an individual recipient
        "project_code": PUBLIC, "budget_line": PUBLIC, "need_id": PUBLIC,
        "bank_reference": ORGANISATION_ONLY, "requested_by": ORGANISATION_ONLY, "approved_by": ORGANISATION_ONLY,
    },
    "project": {
        "code": PUBLIC, "name": PUBLIC, "description": PUBLIC, "status": PUBLIC, "organization": PUBLIC,
        "village": PUBLIC, "team": PUBLIC, "fund_code": PUBLIC, "starts_on": PUBLIC, "ends_on": PUBLIC,
        "budget": PUBLIC, "paid": PUBLIC, "percent_of_plan": PUBLIC, "lines": PUBLIC, "milestones": PUBLIC,
        "months": PUBLIC, "timeline": PUBLIC, "approved_on": PUBLIC, "closed_on": PUBLIC, "stopped_on": PUBLIC,
        "stop_reason": ORGANISATION_ONLY, "final_report": ORGANISATION_ONLY, "leftover_to": ORGANISATION_ONLY,
        "created_by": ORGANISATION_ONLY, "approved_by": ORGANISATION_ONLY,
    },
    "budget_line": {
        "name": PUBLIC, "amount": PUBLIC, "paid": PUBLIC, "percent_of_plan": PUBLIC,
    },
    "milestone": {
        "n": PUBLIC, "name": PUBLIC, "due_on": PUBLIC, "instalment": PUBLIC, "status": PUBLIC,
        "reported_on": PUBLIC, "accepted_on": PUBLIC,
        "report": ORGANISATION_ONLY, "reported_by": ORGANISATION_ONLY, "accepted_by": ORGANISATION_ONLY,
    },
    "need": {
        "id": PUBLIC, "title": PUBLIC, "category": PUBLIC, "amount": PUBLIC, "pledged": PUBLIC, "paid": PUBLIC,
        "open": PUBLIC, "status": PUBLIC, "due_on": PUBLIC, "priority": PUBLIC, "claims": PUBLIC,
        "quantity": PUBLIC, "unit": PUBLIC, "signed_off": PUBLIC,
        # The bureau's words about the need may name the people it helps.
        "description": ORGANISATION_ONLY,
    },
    "claim": {
        "organization": PUBLIC, "amount": PUBLIC, "status": PUBLIC, "signed_off": PUBLIC,
        "note": ORGANISATION_ONLY, "created_by": ORGANISATION_ONLY,
    },
    "village": {
        "id": PUBLIC, "name": PUBLIC, "township": PUBLIC, "weak": PUBLIC, "needs": PUBLIC, "projects": PUBLIC,
        "teams": PUBLIC, "drives": PUBLIC,
    },
    "team": {
        "id": PUBLIC, "name": PUBLIC, "members": PUBLIC, "villages": PUBLIC, "totals": PUBLIC, "projects": PUBLIC,
        "activities": PUBLIC,
    },
    "team_member": {
        "organization": PUBLIC, "role": PUBLIC, "contribution": ORGANISATION_ONLY,
    },
    "activity": {
        "on": PUBLIC, "village": PUBLIC, "kind": PUBLIC, "people_helped": PUBLIC, "volunteers": PUBLIC,
        "volunteer_hours": PUBLIC,
        "description": ORGANISATION_ONLY,  # free text of the member's, which may name people
        "volunteer_names": PERSONAL,
    },
    "drive": {
        "id": PUBLIC, "name": PUBLIC, "organization": PUBLIC, "product": PUBLIC, "unit": PUBLIC,
        "unit_price": PUBLIC, "quantity": PUBLIC, "purchased": PUBLIC, "paid": PUBLIC, "status": PUBLIC,
        "seller": PUBLIC, "purchases": PUBLIC,
    },
    "purchase": {
        "organization": PUBLIC, "purchased_on": PUBLIC, "quantity": PUBLIC, "amount": PUBLIC, "kind": PUBLIC,
        "related_party": PUBLIC, "created_by": ORGANISATION_ONLY,
    },
}

assert all(cls in CLASSES for table in FIELDS.values() for cls in table.values())


def public_only(kind: str, mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The record's fields a public output may carry (PUBLIC and PSEUDONYMOUS), in their order."""
    table = FIELDS[kind]
    shown: dict[str, Any] = {}
    for name, value in mapping.items():
        cls = table.get(name)
        assert cls is not None, f"{kind}.{name} has no privacy class in shared/disclosure.py"
        if cls in SHOWN:
            shown[name] = value
    return shown


def donor_shown(name: str | None, anonymous: bool) -> str:
    """A donor as the public sees them: the name, or 匿名 when they asked not to be named."""
    return ANONYMOUS if anonymous or not name else name


def pseudonym(secret_key: str, scope: str, name: str) -> str:
    """A stable pseudonym for a person in a scope (a fund): the same name in the same scope is always
    the same pseudonym; in another scope, another one. Nobody without the key can tell who it is."""
    digest = hmac.new(secret_key.encode(), f"{scope}\x00{name.strip()}".encode(), hashlib.sha256).hexdigest()
    return f"{PSEUDONYM_PREFIX}-{digest[:PSEUDONYM_DIGITS].upper()}"


def pseudonym_code(shown: str) -> str:
    """The pseudonym's digits (7F3A2C), for a page that says 'Recipient' in its own language."""
    return shown.rpartition("-")[2]
