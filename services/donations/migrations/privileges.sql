-- What the donations service's own role may do: read the ledger, and post to
-- it only through its functions.
--
-- Applied by shared/migrate.py as the database's owner after every upgrade to
-- head, with :"role" and :"schema" replaced by quoted identifiers. Before it,
-- shared/migrate.py revokes everything PUBLIC and the role held in the schema
-- (so this file is the whole list) and lets the role connect to the database.
-- The role never owns anything: it cannot ALTER, DROP or TRUNCATE a table,
-- nor disable the ledger's triggers, nor read another service's schema.

GRANT USAGE ON SCHEMA :"schema" TO :"role";

-- Everything the ledger holds may be read.
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"role";

-- Nothing of the ledger is written but by these functions, which run as their
-- owner (SECURITY DEFINER) and hold every rule: entries, postings, balances,
-- donations, disbursements and their attachments, the spending caps, the chain and the audit
-- log move only through them.
GRANT EXECUTE ON FUNCTION
    :"schema".record_donations(jsonb, jsonb),
    :"schema".reverse_donation(bigint, jsonb, text, jsonb),
    :"schema".request_disbursement(jsonb, bigint, text, text, text, text, text, text, integer, jsonb),
    :"schema".approve_disbursement(bigint, jsonb, jsonb),
    :"schema".pay_disbursement(bigint, jsonb, date, text, jsonb),
    :"schema".reject_disbursement(bigint, jsonb, text, jsonb),
    :"schema".withdraw_disbursement(bigint, jsonb, text, jsonb),
    :"schema".attach_to_disbursement(bigint, text, text, bytea, jsonb),
    :"schema".prepare_fund_status(jsonb, text, bigint),
    :"schema".settle_fund_status(text, text, bigint, boolean),
    :"schema".set_cap(text, text, text, integer, bigint, bigint, boolean, text, jsonb)
TO :"role";

-- The service's own bookkeeping: the answers kept for Idempotency-Keys.
GRANT INSERT, UPDATE, DELETE ON :"schema".idempotency_key TO :"role";
GRANT USAGE ON SEQUENCE :"schema".idempotency_key_id_seq TO :"role";

-- Uploaded imports between their preview and their recording (importing.py): the
-- service's own bookkeeping; the donations they hold go through record_donations.
GRANT INSERT, UPDATE, DELETE ON :"schema".import_batch, :"schema".import_row TO :"role";
GRANT USAGE ON SEQUENCE :"schema".import_batch_id_seq TO :"role";
