"""Who a page is for, when one service asks another on its behalf.

The funds service authenticates the users; it describes a user to the other
services as a Principal's JSON (its internal API's answer for a login). A
page of the funds service that shows another service's facts (a fund's page)
names its reader the same way, without the session's token, and the service
asked scopes its answer to that reader: their organisation's, or every one
for the federation's admins and the auditors. The call itself is trusted by
its internal token, as every internal call.
"""

from __future__ import annotations

from typing import Any

from shared.auth import Principal
from shared.db import MAX_ID
from shared.shapes import Choice, Integer, Many, Shape, Text

READER = Shape("Reader", {
    "kind": Choice(("user", "api_key")), "id": Integer(minimum=1, maximum=MAX_ID), "name": Text(max_length=200),
    "organization_id": Integer(minimum=1, maximum=MAX_ID), "scopes": Many(Text(max_length=64)),
    "role": Text(max_length=32, required=False, nullable=True),
})


def reader_json(principal: Principal) -> dict[str, Any]:
    """The reader as the call names them: no session token leaves the service."""
    return {name: value for name, value in principal.to_json().items() if name != "session_token"}


def reader_from(loaded: dict[str, Any]) -> Principal:
    """The reader from the READER shape's loaded JSON."""
    return Principal.from_json({"role": None, **loaded})
