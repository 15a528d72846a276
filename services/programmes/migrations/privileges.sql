-- What the programmes service's own role may do: its code and nothing more.
--
-- Applied by shared/migrate.py as the database's owner after every upgrade to
-- head, with :"role" and :"schema" replaced by quoted identifiers. Before it,
-- shared/migrate.py revokes everything PUBLIC and the role held in the schema
-- and lets the role connect to the database. The role never owns anything.

GRANT USAGE ON SCHEMA :"schema" TO :"role";

-- Villages, needs, claims, projects, teams, drives: read, add, change; never delete.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA :"schema" TO :"role";

-- What is written once: the audit log, budget versions, volunteers' hours, purchases.
REVOKE UPDATE ON :"schema".audit_log, :"schema".budget_line, :"schema".volunteer_hours,
    :"schema".purchase FROM :"role";

-- Expired idempotency records are deleted.
GRANT DELETE ON :"schema".idempotency_key TO :"role";

-- Ids of new rows, and the caps' versions.
GRANT USAGE ON ALL SEQUENCES IN SCHEMA :"schema" TO :"role";
