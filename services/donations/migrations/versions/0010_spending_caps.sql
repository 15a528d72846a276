-- Spending caps (installed by 0010_spending_caps.py): what the programmes
-- service lets a fund pay for a project's budget line, for a project so far,
-- and for an organisation's pledge to a village's need (the keys and the
-- protocol: shared/contracts/caps.py).
--
-- A disbursement naming project_code and budget_line is held by two caps,
-- `project:<code>` and `project:<code>:line:<line>`; one naming need_id, by
-- `need:<id>:org:<its organisation>`. Its request refuses at once when they
-- are unknown, of another fund, or too small; its approval locks them after
-- the fund's ledger row (as everywhere, 0002: the fund's row first, then the
-- disbursement, then its caps in cap_key order) and reserves the amount on
-- each, so that approvals racing at one line are counted one after the
-- other; its payment moves the amount from reserved to paid; its rejection
-- after approval releases it. The table's CHECK holds reserved + paid <=
-- limit whoever writes.

-- The caps a disbursement names (none when it names neither a project nor a need).
CREATE FUNCTION donations.cap_keys(request donations.disbursement) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN request.project_code IS NOT NULL THEN ARRAY['project:' || request.project_code,
        'project:' || request.project_code || ':line:' || request.budget_line]
    WHEN request.need_id IS NOT NULL THEN ARRAY['need:' || request.need_id || ':org:' || request.organization_id]
    ELSE ARRAY[]::text[]
END;

-- The disbursement's caps in cap_key order, locked FOR UPDATE when p_lock; refused when one is unknown.
CREATE FUNCTION donations.lock_caps(request donations.disbursement, p_lock boolean)
RETURNS donations.spending_cap[]
LANGUAGE plpgsql AS $$
DECLARE
    keys text[] := donations.cap_keys(request);
    caps donations.spending_cap[] := ARRAY[]::donations.spending_cap[];
    cap donations.spending_cap;
BEGIN
    IF cardinality(keys) = 0 THEN
        RETURN caps;
    END IF;
    IF p_lock THEN
        FOR cap IN SELECT * FROM donations.spending_cap c WHERE c.cap_key = ANY(keys) ORDER BY c.cap_key
                   FOR UPDATE LOOP
            caps := caps || cap;
        END LOOP;
    ELSE
        FOR cap IN SELECT * FROM donations.spending_cap c WHERE c.cap_key = ANY(keys) ORDER BY c.cap_key LOOP
            caps := caps || cap;
        END LOOP;
    END IF;
    IF cardinality(caps) < cardinality(keys) THEN
        IF request.need_id IS NOT NULL THEN
            PERFORM donations.refuse('need_not_pledged', jsonb_build_object('need_id', request.need_id,
                'organization_id', request.organization_id));
        END IF;
        PERFORM donations.refuse('budget_line_unknown', jsonb_build_object('project_code', request.project_code,
            'budget_line', request.budget_line));
    END IF;
    RETURN caps;
END $$;

-- Refused when the disbursement's amount is beyond what the cap has left.
CREATE FUNCTION donations.check_cap(cap donations.spending_cap, request donations.disbursement) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    remaining bigint := cap.limit_fen - cap.reserved_fen - cap.paid_fen;
BEGIN
    IF request.amount_fen <= remaining THEN
        RETURN;
    END IF;
    IF cap.kind = 'project_line' THEN
        PERFORM donations.refuse('budget_line_exceeded', jsonb_build_object('project_code', request.project_code,
            'budget_line', request.budget_line, 'remaining_fen', remaining, 'amount_fen', request.amount_fen));
    ELSIF cap.kind = 'project' THEN
        PERFORM donations.refuse('project_payable_exceeded', jsonb_build_object('project_code', request.project_code,
            'remaining_fen', remaining, 'amount_fen', request.amount_fen));
    ELSE
        PERFORM donations.refuse('need_pledge_exceeded', jsonb_build_object('need_id', request.need_id,
            'remaining_fen', remaining, 'amount_fen', request.amount_fen));
    END IF;
END $$;

