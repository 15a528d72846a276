-- What the reports service's own role may do.
--
-- Applied by shared/migrate.py as the database's owner after every upgrade to
-- head, with :"role" and :"schema" replaced by quoted identifiers. Before it,
-- shared/migrate.py revokes everything PUBLIC and the role held in the schema
-- and lets the role connect to the database. The role never owns anything.
--
-- The reports service has no tables yet: its role may only look into its
-- (empty) schema. Grant here what its tables will need when they come.

GRANT USAGE ON SCHEMA :"schema" TO :"role";
