"""Every refusal the system gives, once: a stable code, an HTTP status, a message.

A refusal of a whole request is a `Refused` problem (shared.errors); a field's
refusal is a `Message`. Both carry a code and its parameters, never a
sentence: the sentence comes from the catalogue below, in English for the
API's `detail` and in the reader's language on the pages (the English texts
are the msgids of shared/translations/<language>/LC_MESSAGES/messages.po).

The database refuses with the same codes: a ledger function raises with
`CONSTRAINT = '<code>'` (see services/donations/migrations); a CHECK
constraint that refuses is `ledger_rule`, naming the constraint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:  # noqa: N802 - the gettext marker pybabel extracts
    """Marks a msgid for extraction; translated when rendered (shared.i18n)."""
    return message


@dataclass(frozen=True)
class Kind:
    """A refusal's code: its HTTP status, its title and its message template."""

    code: str
    status: int
    title: str
    message: str  # %(name)s placeholders, filled from the refusal's parameters


KINDS: dict[str, Kind] = {}


def _kind(code: str, status: int, title: str, message: str) -> str:
    if code in KINDS:
        raise ValueError(f"refusal code {code} defined twice")
    KINDS[code] = Kind(code, status, title, message)
    return code


# Titles, one per status.
BAD_REQUEST = N_("Bad request")
UNAUTHORIZED = N_("Unauthorized")
FORBIDDEN = N_("Forbidden")
NOT_FOUND = N_("Not found")
CONFLICT = N_("Conflict")
INVALID = N_("Validation failed")
UNAVAILABLE = N_("Service unavailable")

# -- requests as a whole ---------------------------------------------------------
_kind("malformed_json", 400, BAD_REQUEST, N_("The body is not valid JSON."))
_kind("malformed_request", 400, BAD_REQUEST, N_("The request is malformed."))
_kind("csrf_failed", 400, BAD_REQUEST,
      N_("The form has expired or did not come from this site; reload the page and try again."))
_kind("api_key_missing", 401, UNAUTHORIZED, N_("An API key is required: send 'Authorization: Bearer <key>'."))
_kind("api_key_invalid", 401, UNAUTHORIZED, N_("The API key is unknown or has been revoked."))
_kind("internal_token_invalid", 401, UNAUTHORIZED, N_("Internal API: missing or wrong internal token."))
_kind("scope_missing", 403, FORBIDDEN, N_("This needs the scope '%(scope)s', which the caller lacks."))
_kind("role_forbidden", 403, FORBIDDEN, N_("Your role may not do this."))
_kind("not_found", 404, NOT_FOUND, N_("There is nothing at this address."))
_kind("method_not_allowed", 405, N_("Method not allowed"), N_("This address does not take %(method)s."))
_kind("too_many_attempts", 429, N_("Too many requests"),
      N_("Too many failed attempts: try again in %(seconds)s seconds."))
_kind("too_many_reads", 429, N_("Too many requests"),
      N_("Too many requests from your address: try again in %(seconds)s seconds."))
_kind("payload_too_large", 413, N_("Payload too large"), N_("The request body is too large."))
_kind("unsupported_media_type", 415, N_("Unsupported media type"),
      N_("Send %(expected)s, not %(received)s."))
_kind("validation", 422, INVALID, N_("Some fields are not valid."))
_kind("internal_error", 500, N_("Internal server error"),
      N_("The server failed to answer this request; it has been logged."))
_kind("service_unavailable", 503, UNAVAILABLE, N_("The %(service)s service cannot be reached; try again shortly."))
_kind("database_unavailable", 503, UNAVAILABLE,
      N_("The database cannot be reached at the moment; try again shortly."))
_kind("http_error", 400, BAD_REQUEST, N_("The request could not be answered (HTTP %(status)s)."))

