-- What 0006_disbursement_process.py's downgrade restores: no withdrawal, no attachments, and the
-- disbursement's guard as 0002_one_posting_path.sql made it.

DROP FUNCTION donations.withdraw_disbursement(bigint, jsonb, text, jsonb);
DROP FUNCTION donations.attach_to_disbursement(bigint, text, text, bytea, jsonb);

-- A disbursement is born requested, and then moves only forward:
-- requested -> approved -> paid, requested or approved -> rejected; what a
-- step records is written once, and nothing else changes.
CREATE OR REPLACE FUNCTION donations.guard_disbursement() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_steps CONSTANT text[] := ARRAY['status', 'approved_by', 'approved_by_name', 'rejected_by', 'reject_reason',
                                     'decided_at', 'paid_on', 'bank_reference', 'entry_id'];
    v_allowed boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_allowed := NEW.status = 'requested' AND NEW.approved_by IS NULL AND NEW.approved_by_name IS NULL
            AND NEW.rejected_by IS NULL AND NEW.reject_reason IS NULL AND NEW.decided_at IS NULL
            AND NEW.paid_on IS NULL AND NEW.bank_reference IS NULL AND NEW.entry_id IS NULL;
    ELSE
        v_allowed := (to_jsonb(NEW) - v_steps) = (to_jsonb(OLD) - v_steps) AND CASE
            WHEN OLD.status = 'requested' AND NEW.status = 'approved' THEN
                NEW.approved_by IS NOT NULL AND NEW.approved_by_name IS NOT NULL AND NEW.decided_at IS NOT NULL
                AND NEW.rejected_by IS NULL AND NEW.reject_reason IS NULL AND NEW.paid_on IS NULL
                AND NEW.bank_reference IS NULL AND NEW.entry_id IS NULL
            WHEN OLD.status IN ('requested', 'approved') AND NEW.status = 'rejected' THEN
                NEW.rejected_by IS NOT NULL AND NEW.reject_reason IS NOT NULL AND NEW.decided_at IS NOT NULL
                AND NEW.approved_by IS NOT DISTINCT FROM OLD.approved_by
                AND NEW.approved_by_name IS NOT DISTINCT FROM OLD.approved_by_name
                AND NEW.paid_on IS NULL AND NEW.bank_reference IS NULL AND NEW.entry_id IS NULL
            WHEN OLD.status = 'approved' AND NEW.status = 'paid' THEN
                NEW.paid_on IS NOT NULL AND NEW.bank_reference IS NOT NULL AND NEW.entry_id IS NOT NULL
                AND NEW.approved_by = OLD.approved_by AND NEW.approved_by_name = OLD.approved_by_name
                AND NEW.decided_at = OLD.decided_at AND NEW.rejected_by IS NULL AND NEW.reject_reason IS NULL
            ELSE false
        END;
    END IF;
    IF NOT v_allowed THEN
        RAISE EXCEPTION 'disbursement %: % -> % is not a step a disbursement takes',
            coalesce(OLD.id, NEW.id), coalesce(OLD.status, 'nothing'), NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'disbursement_transition';
    END IF;
    RETURN NEW;
END $$;
