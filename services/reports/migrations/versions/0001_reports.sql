-- What PostgreSQL enforces whoever writes: a report's log and the audit log
-- are append-only; a report's files, once written, never change; a report is
-- never deleted (its deliveries and log point at it).
CREATE FUNCTION reports.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: it is append-only',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER run_log_append_only BEFORE UPDATE OR DELETE ON reports.run_log
    FOR EACH ROW EXECUTE FUNCTION reports.forbid_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON reports.audit_log
    FOR EACH ROW EXECUTE FUNCTION reports.forbid_change();
CREATE TRIGGER report_file_immutable BEFORE UPDATE OR DELETE ON reports.report_file
    FOR EACH ROW EXECUTE FUNCTION reports.forbid_change();
CREATE TRIGGER report_run_no_delete BEFORE DELETE ON reports.report_run
    FOR EACH ROW EXECUTE FUNCTION reports.forbid_change();