# -- idempotency -------------------------------------------------------------------
_kind("idempotency_in_progress", 409, CONFLICT, N_("A request with this key is still being processed."))
_kind("idempotency_secret_not_kept", 409, CONFLICT,
      N_("A request with this key succeeded already; its answer held a secret, which is shown only once "
         "and was not kept."))

# -- things that are not there (or not the caller's) --------------------------------
_kind("fund_not_found", 404, NOT_FOUND, N_("No fund %(fund_code)s."))
_kind("organization_not_found", 404, NOT_FOUND, N_("No organisation %(id)s."))
_kind("api_key_not_found", 404, NOT_FOUND, N_("No API key %(id)s in organisation %(organization_id)s."))
_kind("user_not_found", 404, NOT_FOUND, N_("No user %(id)s."))
_kind("donation_not_found", 404, NOT_FOUND, N_("No donation %(id)s."))
_kind("disbursement_not_found", 404, NOT_FOUND, N_("No disbursement %(id)s."))
_kind("report_not_found", 404, NOT_FOUND, N_("No report %(id)s."))
_kind("report_file_not_found", 404, NOT_FOUND,
      N_("Report %(id)s has no %(format)s file: a report has its files once it is done."))
_kind("subscription_not_found", 404, NOT_FOUND, N_("No subscription %(id)s."))
_kind("attachment_not_found", 404, NOT_FOUND, N_("Disbursement %(disbursement_id)s has no attachment %(id)s."))

# -- funds, organisations, users -----------------------------------------------------
_kind("organization_name_taken", 409, CONFLICT, N_("An organisation named %(name)s exists already."))
_kind("username_taken", 409, CONFLICT, N_("The username %(username)s is taken."))
_kind("fund_code_taken", 409, CONFLICT, N_("A fund with the code %(fund_code)s exists already."))
_kind("fund_closed_unchangeable", 409, CONFLICT, N_("Fund %(fund_code)s is closed and can no longer be changed."))
_kind("fund_transition_invalid", 409, CONFLICT,
      N_("Fund %(fund_code)s is %(status)s, so it cannot be %(target)s."))
_kind("fund_not_empty", 409, CONFLICT,
      N_("Fund %(fund_code)s still holds %(balance)s CNY (%(reserved)s CNY of it promised to approved "
         "payments); only a fund holding nothing can be closed."))
_kind("last_admin_key", 409, CONFLICT,
      N_("API key %(id)s is the last admin key: revoking it would lock everyone out. Issue another admin "
         "key first."))
_kind("self_demotion", 422, INVALID, N_("You cannot demote or deactivate yourself."))
_kind("login_failed", 422, INVALID, N_("Wrong username or password, or the account is disabled."))

# -- the ledger -------------------------------------------------------------------------
_kind("fund_closed", 409, CONFLICT, N_("Fund %(fund_code)s is closed: it takes nothing and pays nothing."))
_kind("fund_frozen", 409, CONFLICT,
      N_("Fund %(fund_code)s is frozen: it takes donations but pays nothing out, and no donation to it "
         "can be reversed."))
_kind("fund_status_changing", 409, CONFLICT,
      N_("Fund %(fund_code)s is changing its status at this moment; try again shortly."))
_kind("duplicate_reference", 409, CONFLICT,
      N_("A donation with the reference %(reference)s is already recorded for this organisation."))
_kind("already_reversed", 409, CONFLICT, N_("Donation %(receipt_no)s is already reversed."))
_kind("reversal_exceeds_available", 409, CONFLICT,
      N_("Reversing %(amount)s CNY would take fund %(fund_code)s below zero: it has %(available)s CNY "
         "available."))
_kind("reversal_exceeds_goods", 409, CONFLICT,
      N_("Reversing %(amount)s CNY of goods would take fund %(fund_code)s's goods below zero: it holds "
         "%(goods)s CNY of goods."))
_kind("reversal_exceeds_cash", 409, CONFLICT,
      N_("Reversing %(amount)s CNY would leave fund %(fund_code)s too little cash for its approved "
         "payments: %(cash)s CNY of cash is available."))
