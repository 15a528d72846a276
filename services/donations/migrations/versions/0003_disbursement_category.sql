-- A disbursement's category (installed by 0003_disbursement_category.py).
--
-- What the money goes to, as the Charity Law's annual ratios count it:
-- 'programme' (charitable activities, the default), 'management' or
-- 'fundraising'. It is chosen when the disbursement is requested and never
-- changes afterwards (guard_disbursement lets only a step's own columns
-- change), and a payment's entry hashes it, so that spending moved from one
-- category to another shows as a broken chain.

-- The payment's document as hashed (chain.py's disbursement_document writes the
-- same). Every disbursement paid before the category existed spent on charitable
-- activities, and each now holds the default, 'programme': a document of that
-- category is the text it always was, so no hash already written changes. Any
-- other category adds one field, so a category changed either way after the
-- payment no longer matches its hash.
CREATE FUNCTION donations.disbursement_document(
    disbursement_id bigint, amount_fen bigint, payee text, purpose text, project text, paid_on date,
    bank_reference text, requested_by text, approved_by text, category text
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN donations.field(disbursement_id::text) || donations.field(amount_fen::text) || donations.field(payee)
    || donations.field(purpose) || donations.field(coalesce(project, '')) || donations.field(donations.day_text(paid_on))
    || donations.field(bank_reference) || donations.field(requested_by) || donations.field(approved_by)
    || CASE WHEN category = 'programme' THEN '' ELSE donations.field(category) END;

CREATE FUNCTION donations.request_disbursement(p_fund jsonb, p_amount_fen bigint, p_payee text, p_purpose text,
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

-- As in 0002, but for the document, which now hashes the category.
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

-- The functions run as their owner; the services' roles get EXECUTE on the
-- entry points in privileges.sql, nothing else.
REVOKE EXECUTE ON FUNCTION donations.disbursement_document(bigint, bigint, text, text, text, date, text, text, text,
                                                            text),
    donations.request_disbursement(jsonb, bigint, text, text, text, text, jsonb) FROM PUBLIC;
