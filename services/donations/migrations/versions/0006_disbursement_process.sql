-- A disbursement as a process (installed by 0006_disbursement_process.py):
-- its requester may withdraw it while it is requested, and its supporting
-- documents are kept beside it, append-only.
--
-- As everywhere (0002), the service's role writes neither table: these
-- functions do, as their owner, and write the audit log in the same
-- transaction. Locks are taken in the usual order, the fund's ledger row
-- before the disbursement.

-- A disbursement is born requested, and then moves only forward:
-- requested -> approved -> paid, requested or approved -> rejected,
-- requested -> withdrawn (by its requester); what a step records is written
-- once, and nothing else changes.
CREATE OR REPLACE FUNCTION donations.guard_disbursement() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_steps CONSTANT text[] := ARRAY['status', 'approved_by', 'approved_by_name', 'rejected_by', 'reject_reason',
                                     'decided_at', 'paid_on', 'bank_reference', 'entry_id', 'withdrawn_by',
                                     'withdrawn_by_name', 'withdraw_reason'];
    v_allowed boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_allowed := NEW.status = 'requested' AND NEW.approved_by IS NULL AND NEW.approved_by_name IS NULL
            AND NEW.rejected_by IS NULL AND NEW.reject_reason IS NULL AND NEW.decided_at IS NULL
            AND NEW.paid_on IS NULL AND NEW.bank_reference IS NULL AND NEW.entry_id IS NULL
            AND NEW.withdrawn_by IS NULL AND NEW.withdrawn_by_name IS NULL AND NEW.withdraw_reason IS NULL;
    ELSE
        v_allowed := (to_jsonb(NEW) - v_steps) = (to_jsonb(OLD) - v_steps)
            AND (NEW.status = 'withdrawn' OR (NEW.withdrawn_by IS NULL AND NEW.withdrawn_by_name IS NULL
                                              AND NEW.withdraw_reason IS NULL))
            AND CASE
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
            WHEN OLD.status = 'requested' AND NEW.status = 'withdrawn' THEN
                NEW.withdrawn_by IS NOT NULL AND NEW.withdrawn_by = OLD.requested_by AND NEW.withdrawn_by_name IS NOT NULL
                AND NEW.decided_at IS NOT NULL AND NEW.approved_by IS NULL AND NEW.approved_by_name IS NULL
                AND NEW.rejected_by IS NULL AND NEW.reject_reason IS NULL AND NEW.paid_on IS NULL
                AND NEW.bank_reference IS NULL AND NEW.entry_id IS NULL
            ELSE false
        END;
    END IF;
    IF NOT coalesce(v_allowed, false) THEN
        RAISE EXCEPTION 'disbursement %: % -> % is not a step a disbursement takes',
            coalesce(OLD.id, NEW.id), coalesce(OLD.status, 'nothing'), NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'disbursement_transition';
    END IF;
    RETURN NEW;
END $$;

-- The requester (the same user or the same key) withdraws a requested disbursement; nothing was
-- reserved for it, so no balance moves. p_reason may be empty.
CREATE FUNCTION donations.withdraw_disbursement(p_id bigint, p_fund jsonb, p_reason text, p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    locked record := donations.lock_disbursement(p_id, p_fund);
    fund donations.fund_ledger := locked.fund;
    request donations.disbursement := locked.request;
BEGIN
    IF request.requested_by <> p_actor->>'actor' THEN
        PERFORM donations.refuse('withdraw_not_requester', jsonb_build_object('id', request.id));
    END IF;
    IF request.status <> 'requested' THEN
        PERFORM donations.refuse('disbursement_not_withdrawable', jsonb_build_object('id', request.id,
            'status', request.status));
    END IF;
    UPDATE donations.disbursement SET status = 'withdrawn', withdrawn_by = p_actor->>'actor',
        withdrawn_by_name = p_actor->>'name', withdraw_reason = nullif(p_reason, ''), decided_at = now()
    WHERE id = request.id RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.withdraw', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'amount_fen', request.amount_fen,
                           'reason', request.withdraw_reason), now());
    RETURN request;
END $$;

-- A document attached to a disbursement that may still be paid (not rejected, not withdrawn):
-- its id. The disbursement's row is held (FOR SHARE) so that a withdrawal or a rejection at the
-- same moment comes wholly before or after. The sha256 and size are computed here, and the
-- table's CHECKs hold them to the content.
CREATE FUNCTION donations.attach_to_disbursement(p_id bigint, p_filename text, p_content_type text,
                                                 p_content bytea, p_actor jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    request donations.disbursement;
    attached_id bigint;
    attached_at timestamptz := now();
    digest text := encode(sha256(p_content), 'hex');
BEGIN
    SELECT * INTO request FROM donations.disbursement d WHERE d.id = p_id FOR SHARE;
    IF NOT FOUND THEN
        PERFORM donations.refuse('disbursement_not_found', jsonb_build_object('id', p_id));
    END IF;
    IF request.status IN ('rejected', 'withdrawn') THEN
        PERFORM donations.refuse('disbursement_closed_to_attachments', jsonb_build_object('id', request.id,
            'status', request.status));
    END IF;
    INSERT INTO donations.disbursement_attachment (disbursement_id, filename, content_type, size_bytes, sha256,
        content, uploaded_by, uploaded_by_name, uploaded_at)
    VALUES (request.id, p_filename, p_content_type, octet_length(p_content), digest, p_content,
        p_actor->>'actor', p_actor->>'name', attached_at)
    RETURNING id INTO attached_id;
    PERFORM donations.audit(p_actor, 'disbursement.attach', 'disbursement:' || request.id,
        jsonb_build_object('attachment_id', attached_id, 'filename', p_filename, 'content_type', p_content_type,
                           'size_bytes', octet_length(p_content), 'sha256', digest), attached_at);
    RETURN attached_id;
END $$;

-- Attachments are never changed, deleted or truncated, whoever asks.
CREATE TRIGGER disbursement_attachment_append_only BEFORE UPDATE OR DELETE ON donations.disbursement_attachment
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER disbursement_attachment_no_truncate BEFORE TRUNCATE ON donations.disbursement_attachment
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();

REVOKE EXECUTE ON FUNCTION donations.withdraw_disbursement(bigint, jsonb, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION donations.attach_to_disbursement(bigint, text, text, bytea, jsonb) FROM PUBLIC;