_kind("own_disbursement", 403, FORBIDDEN,
      N_("The requester cannot approve their own disbursement: someone else must."))
# The organisation's approval rule (shared/contracts/funds.py): who the caller is, not the
# disbursement's state, so 403 like the requester's own approval.
_kind("approval_rule_person_only", 403, FORBIDDEN,
      N_("The organisation's approval rule is person_only: only a person, on the web pages, may approve its "
         "disbursements, never an API key."))
_kind("approval_by_requesting_key", 403, FORBIDDEN,
      N_("The organisation's approval rule is non_requesting_keys: this API key has requested disbursements, "
         "so it may not approve one; a person or a key that never requests must."))
_kind("request_by_approving_key", 403, FORBIDDEN,
      N_("The organisation's approval rule is non_requesting_keys: this API key has approved disbursements, "
         "so it may not request one; request with a key that never approves."))
_kind("disbursement_not_requested", 409, CONFLICT,
      N_("Disbursement %(id)s is %(status)s; only a requested one can be approved."))
_kind("disbursement_not_approved", 409, CONFLICT,
      N_("Disbursement %(id)s is %(status)s; only an approved one is paid."))
_kind("disbursement_not_rejectable", 409, CONFLICT,
      N_("Disbursement %(id)s is %(status)s; it can no longer be rejected."))
_kind("withdraw_not_requester", 403, FORBIDDEN,
      N_("Only whoever requested disbursement %(id)s may withdraw it."))
_kind("disbursement_not_withdrawable", 409, CONFLICT,
      N_("Disbursement %(id)s is %(status)s; only a requested one can be withdrawn."))
_kind("attachment_forbidden", 403, FORBIDDEN,
      N_("Only whoever requested disbursement %(id)s, or an approver of its organisation, may attach files to "
         "it."))
_kind("disbursement_closed_to_attachments", 409, CONFLICT,
      N_("Disbursement %(id)s is %(status)s; no more files can be attached to it."))
_kind("insufficient_available", 409, CONFLICT,
      N_("Fund %(fund_code)s has %(available)s CNY available, less than the %(amount)s CNY to approve."))
_kind("insufficient_cash", 409, CONFLICT,
      N_("Fund %(fund_code)s has %(cash)s CNY of cash available, less than the %(amount)s CNY to approve "
         "(the rest is donated goods, which are not paid out)."))
_kind("balance_below_zero", 409, CONFLICT,
      N_("This would take fund %(fund_code)s's %(account)s below zero on %(date)s."))
_kind("ledger_rule", 409, CONFLICT, N_("The ledger refused this change (rule %(rule)s)."))
# Spending caps: what the programmes service lets a fund pay for a project or a need
# (shared/contracts/caps.py, services/donations/migrations/versions/0010_spending_caps.sql).
_kind("budget_line_unknown", 409, CONFLICT,
      N_("Project %(project_code)s has no budget line %(budget_line)s that the ledger knows of."))
_kind("need_not_pledged", 409, CONFLICT,
      N_("Organisation %(organization_id)s has pledged nothing to need %(need_id)s that the ledger knows of."))
_kind("project_fund_mismatch", 409, CONFLICT,
      N_("Project %(project_code)s is paid from fund %(project_fund_code)s, not from %(fund_code)s."))
_kind("budget_line_exceeded", 409, CONFLICT,
      N_("Budget line %(budget_line)s of project %(project_code)s has %(remaining)s CNY left, less than the "
         "%(amount)s CNY of this disbursement."))
_kind("project_payable_exceeded", 409, CONFLICT,
      N_("Project %(project_code)s may pay %(remaining)s CNY more for now, less than the %(amount)s CNY of this "
         "disbursement: only accepted milestones' instalments are payable."))