-- What a payment's document adds for a project or a need: nothing when it names neither (as
-- every payment before them), so no hash already written changes (chain.py's caps_document).
CREATE FUNCTION donations.caps_document(project_code text, budget_line text, need_id integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN project_code IS NULL THEN ''
            ELSE donations.field('project:' || project_code) || donations.field(budget_line) END
    || CASE WHEN need_id IS NULL THEN '' ELSE donations.field('need:' || need_id::text) END;

-- Set a cap as the programmes service numbered the change (p_version, from one sequence): an
-- older or equal version changes nothing and answers the cap as it is. A limit below what is
-- approved or paid is refused (cap_below_committed), or with p_clamp becomes exactly that.
CREATE FUNCTION donations.set_cap(p_cap_key text, p_kind text, p_fund_code text, p_organization_id integer,
                                  p_limit_fen bigint, p_version bigint, p_clamp boolean, p_label text,
                                  p_actor jsonb)
RETURNS donations.spending_cap
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    cap donations.spending_cap;
    committed bigint;
    new_limit bigint := p_limit_fen;
    previous_limit bigint;
BEGIN
    INSERT INTO donations.spending_cap (cap_key, kind, fund_code, organization_id, limit_fen, reserved_fen,
        paid_fen, version, label, updated_at)
    VALUES (p_cap_key, p_kind, p_fund_code, p_organization_id, 0, 0, 0, 0, coalesce(p_label, ''), now())
    ON CONFLICT (cap_key) DO NOTHING;
    SELECT * INTO cap FROM donations.spending_cap c WHERE c.cap_key = p_cap_key FOR UPDATE;
    IF p_version <= cap.version THEN
        RETURN cap;  -- already known: a retry, or overtaken by a later change
    END IF;
    committed := cap.reserved_fen + cap.paid_fen;
    IF new_limit < committed THEN
        IF NOT p_clamp THEN
            PERFORM donations.refuse('cap_below_committed', jsonb_build_object('cap_key', cap.cap_key,
                'limit_fen', p_limit_fen, 'committed_fen', committed));
        END IF;
        new_limit := committed;
    END IF;
    previous_limit := CASE WHEN cap.version = 0 THEN NULL ELSE cap.limit_fen END;
    UPDATE donations.spending_cap SET kind = p_kind, fund_code = p_fund_code, organization_id = p_organization_id,
        limit_fen = new_limit, version = p_version, label = coalesce(p_label, ''), updated_at = now()
    WHERE cap_key = cap.cap_key RETURNING * INTO cap;
    PERFORM donations.audit(p_actor, 'cap.set', 'cap:' || left(cap.cap_key, 124),
        jsonb_build_object('cap_key', cap.cap_key, 'kind', p_kind, 'fund_code', p_fund_code,
                           'organization_id', p_organization_id, 'limit_fen', new_limit,
                           'asked_limit_fen', p_limit_fen, 'previous_limit_fen', previous_limit,
                           'version', p_version, 'clamped', new_limit <> p_limit_fen), now());
    RETURN cap;
END $$;

-- As in 0005, and it names a project's budget line or a need, whose caps must exist, be of
-- this fund (a project's) and have the amount left: a friendly refusal at once (the approval
-- checks again, under the caps' locks).
CREATE FUNCTION donations.request_disbursement(p_fund jsonb, p_amount_fen bigint, p_payee text,
                                               p_purpose text, p_project text, p_category text,
                                               p_project_code text, p_budget_line text, p_need_id integer,
                                               p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    rule text := coalesce(p_fund->>'approval_rule', 'other_actor');
    activity donations.key_activity;
    fund donations.fund_ledger;
    request donations.disbursement;
    cap donations.spending_cap;
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
        category, status, requested_by, requested_by_name, created_at, project_code, budget_line, need_id)
    VALUES (fund.id, fund.code, fund.organization_id, p_amount_fen, p_payee, p_purpose, p_project, p_category,
        'requested', p_actor->>'actor', p_actor->>'name', now(), p_project_code, p_budget_line, p_need_id)
    RETURNING * INTO request;
    FOREACH cap IN ARRAY donations.lock_caps(request, false) LOOP
        IF cap.kind <> 'need' AND cap.fund_code IS DISTINCT FROM fund.code THEN
            PERFORM donations.refuse('project_fund_mismatch', jsonb_build_object('project_code', request.project_code,
                'fund_code', fund.code, 'project_fund_code', cap.fund_code));
        END IF;
        PERFORM donations.check_cap(cap, request);
    END LOOP;
    PERFORM donations.audit(p_actor, 'disbursement.request', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'amount_fen', p_amount_fen, 'payee', p_payee,
                           'category', p_category, 'project_code', p_project_code, 'budget_line', p_budget_line,
                           'need_id', p_need_id), now());
    RETURN request;
END $$;

-- As in 0005, and the disbursement's caps, locked after the fund and the disbursement, must have
-- its amount left; it is reserved on each.
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
    caps donations.spending_cap[];
    cap donations.spending_cap;
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
    caps := donations.lock_caps(request, true);
    FOREACH cap IN ARRAY caps LOOP
        PERFORM donations.check_cap(cap, request);
    END LOOP;
    UPDATE donations.spending_cap SET reserved_fen = reserved_fen + request.amount_fen, updated_at = now()
    WHERE cap_key = ANY(donations.cap_keys(request));
    UPDATE donations.fund_ledger SET reserved_fen = reserved_fen + request.amount_fen, updated_at = now()
    WHERE id = fund.id;
    UPDATE donations.disbursement SET status = 'approved', approved_by = p_actor->>'actor',
        approved_by_name = p_actor->>'name', decided_at = now()
    WHERE id = request.id RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.approve', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'amount_fen', request.amount_fen), now());
    RETURN request;
END $$;

-- As in 0003, and the amount moves from reserved to paid on the disbursement's caps (each must
-- still hold it reserved: belt and braces); the document adds the project or the need when named.
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
    cap donations.spending_cap;
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
    FOREACH cap IN ARRAY donations.lock_caps(request, true) LOOP
        IF cap.reserved_fen < request.amount_fen THEN
            -- Less is reserved than its approval reserved (the cap was written around these
            -- functions): what is reserved is all it may take.
            PERFORM donations.check_cap(ROW(cap.cap_key, cap.kind, cap.fund_code, cap.organization_id,
                cap.reserved_fen, 0, 0, cap.version, cap.label, cap.updated_at)::donations.spending_cap, request);
        END IF;
    END LOOP;
    UPDATE donations.spending_cap SET reserved_fen = reserved_fen - request.amount_fen,
        paid_fen = paid_fen + request.amount_fen, updated_at = now()
    WHERE cap_key = ANY(donations.cap_keys(request));
    SELECT p.entry_id INTO payment_id FROM donations.post_entries(ARRAY[ROW(1, fund.id, 'disbursement', p_paid_on,
        request.id, p_actor->>'actor',
        donations.disbursement_document(request.id, request.amount_fen, request.payee, request.purpose,
            request.project, p_paid_on, p_bank_reference, request.requested_by, request.approved_by,
            request.category)
            || donations.caps_document(request.project_code, request.budget_line, request.need_id),
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

-- As in 0002, and an approved one's reservation is released on its caps too.
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
        PERFORM donations.lock_caps(request, true);
        UPDATE donations.spending_cap SET reserved_fen = reserved_fen - request.amount_fen, updated_at = now()
        WHERE cap_key = ANY(donations.cap_keys(request));
    END IF;
    UPDATE donations.disbursement SET status = 'rejected', rejected_by = p_actor->>'actor', reject_reason = p_reason,
        decided_at = now()
    WHERE id = request.id RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.reject', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'reason', p_reason), now());
    RETURN request;
END $$;

-- The functions run as their owner; the services' roles get EXECUTE on the entry points in
-- privileges.sql, nothing else.
REVOKE EXECUTE ON FUNCTION donations.cap_keys(donations.disbursement),
    donations.lock_caps(donations.disbursement, boolean),
    donations.check_cap(donations.spending_cap, donations.disbursement),
    donations.caps_document(text, text, integer),
    donations.set_cap(text, text, text, integer, bigint, bigint, boolean, text, jsonb),
    donations.request_disbursement(jsonb, bigint, text, text, text, text, text, text, integer, jsonb) FROM PUBLIC;
