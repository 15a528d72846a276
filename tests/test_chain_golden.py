"""The hash chain's exact text, pinned: the ledger's SQL (which writes every link)
and chain.py (which verifies them) must agree with these hashes, so a change
to either side shows here before it breaks a chain already written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from services.donations import chain
from tests.test_ledger_race import database_dsn

GENESIS = "0" * 64
POSTED_AT = dt.datetime(2026, 8, 3, 1, 2, 3, 456789, tzinfo=dt.UTC)

# A fund's first four entries: a donation (an anonymous donor with a Chinese name, no
# reference), the payment of a disbursement from a restricted fund, the donation's reversal,
# and the payment of a disbursement for management costs. The first three were pinned before
# disbursements had a category: a payment for charitable activities (the default) hashes as
# it did then, one of another category hashes its category too.
DONATION = dict(receipt_no="2026-000001", amount_fen=128_000, donor_name="铜陵某某有限公司", donor_kind="enterprise",
                donor_anonymous=True, received_on=dt.date(2026, 8, 3), channel="bank", purpose="助学:1:2",
                reference=None)
PAYMENT = dict(disbursement_id=7, amount_fen=30_000, payee="义安区实验小学", purpose="2026 年助学金",
               project=None, paid_on=dt.date(2026, 9, 1), bank_reference="ICBC-0001", requested_by="key:3",
               approved_by="user:2", category="programme")
MANAGEMENT = dict(PAYMENT, disbursement_id=8, amount_fen=5_000, payee="铜陵市慈善总会", purpose="办公费用",
                  project="日常运行", bank_reference="ICBC-0002", category="management")
REVERSAL = dict(donation_id=1, receipt_no="2026-000001", reason="录错")
ENTRIES = [
    ("donation", dt.date(2026, 8, 3), 1, "key:3", [("bank", 128_000), ("restricted", -128_000)]),
    ("disbursement", dt.date(2026, 9, 1), 7, "key:3",
     [("restricted", 30_000), ("unrestricted", -30_000), ("unrestricted", 30_000), ("bank", -30_000)]),
    ("reversal", dt.date(2026, 9, 2), 1, "user:2", [("bank", -128_000), ("restricted", 128_000)]),
    ("disbursement", dt.date(2026, 9, 1), 8, "key:3",
     [("restricted", 5_000), ("unrestricted", -5_000), ("unrestricted", 5_000), ("bank", -5_000)]),
]
GOLDEN = [
    "8eb371149f78431dd7fee826ae1ebb4dbb44b1973478a8777b9fdb51a3f86e17",
    "ca2e1103e2c939f60c8568f057175f5a8c17e717a5bfe9c64a4e4ab8ec93d1a2",
    "de1658ed7fdec1153c9a795298b3f4f40b11b0ed5f4c629a079590216899cb65",
    "492ce9e218d7e8256612e6a1d5751009b937d78e3413ed958946e5a3cad7ff7d",
]


def python_chain() -> list[str]:
    documents = [chain.donation_document(**DONATION), chain.disbursement_document(**PAYMENT),
                 chain.reversal_document(**REVERSAL), chain.disbursement_document(**MANAGEMENT)]
    hashes, previous = [], GENESIS
    for seq, ((kind, day, source, actor, postings), document) in enumerate(zip(ENTRIES, documents), start=1):
        previous = chain.entry_hash(prev_hash=previous, fund_code="TL-HQ-001", seq=seq, kind=kind, effective_on=day,
                                    posted_at=POSTED_AT, source_id=source, actor=actor, document=document,
                                    postings=postings)
        hashes.append(previous)
    return hashes


def sql_chain(connection: psycopg.Connection[Any]) -> list[str]:
    payment = ("SELECT donations.disbursement_document(%(disbursement_id)s, %(amount_fen)s, %(payee)s, "
               "%(purpose)s, %(project)s, %(paid_on)s, %(bank_reference)s, %(requested_by)s, %(approved_by)s, "
               "%(category)s)")
    documents = [
        connection.execute("SELECT donations.donation_document(%(receipt_no)s, %(amount_fen)s, %(donor_name)s, "
                           "%(donor_kind)s, %(donor_anonymous)s, %(received_on)s, %(channel)s, %(purpose)s, "
                           "%(reference)s)", DONATION).fetchone()[0],
        connection.execute(payment, PAYMENT).fetchone()[0],
        connection.execute("SELECT donations.reversal_document(%(donation_id)s, %(receipt_no)s, %(reason)s)",
                           REVERSAL).fetchone()[0],
        connection.execute(payment, MANAGEMENT).fetchone()[0],
    ]
    hashes, previous = [], GENESIS
    for seq, ((kind, day, source, actor, postings), document) in enumerate(zip(ENTRIES, documents), start=1):
        previous = connection.execute(
            "SELECT donations.link(%s, donations.entry_content(%s, %s, %s, %s, %s, %s, %s, %s, "
            "donations.postings_text(%s, %s)))",
            (previous, "TL-HQ-001", seq, kind, day, POSTED_AT, source, actor, document,
             [account for account, _ in postings], [amount for _, amount in postings])).fetchone()[0]
        hashes.append(previous)
    return hashes


@pytest.fixture
def owner(database_url: str) -> Any:
    with psycopg.connect(database_dsn(database_url), autocommit=True) as connection:
        connection.execute("SET DateStyle = 'SQL, DMY'")  # the text must not depend on it
        yield connection


def test_the_database_and_the_verifier_write_the_pinned_hashes(owner: psycopg.Connection[Any]) -> None:
    assert python_chain() == GOLDEN
    assert sql_chain(owner) == GOLDEN



def test_a_payments_category_is_in_its_document_on_both_sides(owner: psycopg.Connection[Any]) -> None:
    """Each category reads differently, and the database writes what the verifier reads."""
    written = {}
    for category in ("programme", "management", "fundraising"):
        payment = dict(PAYMENT, category=category)
        python = chain.disbursement_document(**payment)
        sql = owner.execute("SELECT donations.disbursement_document(%(disbursement_id)s, %(amount_fen)s, "
                            "%(payee)s, %(purpose)s, %(project)s, %(paid_on)s, %(bank_reference)s, "
                            "%(requested_by)s, %(approved_by)s, %(category)s)", payment).fetchone()[0]
        assert python == sql
        written[category] = python
    assert len(set(written.values())) == 3


@pytest.mark.parametrize("seq", [1, 999_999, 1_000_000, 12_345_678])
def test_a_receipt_number_reads_the_same_in_the_database_and_the_verifier(owner: psycopg.Connection[Any],
                                                                          seq: int) -> None:
    from services.donations.models import receipt_no

    sql = owner.execute("SELECT donations.receipt_no(2026, %s)", (seq,)).fetchone()[0]  # type: ignore[index]
    assert sql == receipt_no(2026, seq)
    assert sql.split("-")[1].lstrip("0") == str(seq)