_kind("need_pledge_exceeded", 409, CONFLICT,
      N_("The pledge to need %(need_id)s has %(remaining)s CNY unpaid, less than the %(amount)s CNY of this "
         "disbursement."))
_kind("cap_below_committed", 409, CONFLICT,
      N_("Cap %(cap_key)s cannot be %(limit)s CNY: %(committed)s CNY of it are already approved or paid."))

# -- programmes: villages, needs and claims -------------------------------------------------------
_kind("village_not_found", 404, NOT_FOUND, N_("No village %(id)s."))
_kind("need_not_found", 404, NOT_FOUND, N_("No need %(id)s."))
_kind("claim_not_found", 404, NOT_FOUND, N_("No claim %(id)s."))
_kind("village_taken", 409, CONFLICT, N_("Township %(township)s already has a village named %(name)s."))
_kind("need_closed", 409, CONFLICT, N_("Need %(id)s is closed: nothing more can be pledged to it."))
_kind("claim_exceeds_open", 409, CONFLICT,
      N_("Need %(need_id)s has %(open)s CNY still open, less than the %(amount)s CNY pledged."))
_kind("claim_transition_invalid", 409, CONFLICT,
      N_("Claim %(id)s is %(status)s, so it cannot become %(target)s."))
_kind("claim_not_signable", 409, CONFLICT,
      N_("Claim %(id)s is %(status)s; only a fulfilled claim not yet signed off can be signed off."))
_kind("no_such_village", 422, INVALID, N_("No such village."))
_kind("not_your_organization", 422, INVALID, N_("Only an administrator may act for another organisation."))

# -- programmes: teams and drives -----------------------------------------------------------------
_kind("team_not_found", 404, NOT_FOUND, N_("No assistance team %(id)s."))
_kind("drive_not_found", 404, NOT_FOUND, N_("No consumer-assistance drive %(id)s."))
_kind("team_name_taken", 409, CONFLICT, N_("An assistance team named %(name)s exists already."))
_kind("too_many", 422, INVALID, N_("Must hold at most %(max)s."))
_kind("hours_format", 422, INVALID,
      N_("Hours as a string with at most one decimal, more than 0 and at most 24, such as \"2.5\"."))
_kind("team_one_lead", 422, INVALID, N_("A team has exactly one lead member; this one has %(leads)s."))
_kind("team_member_repeated", 422, INVALID, N_("Organisation %(organization_id)s is named twice."))
_kind("team_without_caller", 422, INVALID, N_("Your organisation must be one of the team's members."))
_kind("village_not_in_team", 422, INVALID, N_("Not one of the team's villages."))
_kind("not_drive_organiser", 422, INVALID,
      N_("Only the drive's organiser or an administrator may act for another organisation."))
_kind("purchase_not_at_market", 422, INVALID,
      N_("A market purchase is paid its market value, quantity x unit price rounded half-up to the fen: "
         "%(expected)s."))
_kind("purchase_not_above_market", 422, INVALID,
      N_("A premium purchase is paid more than its market value of %(expected)s."))
_kind("purchase_below_market", 422, INVALID,
      N_("Produce given on is bought at its market value of %(expected)s or above."))

# -- programmes: projects --------------------------------------------------------------------------
_kind("project_not_found", 404, NOT_FOUND, N_("No project %(code)s."))
_kind("milestone_not_found", 404, NOT_FOUND, N_("Project %(code)s has no milestone %(n)s."))
_kind("amendment_not_found", 404, NOT_FOUND, N_("Project %(code)s has no amendment %(version)s."))
_kind("project_code_taken", 409, CONFLICT, N_("A project with the code %(code)s exists already."))
_kind("project_transition_invalid", 409, CONFLICT,
      N_("Project %(code)s is %(status)s, so it cannot be %(target)s."))
_kind("own_project_approval", 403, FORBIDDEN,
      N_("Whoever proposed project %(code)s cannot approve it: someone else must."))
