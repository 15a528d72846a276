-- What PostgreSQL enforces whoever writes: entries, postings and the audit log
-- are append-only; every statement's postings balance per entry; a donation
-- changes only once, from recorded to reversed; nothing is deleted.
CREATE FUNCTION donations.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: the ledger is append-only',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON donations.journal_entry
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER posting_append_only BEFORE UPDATE OR DELETE ON donations.posting
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON donations.audit_log
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER donation_no_delete BEFORE DELETE ON donations.donation
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER disbursement_no_delete BEFORE DELETE ON donations.disbursement
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER fund_ledger_no_delete BEFORE DELETE ON donations.fund_ledger
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON donations.journal_entry
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER posting_no_truncate BEFORE TRUNCATE ON donations.posting
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON donations.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();

-- Debits equal credits: check_postings_balance() (0001_ledger_postings_balance.sql).
CREATE TRIGGER postings_balance AFTER INSERT ON donations.posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION donations.check_postings_balance();

CREATE FUNCTION donations.guard_donation_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'recorded' OR NEW.status <> 'reversed'
       OR (to_jsonb(NEW) - ARRAY['status', 'reversal_entry_id', 'reversal_reason', 'reversed_at'])
          IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['status', 'reversal_entry_id', 'reversal_reason', 'reversed_at'])
    THEN
        RAISE EXCEPTION 'donation %: only a reversal may change a recorded donation', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER donation_reverse_only BEFORE UPDATE ON donations.donation
    FOR EACH ROW EXECUTE FUNCTION donations.guard_donation_update();
