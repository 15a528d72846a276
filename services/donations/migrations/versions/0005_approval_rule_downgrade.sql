-- Back to before the approval rule (0005_approval_rule.py's downgrade): the request and the
-- approval as 0003 and 0002 made them.

CREATE OR REPLACE FUNCTION donations.request_disbursement(p_fund jsonb, p_amount_fen bigint, p_payee text, p_purpose text,
                                               p_project text, p_category text, p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    fund donations.fund_ledger := donations.lock_fund(p_fund);
    request donations.disbursement;
BEGIN
    PERFORM donations.require_inflow(fund);  -- a frozen fund may be asked; it pays once unfrozen
    INSERT INTO donations.disbursement (fund_id, fund_code, organization_id, amount_fen, payee, purpose, project,
        category, status, requested_by, requested_by_name, created_at)
    VALUES (fund.id, fund.code, fund.organization_id, p_amount_fen, p_payee, p_purpose, p_project, p_category,
        'requested', p_actor->>'actor', p_actor->>'name', now())
    RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.request', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'amount_fen', p_amount_fen, 'payee', p_payee,
                           'category', p_category), now());
    RETURN request;
END $$;

CREATE OR REPLACE FUNCTION donations.approve_disbursement(p_id bigint, p_fund jsonb, p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    locked record := donations.lock_disbursement(p_id, p_fund);
    fund donations.fund_ledger := locked.fund;
    request donations.disbursement := locked.request;
BEGIN
    IF request.requested_by = p_actor->>'actor' THEN
        PERFORM donations.refuse('own_disbursement');
    END IF;
    IF request.status <> 'requested' THEN
        PERFORM donations.refuse('disbursement_not_requested', jsonb_build_object('id', request.id,
            'status', request.status));
    END IF;
    PERFORM donations.require_outflow(fund);
    IF request.amount_fen > fund.unrestricted_fen + fund.restricted_fen - fund.reserved_fen THEN
        PERFORM donations.refuse('insufficient_available', jsonb_build_object('fund_code', fund.code,
            'available_fen', fund.unrestricted_fen + fund.restricted_fen - fund.reserved_fen,
            'amount_fen', request.amount_fen));
    END IF;
    -- Payments leave the bank; donated goods are not cash.
    IF request.amount_fen > fund.bank_fen - fund.reserved_fen THEN
        PERFORM donations.refuse('insufficient_cash', jsonb_build_object('fund_code', fund.code,
            'cash_fen', fund.bank_fen - fund.reserved_fen, 'amount_fen', request.amount_fen));
    END IF;
    UPDATE donations.fund_ledger SET reserved_fen = reserved_fen + request.amount_fen, updated_at = now()
    WHERE id = fund.id;
    UPDATE donations.disbursement SET status = 'approved', approved_by = p_actor->>'actor',
        approved_by_name = p_actor->>'name', decided_at = now()
    WHERE id = request.id RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.approve', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'amount_fen', request.amount_fen), now());
    RETURN request;
END $$;


DROP FUNCTION donations.note_key_act(jsonb, text);