_kind("milestone_transition_invalid", 409, CONFLICT,
      N_("Milestone %(n)s of project %(code)s is %(status)s, so it cannot be %(target)s."))
_kind("own_milestone_acceptance", 403, FORBIDDEN,
      N_("Whoever reported milestone %(n)s of project %(code)s cannot accept it: someone else must."))
_kind("milestones_unfinished", 409, CONFLICT,
      N_("Project %(code)s cannot be closed: milestones %(milestones)s are neither accepted nor cancelled."))
_kind("amendment_pending", 409, CONFLICT,
      N_("Project %(code)s has amendment %(version)s awaiting a decision: decide it first."))
_kind("amendment_not_requested", 409, CONFLICT,
      N_("Amendment %(version)s of project %(code)s is %(status)s; only a requested one can be decided."))
_kind("own_amendment_approval", 403, FORBIDDEN,
      N_("Whoever requested amendment %(version)s of project %(code)s cannot approve it: someone else must."))
_kind("recovery_exceeds_paid", 409, CONFLICT,
      N_("Project %(code)s has paid %(paid)s CNY, of which %(recovering)s CNY are already to be recovered: "
         "%(amount)s CNY more cannot be."))
_kind("ends_before_start", 422, INVALID, N_("Must not be before the start (starts_on)."))
_kind("budget_line_repeated", 422, INVALID, N_("Another line of the budget has this name."))
_kind("instalments_not_budget", 422, INVALID,
      N_("The milestones' instalments add up to %(instalments)s, the budget's lines to %(budget)s: they must be "
         "equal."))
_kind("amendment_total_changed", 422, INVALID,
      N_("The lines add up to %(total)s; they must add up to the milestones' instalments, %(instalments)s."))
_kind("leftover_to_required", 422, INVALID,
      N_("Say where the %(leftover)s CNY left over goes: to a similar project, as the law requires."))
_kind("no_such_team", 422, INVALID, N_("No such team."))

# -- programmes: the disclosure calendar -----------------------------------------------------------
_kind("disclosure_not_on_calendar", 422, INVALID,
      N_("The organisation's disclosure calendar has no %(kind)s item %(subject)s due on %(due_on)s."))
_kind("disclosure_already_recorded", 409, CONFLICT,
      N_("The %(kind)s item %(subject)s due on %(due_on)s is already recorded as published."))

# -- reports -------------------------------------------------------------------------------
_kind("scope_all_forbidden", 403, FORBIDDEN,
      N_("Only the federation's administrators and auditors may report on every fund: name a fund or "
         "your organisation."))

# -- fields (a Message each; the problem is `validation`) -------------------------------------
_kind("required", 422, INVALID, N_("Missing data for required field."))
_kind("null", 422, INVALID, N_("Field may not be null."))
_kind("unknown_field", 422, INVALID, N_("Unknown field."))
_kind("not_a_string", 422, INVALID, N_("Not a valid string."))
_kind("not_an_object", 422, INVALID, N_("Must be an object."))
_kind("not_a_list", 422, INVALID, N_("Must be a list."))
_kind("not_a_boolean", 422, INVALID, N_("Not a valid boolean."))
_kind("not_an_integer", 422, INVALID, N_("Not a valid integer."))
_kind("out_of_range", 422, INVALID, N_("Must be between %(min)s and %(max)s."))
_kind("blank", 422, INVALID, N_("Must not be empty."))
_kind("too_long", 422, INVALID, N_("Longer than maximum length %(max)s."))
_kind("too_short", 422, INVALID, N_("Shorter than minimum length %(min)s."))
_kind("too_few", 422, INVALID, N_("Must hold at least %(min)s."))
_kind("nul_character", 422, INVALID, N_("Must not contain NUL characters."))
_kind("lone_surrogate", 422, INVALID, N_("Must be valid Unicode text (no lone surrogates)."))
_kind("not_one_of", 422, INVALID, N_("Must be one of: %(choices)s."))
_kind("fund_code_format", 422, INVALID, N_("3-32 characters of A-Z, 0-9 and '-', such as TL-HQ-001."))
_kind("username_format", 422, INVALID, N_("2-64 letters, digits, '_', '.' or '-'."))
_kind("amount_not_a_string", 422, INVALID,
      N_("Must be a string with two decimals, such as \"1280.00\", not a number."))
