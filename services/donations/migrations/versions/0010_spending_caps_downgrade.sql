-- The disbursement functions as before 0010_spending_caps (its downgrade): request as in 0005,
-- approve as in 0005, pay as in 0003, reject as in 0002.

CREATE FUNCTION donations.request_disbursement(p_fund jsonb, p_amount_fen bigint, p_payee text,
                                                          p_purpose text, p_project text, p_category text,
                                                          p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    rule text := coalesce(p_fund->>'approval_rule', 'other_actor');
    activity donations.key_activity;
    fund donations.fund_ledger;
    request donations.disbursement;
BEGIN
    -- Whatever the rule, a key's request is recorded: another organisation's rule may ask.
    IF starts_with(p_actor->>'actor', 'key:') THEN
        activity := donations.note_key_act(p_actor, 'request');
        IF rule = 'non_requesting_keys' AND activity.first_approved_at IS NOT NULL THEN
            PERFORM donations.refuse('request_by_approving_key', jsonb_build_object('approval_rule', rule,
                'organization_id', (p_fund->>'organization_id')::integer));
        END IF;
    END IF;
    fund := donations.lock_fund(p_fund);
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
    rule text := coalesce(p_fund->>'approval_rule', 'other_actor');
    refused jsonb := jsonb_build_object('approval_rule', rule,
                                        'organization_id', (p_fund->>'organization_id')::integer);
    activity donations.key_activity;
    locked record;
    fund donations.fund_ledger;
    request donations.disbursement;
BEGIN
    IF starts_with(p_actor->>'actor', 'key:') THEN
        IF rule = 'person_only' THEN
            PERFORM donations.refuse('approval_rule_person_only', refused);
        END IF;
        activity := donations.note_key_act(p_actor, 'approve');
        IF rule = 'non_requesting_keys' AND activity.first_requested_at IS NOT NULL THEN
            PERFORM donations.refuse('approval_by_requesting_key', refused);
        END IF;
    END IF;
    locked := donations.lock_disbursement(p_id, p_fund);
    fund := locked.fund;
    request := locked.request;
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

CREATE OR REPLACE FUNCTION donations.pay_disbursement(p_id bigint, p_fund jsonb, p_paid_on date,
                                                      p_bank_reference text, p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    locked record := donations.lock_disbursement(p_id, p_fund);
    fund donations.fund_ledger := locked.fund;
    request donations.disbursement := locked.request;
    approved_on date;
    payment_id bigint;
    posted_at timestamptz := now();
BEGIN
    IF request.status <> 'approved' THEN
        PERFORM donations.refuse('disbursement_not_approved', jsonb_build_object('id', request.id,
            'status', request.status));
    END IF;
    PERFORM donations.require_outflow(fund);
    approved_on := donations.shanghai_day(request.decided_at);
    IF p_paid_on > donations.shanghai_day(posted_at) THEN
        PERFORM donations.refuse('date_in_future', jsonb_build_object('field', 'paid_on'));
    END IF;
    IF p_paid_on < approved_on THEN
        PERFORM donations.refuse('paid_before_approval', jsonb_build_object('field', 'paid_on',
            'approved_on', approved_on));
    END IF;

    SELECT p.entry_id INTO payment_id FROM donations.post_entries(ARRAY[ROW(1, fund.id, 'disbursement', p_paid_on,
        request.id, p_actor->>'actor',
        donations.disbursement_document(request.id, request.amount_fen, request.payee, request.purpose,
            request.project, p_paid_on, p_bank_reference, request.requested_by, request.approved_by,
            request.category),
        -- From a restricted fund the release from restriction comes first.
        CASE WHEN fund.restricted THEN ARRAY['restricted', 'unrestricted', 'unrestricted', 'bank']
             ELSE ARRAY['unrestricted', 'bank'] END,
        CASE WHEN fund.restricted
             THEN ARRAY[request.amount_fen, -request.amount_fen, request.amount_fen, -request.amount_fen]
             ELSE ARRAY[request.amount_fen, -request.amount_fen] END,
        -request.amount_fen, NULL)::donations.entry_input], posted_at) p;

    UPDATE donations.disbursement SET status = 'paid', paid_on = p_paid_on, bank_reference = p_bank_reference,
        entry_id = payment_id
    WHERE id = request.id RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.pay', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'amount_fen', request.amount_fen, 'entry_id', payment_id,
                           'bank_reference', p_bank_reference, 'paid_on', p_paid_on), posted_at);
    RETURN request;
END $$;

CREATE OR REPLACE FUNCTION donations.reject_disbursement(p_id bigint, p_fund jsonb, p_reason text, p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    locked record := donations.lock_disbursement(p_id, p_fund);
    fund donations.fund_ledger := locked.fund;
    request donations.disbursement := locked.request;
BEGIN
    IF request.status NOT IN ('requested', 'approved') THEN
        PERFORM donations.refuse('disbursement_not_rejectable', jsonb_build_object('id', request.id,
            'status', request.status));
    END IF;
    IF request.status = 'approved' THEN  -- the reservation is released
        UPDATE donations.fund_ledger SET reserved_fen = reserved_fen - request.amount_fen, updated_at = now()
        WHERE id = fund.id;
    END IF;
    UPDATE donations.disbursement SET status = 'rejected', rejected_by = p_actor->>'actor', reject_reason = p_reason,
        decided_at = now()
    WHERE id = request.id RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.reject', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'reason', p_reason), now());
    RETURN request;
END $$;

REVOKE EXECUTE ON FUNCTION donations.request_disbursement(jsonb, bigint, text, text, text, text, jsonb) FROM PUBLIC;
