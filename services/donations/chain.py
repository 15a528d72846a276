"""The tamper-evident hash chain of each fund's journal entries.

    hash(n) = sha256(content(n)), content(n) starting with hash(n - 1)

`content` is a sequence of length-prefixed text fields ("5:hello"), so no
choice of donor name or purpose can make two different entries read alike.
The ledger's PostgreSQL functions build the very same text (see the
migrations); `verify_fund` recomputes every link from the stored rows
and names the first entry that does not match.

The chain is per fund: its head lives on the fund's ledger row, which every
posting locks anyway, so the chain costs no extra lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.donations.rules import DEFAULT_DISBURSEMENT_CATEGORY
from shared.shapes import quantity_text

VERSION = "v1"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_micros(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def field(value: str) -> str:
    return f"{len(value)}:{value}"


def postings_text(postings: Iterable[tuple[str, int]]) -> str:
    """Postings as "account=fen" in a fixed account order."""
    return ",".join(f"{account}={amount}" for account, amount in sorted(postings))


def donation_document(*, receipt_no: str, amount_fen: int, donor_name: str, donor_kind: str,
                      donor_anonymous: bool, received_on: dt.date, channel: str, purpose: str,
                      reference: str | None, goods_item: str | None = None, goods_quantity: Decimal | None = None,
                      goods_unit: str | None = None, goods_unit_price_fen: int | None = None) -> str:
    document = "".join(field(v) for v in (
        receipt_no, str(amount_fen), donor_name, donor_kind, "1" if donor_anonymous else "0",
        received_on.isoformat(), channel, purpose, reference or ""))
    # Goods came after donations had been chained: a donation without them is hashed as before,
    # so no existing entry's hash changes; a gift in kind's goods are four more fields (the
    # quantity with as few decimals as it needs), so changing what was given breaks the chain.
    if goods_item is not None:
        assert goods_quantity is not None and goods_unit is not None and goods_unit_price_fen is not None
        document += "".join(field(v) for v in (
            goods_item, quantity_text(goods_quantity), goods_unit, str(goods_unit_price_fen)))
    return document


def reversal_document(*, donation_id: int, receipt_no: str, reason: str) -> str:
    return "".join(field(v) for v in (str(donation_id), receipt_no, reason))


def disbursement_document(*, disbursement_id: int, amount_fen: int, payee: str, purpose: str,
                          project: str | None, paid_on: dt.date, bank_reference: str,
                          requested_by: str, approved_by: str, category: str, project_code: str | None = None,
                          budget_line: str | None = None, need_id: int | None = None) -> str:
    document = "".join(field(v) for v in (
        str(disbursement_id), str(amount_fen), payee, purpose, project or "", paid_on.isoformat(),
        bank_reference, requested_by, approved_by))
    # The category came after payments had been chained, each of them then spending on
    # charitable activities, the default every older disbursement was given. A payment of
    # the default category is hashed as before, so no existing entry's hash changes; any
    # other category is one more field, so moving spending from one category to another
    # (either way) changes the text and breaks the chain at that payment.
    if category != DEFAULT_DISBURSEMENT_CATEGORY:
        document += field(category)
    return document + caps_document(project_code=project_code, budget_line=budget_line, need_id=need_id)


def caps_document(*, project_code: str | None, budget_line: str | None, need_id: int | None) -> str:
    """What a payment's document adds for the project's budget line or the need it names.

    Projects and needs came after payments had been chained: a payment naming neither is hashed
    as before, so no existing entry's hash changes. A project's is two more fields, the first
    tagged "project:" (no category reads so), a need's one, tagged "need:"; so naming another
    line, project or need after the payment breaks the chain there.
    """
    document = ""
    if project_code is not None:
        document += field(f"project:{project_code}") + field(budget_line or "")
    if need_id is not None:
        document += field(f"need:{need_id}")
    return document


def entry_hash(*, prev_hash: str, fund_code: str, seq: int, kind: str, effective_on: dt.date,
               posted_at: dt.datetime, source_id: int, actor: str, document: str,
               postings: Iterable[tuple[str, int]]) -> str:
    content = "".join(field(v) for v in (
        VERSION, prev_hash, fund_code, str(seq), kind, effective_on.isoformat(),
        str(epoch_micros(posted_at)), str(source_id), actor, document, postings_text(postings)))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    """An entry as stored, with what its hash covers."""

    entry_id: int
    seq: int
    kind: str
    effective_on: dt.date
    posted_at: dt.datetime
    source_id: int
    actor: str
    prev_hash: str
    hash: str
    document: str
    postings: Sequence[tuple[str, int]]


@dataclass(frozen=True)
class ChainVerdict:
    fund_code: str
    entries: int
    head: str
    valid: bool
    first_bad_entry_id: int | None = None
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_fund(fund_code: str, stored_head: str, stored_count: int, genesis: str,
                entries: Iterable[ChainEntry]) -> ChainVerdict:
    """Walk a fund's entries in seq order; the first mismatch is named."""
    previous = genesis
    count = 0
    for entry in entries:
        count += 1

        def bad(problem: str, entry: ChainEntry = entry) -> ChainVerdict:
            return ChainVerdict(fund_code, count, previous, False, entry.entry_id, entry.seq, problem)

        if entry.seq != count:
            return bad(f"entry seq {entry.seq} where {count} was expected: an entry is missing or inserted")
        if entry.prev_hash != previous:
            return bad("prev_hash does not match the previous entry's hash")
        if sum(amount for _, amount in entry.postings) != 0:
            return bad("postings do not sum to zero")
        recomputed = entry_hash(prev_hash=previous, fund_code=fund_code, seq=entry.seq, kind=entry.kind,
                                effective_on=entry.effective_on, posted_at=entry.posted_at,
                                source_id=entry.source_id, actor=entry.actor, document=entry.document,
                                postings=entry.postings)
        if recomputed != entry.hash:
            return bad("content does not match its hash: the entry, its postings or its document changed")
        previous = entry.hash
    if count != stored_count or previous != stored_head:
        return ChainVerdict(fund_code, count, previous, False, None, None,
                            f"the fund's head ({stored_count} entries, {stored_head[:12]}…) does not match "
                            f"its entries ({count}, {previous[:12]}…): entries were removed or added")
    return ChainVerdict(fund_code, count, previous, True)
