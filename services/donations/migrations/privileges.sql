-- What the donations service's own role may do.
--
-- Applied by shared/migrate.py as the database's owner after every upgrade to
-- head, with :"role" and :"schema" replaced by quoted identifiers. Before it,
-- shared/migrate.py revokes everything PUBLIC and the role held in the schema
-- (so this file is the whole list) and lets the role connect to the database.
-- The role never owns anything: it cannot ALTER, DROP or TRUNCATE a table,
-- nor disable the ledger's triggers, nor read another service's schema.

GRANT USAGE ON SCHEMA :"schema" TO :"role";

-- ---------------------------------------------------------------------------
-- PROVISIONAL: what the current ledger code needs to run. The ledger's rewrite
-- replaces this section with the narrower privileges of its own code.
-- ---------------------------------------------------------------------------

-- Read, add and change rows; delete none.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA :"schema" TO :"role";

-- Journal entries, postings and the audit log are append-only.
REVOKE UPDATE ON :"schema".journal_entry, :"schema".posting, :"schema".audit_log FROM :"role";

-- Expired idempotency records are deleted.
GRANT DELETE ON :"schema".idempotency_key TO :"role";

-- Ids of new rows (also taken by donations.record_donation).
GRANT USAGE ON ALL SEQUENCES IN SCHEMA :"schema" TO :"role";

-- donations.record_donation (the hot path) and donations.entry_hash, which it
-- calls. The trigger functions need no EXECUTE to fire.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA :"schema" TO :"role";

-- --------------------------------------------------------------- end PROVISIONAL