_kind("amount_format", 422, INVALID, N_("Must be an amount with exactly two decimals, such as \"1280.00\"."))
_kind("amount_out_of_range", 422, INVALID, N_("Must be between %(min)s and %(max)s."))
# What the pages refuse of a typed amount before the API's rule sees it (shared.page_input).
_kind("amount_not_positive", 422, INVALID, N_("Must be more than 0."))
_kind("amount_unreadable", 422, INVALID,
      N_("Not an amount: write it in yuan, such as 5000, 50,000.00 or ¥500."))
_kind("amount_too_precise", 422, INVALID, N_("At most two decimals: an amount is in yuan and fen."))
# A gift in kind's goods (services/donations/rules.py GOODS); a page reads a typed quantity first.
_kind("quantity_format", 422, INVALID,
      N_("Must be a number with at most three decimals, as a string such as \"2500\" or \"12.5\"."))
_kind("quantity_not_positive", 422, INVALID, N_("The quantity must be more than 0."))
_kind("quantity_unreadable", 422, INVALID, N_("Not a quantity: write a number such as 2500, 2,500 or 12.5."))
_kind("quantity_too_precise", 422, INVALID, N_("At most three decimals."))
_kind("goods_not_in_kind", 422, INVALID, N_("Only a gift in kind (channel in_kind) has goods."))
_kind("goods_amount_mismatch", 422, INVALID,
      N_("Must be the goods' quantity times their unit price, rounded to the fen: %(expected)s."))
_kind("date_format", 422, INVALID, N_("Not a valid date (YYYY-MM-DD)."))
_kind("date_too_early", 422, INVALID, N_("Must not be before %(earliest)s."))
_kind("date_in_future", 422, INVALID, N_("Must not be in the future."))
_kind("date_after_to", 422, INVALID, N_("Must not be after 'to'."))
_kind("paid_before_approval", 422, INVALID, N_("Must not be before the approval, on %(approved_on)s."))
_kind("cursor_invalid", 422, INVALID, N_("Not a cursor returned by this API."))
_kind("amount_min_above_max", 422, INVALID, N_("Must not be more than the largest amount."))
_kind("export_too_large", 422, INVALID,
      N_("%(count)s rows match; an export holds at most %(max)s: narrow the filters or the period."))
_kind("boolean_text", 422, INVALID, N_("Must be true or false."))
_kind("idempotency_key_reused", 422, INVALID, N_("This key was already used with a different request."))
_kind("no_such_fund", 422, INVALID, N_("No such fund."))
_kind("budget_line_without_project", 422, INVALID, N_("A budget line needs its project (project_code)."))
_kind("project_and_need", 422, INVALID, N_("Name a project's budget line or a need, not both."))
_kind("no_such_organization", 422, INVALID, N_("No such organisation."))
_kind("file_required", 422, INVALID, N_("Choose a file to upload."))
_kind("attachment_type", 422, INVALID,
      N_("Only PDF, PNG or JPEG files are accepted, and this file's content is none of them."))
_kind("attachment_too_large", 422, INVALID, N_("The file is larger than %(max)s MB."))
_kind("request_exceeds_cash", 422, INVALID,
      N_("Fund %(fund_code)s has %(cash)s CNY of cash available, less than the %(amount)s CNY requested "
         "(donated goods are not paid out)."))
