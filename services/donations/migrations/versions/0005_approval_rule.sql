-- An organisation's approval rule in the ledger (installed by 0005_approval_rule.py).
--
-- The rule is written once, in shared/contracts/funds.py. The fund's
-- description each call brings (p_fund) carries its organisation's rule,
-- `approval_rule`, as the funds service last told this service; without one
-- the rule is the default, `other_actor`: anyone but the requester.
--
-- A key's request or approval first takes the key's row of key_activity
-- (an upsert: the row is locked until the transaction ends), then, as
-- everywhere (0002), the fund's ledger row and the disbursement. So a
-- request and an approval by one key at the same moment run one after the
-- other, the second seeing the first (an upsert that waited reads the row
-- as the first committed it), and a refused act writes nothing.

-- Records that a key requests ('request') or approves ('approve'), and returns
-- the key's row: when it first requested and first approved, this act included.
CREATE FUNCTION donations.note_key_act(p_actor jsonb, p_act text) RETURNS donations.key_activity
LANGUAGE plpgsql AS $$
DECLARE
    activity donations.key_activity;
BEGIN
    INSERT INTO donations.key_activity AS k (actor, first_requested_at, first_approved_at)
    VALUES (p_actor->>'actor', CASE WHEN p_act = 'request' THEN now() END,
            CASE WHEN p_act = 'approve' THEN now() END)
    ON CONFLICT (actor) DO UPDATE
        SET first_requested_at = coalesce(k.first_requested_at, excluded.first_requested_at),
            first_approved_at = coalesce(k.first_approved_at, excluded.first_approved_at)
    RETURNING * INTO activity;
    RETURN activity;
END $$;

CREATE OR REPLACE FUNCTION donations.request_disbursement(p_fund jsonb, p_amount_fen bigint, p_payee text,
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

REVOKE EXECUTE ON FUNCTION donations.note_key_act(jsonb, text) FROM PUBLIC;
