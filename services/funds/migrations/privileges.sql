-- What the funds service's own role may do: its code and nothing more.
--
-- Applied by shared/migrate.py as the database's owner after every upgrade to
-- head, with :"role" and :"schema" replaced by quoted identifiers. Before it,
-- shared/migrate.py revokes everything PUBLIC and the role held in the schema
-- (so this file is the whole list) and lets the role connect to the database.
-- The role never owns anything: it cannot ALTER, DROP or TRUNCATE a table,
-- nor disable a trigger, nor read another service's schema.

GRANT USAGE ON SCHEMA :"schema" TO :"role";

-- Organisations, users, API keys, funds: read, add, change; never delete.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA :"schema" TO :"role";

-- The audit log is append-only.
REVOKE UPDATE ON :"schema".audit_log FROM :"role";

-- Expired idempotency records are deleted.
GRANT DELETE ON :"schema".idempotency_key TO :"role";

-- Ids of new rows.
GRANT USAGE ON ALL SEQUENCES IN SCHEMA :"schema" TO :"role";

-- Functions: none to call (the audit log's trigger function runs without
-- the caller holding EXECUTE on it).