_kind("confirm_required", 422, INVALID, N_("Tick the box to confirm."))
_kind("period_format", 422, INVALID, N_("A month, quarter or year, such as 2026-08, 2026-Q3 or 2026."))
_kind("period_in_future", 422, INVALID, N_("The period has not begun yet."))
_kind("scope_ambiguous", 422, INVALID, N_("Name a fund or an organisation, not both."))
_kind("email_format", 422, INVALID, N_("Not a valid email address."))
# What a batch row or an uploaded file can be refused for besides its fields.
_kind("row_not_an_object", 422, INVALID, N_("Must be an object."))
_kind("row_width", 422, INVALID, N_("Has %(fields)s fields; the header has %(expected)s."))
_kind("csv_column_unknown", 422, INVALID, N_("Unknown column."))
_kind("csv_column_missing", 422, INVALID, N_("Missing column."))
_kind("csv_column_repeated", 422, INVALID, N_("A column appears twice."))
_kind("csv_header", 422, INVALID,
      N_("The header row names these columns, in any order: %(columns)s; these may be left out: %(optional)s."))
_kind("csv_not_utf8", 422, INVALID,
      N_("The CSV file is not UTF-8 (byte %(byte)s); save it from Excel as \"CSV UTF-8\"."))
_kind("csv_nul", 422, INVALID, N_("The CSV file contains NUL characters."))
_kind("csv_empty", 422, INVALID, N_("The CSV file is empty: it needs a header row."))
_kind("csv_syntax", 422, INVALID, N_("Line %(line)s cannot be read as CSV."))
_kind("batch_not_a_list", 422, INVALID, N_("Must be a JSON list of donations."))
_kind("batch_empty", 422, INVALID, N_("There are no rows."))
_kind("batch_too_long", 422, INVALID, N_("At most %(max)s rows a request; send the rest in another."))
# What the pages' import (services/donations/importing.py) says of a spreadsheet and its rows.
_kind("import_file_type", 422, INVALID,
      N_("This file is neither an XLSX workbook nor a CSV file; an old .xls workbook can be saved from Excel "
         "as .xlsx."))
_kind("import_unreadable", 422, INVALID, N_("This XLSX workbook cannot be read; save it again from Excel."))
_kind("import_too_large", 422, INVALID, N_("The file is larger than %(max)s MB; split it into several files."))
_kind("import_too_many_rows", 422, INVALID, N_("At most %(max)s rows a file; split it into several files."))
_kind("import_no_header", 422, INVALID, N_("The file is empty: its first row must name the columns."))
_kind("import_columns_missing", 422, INVALID, N_("Missing columns: %(columns)s."))
_kind("import_columns_repeated", 422, INVALID, N_("These columns name the same thing: %(columns)s."))
_kind("import_not_found", 404, NOT_FOUND, N_("No import %(id)s."))
_kind("import_expired", 409, CONFLICT, N_("This import has expired unconfirmed; upload the file again."))
_kind("import_donor_kind", 422, INVALID,
      N_("Must be 个人 (individual), 企业 or 单位 (enterprise), or 组织 (organization)."))
_kind("import_anonymous", 422, INVALID, N_("Must be 是 or 否 (yes or no)."))
_kind("import_channel", 422, INVALID,
      N_("Must be 银行 or 转账 (bank), 现金 (cash), 微信 (wechat), 支付宝 (alipay) or 物资 (in_kind)."))
_kind("import_date", 422, INVALID, N_("Not a date: write it as 2026-11-21, 2026/11/21 or 2026年11月21日."))
_kind("import_reference_repeated", 422, INVALID,
      N_("Reference %(reference)s is on line %(line)s of this file too."))
_kind("import_looks_recorded", 409, CONFLICT,
      N_("Looks like one already recorded (receipt %(receipt_no)s): same donor, amount and date, no reference."))
_kind("import_looks_repeated", 409, CONFLICT,
      N_("Looks like line %(line)s of this file: same donor, amount and date, no reference."))
