-- What the reports service's own role may do.
--
-- Applied by shared/migrate.py as the database's owner after every upgrade to
-- head, with :"role" and :"schema" replaced by quoted identifiers. Before it,
-- shared/migrate.py revokes everything PUBLIC and the role held in the schema
-- and lets the role connect to the database. The role never owns anything.

GRANT USAGE ON SCHEMA :"schema" TO :"role";

-- Reports, subscriptions and deliveries change state; nothing is deleted but
-- expired idempotency keys.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA :"schema" TO :"role";

-- The logs and the files are written once.
REVOKE UPDATE ON :"schema".run_log, :"schema".audit_log, :"schema".report_file FROM :"role";

GRANT DELETE ON :"schema".idempotency_key TO :"role";

GRANT USAGE ON ALL SEQUENCES IN SCHEMA :"schema" TO :"role";