_kind("import_skipped", 409, CONFLICT,
      N_("Not recorded: it looked like one already recorded, and such rows were skipped."))

# What a field's refusal on a page calls it when the page gives no label.
THIS_FIELD = N_("this field")
# The parameters that are sums of money ("3000.00", before "CNY"/"元" in the messages): a page
# shows them with grouped thousands (3,000.00), the API as they are.
MONEY_PARAMS = frozenset({"amount", "available", "balance", "cash", "goods", "reserved", "open"})

# The words of the shared error page (templates say {{ _("...") }}).
PAGE_WORDS = (N_("Back"), N_("Back to the start page"), N_("Back to the previous page"),
              # the layout: header, menu, error summary (base.html, _forms.html)
              N_("Named charity fund management"), N_("Skip to main content"), N_("Main menu"), N_("Menu"),
              N_("Funds"), N_("Donations and disbursements"), N_("Audit reports"), N_("Organisations"), N_("Users"),
              N_("Log out"), N_("Please correct the following"))

# What the pages' forms say of what is typed (shared.page_input, shared.resume).
LENGTH_HINT = N_("At most %(max)s characters.")
PICK_A_FUND = N_("Pick a fund")
EVERY_FUND = N_("Every fund")
LOGIN_ENDED = N_("Your login has ended: log in again.")
LOGIN_ENDED_KEPT = N_("Your login has ended: log in again. What you typed is kept: you will be taken back to "
                      "the form to check it and send it again. Nothing was recorded.")
TYPED_AGAIN = N_("What you typed before your login ended is filled in again: check it and send it. "
                 "Nothing has been recorded yet.")
PAGE_WORDS += (LENGTH_HINT, PICK_A_FUND, EVERY_FUND, LOGIN_ENDED, LOGIN_ENDED_KEPT, TYPED_AGAIN)

# What a value named in a message reads as (a fund's or a disbursement's status, ...).
LABELS: dict[str, str] = {
    "active": N_("active"),
    "frozen": N_("frozen"),
    "closed": N_("closed"),
    "requested": N_("requested"),
    "approved": N_("approved"),
    "paid": N_("paid"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
    # a claim on a village's need (services/programmes): pledged, in progress, fulfilled, expired
    "pledged": N_("pledged"),
    "in_progress": N_("in progress"),
    "fulfilled": N_("fulfilled"),
    "expired": N_("expired"),
    "recorded": N_("recorded"),
    "reversed": N_("reversed"),
    "bank": N_("bank account"),
    "in_kind": N_("donated goods"),
    "unrestricted": N_("unrestricted net assets"),
    "restricted": N_("restricted net assets"),
    "programme": N_("charitable activities"),
    "management": N_("management costs"),
    "fundraising": N_("fundraising costs"),
    "social_organization": N_("social organisation or social service institution"),
    "foundation": N_("foundation with public fundraising status"),
    "other_actor": N_("anyone but the requester"),
    "person_only": N_("people only, on the web pages, never an API key"),
    "non_requesting_keys": N_("people, or API keys that never request disbursements"),
}

class Label(str):
    """A parameter value that is itself translated when shown (a status, an account)."""

    __slots__ = ()


@dataclass(frozen=True)
class Message:
    """One refusal of a field: a code with its parameters, rendered per language."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in KINDS:
            raise KeyError(f"unknown refusal code {self.code}")

    def __str__(self) -> str:
        return english(self.code, self.params)


def fill(template: str, params: Mapping[str, Any]) -> str:
    """The template with its %(name)s placeholders filled; extra parameters are ignored."""
    return template % {name: str(value) for name, value in params.items()} if params else template % {}


def english(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The message in English: the API's `detail` and field errors (labels in their English words)."""
    shown = {name: LABELS.get(value, value) if isinstance(value, Label) else value
             for name, value in (params or {}).items()}
    return fill(KINDS[code].message, shown)
