-- What 0007_goods.py's downgrade restores: record_donations as 0002_one_posting_path.sql made it,
-- without goods.

DROP FUNCTION donations.goods_document(text, numeric, text, bigint);

-- Donations
-- ---------------------------------------------------------------------------

-- Records donations; one result per row, in input order.
--
-- p_rows: [{"n", "request", "fund_code", "organization_id", "restricted", "status", "status_version",
--           "amount_fen", "donor_name", "donor_kind", "donor_anonymous", "received_on", "channel",
--           "purpose", "reference"}], validated by the caller (shared/shapes.py) and by the tables'
--           CHECK constraints; "request" is the 1-based place of its request in p_requests.
-- p_requests: [{"actor", "name", "organization_id", "request_id"}]: who sent each request (a batch is
--           one request; concurrent single donations are posted together, each its own request).
--
-- outcome: recorded, duplicate (the reference is recorded already for the fund's organisation, or
-- earlier in p_rows), fund_closed or fund_status_changing (a close is being committed).
CREATE OR REPLACE FUNCTION donations.record_donations(p_rows jsonb, p_requests jsonb)
RETURNS TABLE (n integer, outcome text, id bigint, receipt_year integer, receipt_seq integer,
               entry_id bigint, created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan SET work_mem = '64MB' AS $$
#variable_conflict use_column
DECLARE
    v_posted_at timestamptz := now();
    v_year integer := extract(year FROM v_posted_at AT TIME ZONE 'Asia/Shanghai');
    v_accepted integer;
    v_last integer;
    v_organization integer;
    v_fund jsonb;
BEGIN
    -- References are unique per organisation: one writer per organisation at a time checks them.
    FOR v_organization IN
        SELECT DISTINCT (r->>'organization_id')::integer FROM jsonb_array_elements(p_rows) r
        WHERE r->>'reference' IS NOT NULL ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(7301, v_organization);
    END LOOP;
    -- The funds, in code order; each takes the newest status its rows bring.
    FOR v_fund IN
        SELECT DISTINCT ON (r->>'fund_code') r FROM jsonb_array_elements(p_rows) r
        ORDER BY r->>'fund_code', (r->>'status_version')::bigint DESC
    LOOP
        PERFORM donations.lock_fund(jsonb_build_object('code', v_fund->'fund_code',
            'organization_id', v_fund->'organization_id', 'restricted', v_fund->'restricted',
            'status', v_fund->'status', 'status_version', v_fund->'status_version'));
    END LOOP;

    IF to_regclass('pg_temp.donation_input') IS NULL THEN
        CREATE TEMP TABLE donation_input (
            n integer, request integer, fund_id integer, fund_code text, organization_id integer,
            restricted boolean, amount_fen bigint, donor_name text, donor_kind text, donor_anonymous boolean,
            received_on date, channel text, purpose text, reference text, outcome text,
            receipt_seq integer, donation_id bigint, entry_id bigint
        ) ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM pg_temp.donation_input;

    INSERT INTO pg_temp.donation_input
    SELECT r.n, r.request, f.id, r.fund_code, f.organization_id, f.restricted, r.amount_fen, r.donor_name,
           r.donor_kind, r.donor_anonymous, r.received_on, r.channel, r.purpose, r.reference,
           CASE WHEN f.status = 'closed' THEN 'fund_closed'
                WHEN f.pending_status = 'closed' THEN 'fund_status_changing'
                ELSE 'recorded' END,
           NULL, NULL, NULL
    FROM jsonb_to_recordset(p_rows) AS r(n integer, request integer, fund_code text, amount_fen bigint,
         donor_name text, donor_kind text, donor_anonymous boolean, received_on date, channel text,
         purpose text, reference text)
    JOIN donations.fund_ledger f ON f.code = r.fund_code;

    -- A reference already recorded for the organisation, or earlier among these rows, is a duplicate.
    UPDATE pg_temp.donation_input i SET outcome = 'duplicate'
    FROM (SELECT x.n FROM (
              SELECT d.n, d.organization_id, d.reference,
                     row_number() OVER (PARTITION BY d.organization_id, d.reference ORDER BY d.n) AS nth
              FROM pg_temp.donation_input d WHERE d.outcome = 'recorded' AND d.reference IS NOT NULL) x
          WHERE x.nth > 1 OR EXISTS (SELECT FROM donations.donation o
                                     WHERE o.organization_id = x.organization_id AND o.reference = x.reference)
         ) dup
    WHERE i.n = dup.n;

    SELECT count(*) INTO v_accepted FROM pg_temp.donation_input i WHERE i.outcome = 'recorded';
    IF v_accepted > 0 THEN
        -- The one row every donation takes: last, so that it is held as briefly as can be.
        INSERT INTO donations.receipt_counter AS c (year, last_seq) VALUES (v_year, v_accepted)
        ON CONFLICT (year) DO UPDATE SET last_seq = c.last_seq + v_accepted
        RETURNING c.last_seq INTO v_last;

        UPDATE pg_temp.donation_input i SET receipt_seq = a.receipt_seq, donation_id = a.donation_id,
                                            entry_id = a.entry_id
        FROM (SELECT x.n, v_last - v_accepted + row_number() OVER (ORDER BY x.n) AS receipt_seq,
                     nextval('donations.donation_id_seq') AS donation_id,
                     nextval('donations.journal_entry_id_seq') AS entry_id
              FROM pg_temp.donation_input x WHERE x.outcome = 'recorded') a
        WHERE i.n = a.n;

        PERFORM donations.post_entries(ARRAY(
            SELECT ROW(i.n, i.fund_id, 'donation', i.received_on, i.donation_id, q->>'actor',
                       donations.donation_document(donations.receipt_no(v_year, i.receipt_seq), i.amount_fen,
                           i.donor_name, i.donor_kind, i.donor_anonymous, i.received_on, i.channel, i.purpose,
                           i.reference),
                       ARRAY[CASE WHEN i.channel = 'in_kind' THEN 'in_kind' ELSE 'bank' END,
                             CASE WHEN i.restricted THEN 'restricted' ELSE 'unrestricted' END],
                       ARRAY[i.amount_fen, -i.amount_fen], 0, i.entry_id)::donations.entry_input
            FROM pg_temp.donation_input i, jsonb_array_element(p_requests, i.request - 1) q
            WHERE i.outcome = 'recorded' ORDER BY i.n), v_posted_at);

        INSERT INTO donations.donation (id, fund_id, fund_code, organization_id, amount_fen, currency, donor_name,
            donor_kind, donor_anonymous, received_on, channel, purpose, reference, receipt_year, receipt_seq,
            status, entry_id, created_at, created_by)
        SELECT i.donation_id, i.fund_id, i.fund_code, i.organization_id, i.amount_fen, 'CNY', i.donor_name,
               i.donor_kind, i.donor_anonymous, i.received_on, i.channel, i.purpose, i.reference, v_year,
               i.receipt_seq, 'recorded', i.entry_id, v_posted_at, q->>'actor'
        FROM pg_temp.donation_input i, jsonb_array_element(p_requests, i.request - 1) q
        WHERE i.outcome = 'recorded' ORDER BY i.n;

        -- One line in the audit log per request: a donation, or a batch.
        INSERT INTO donations.audit_log (at, service, actor, actor_name, organization_id, action, subject,
                                         details, request_id)
        SELECT v_posted_at, 'donations', q->>'actor', q->>'name', (q->>'organization_id')::integer,
               CASE WHEN count(*) = 1 THEN 'donation.record' ELSE 'donation.record_batch' END,
               CASE WHEN count(*) = 1 THEN 'donation:' || min(i.donation_id)
                    ELSE 'donations:' || min(i.donation_id) || '-' || max(i.donation_id) END,
               json_build_object('count', count(*),
                                 'receipts', json_build_array(donations.receipt_no(v_year, min(i.receipt_seq)),
                                                              donations.receipt_no(v_year, max(i.receipt_seq))),
                                 'amount_fen', sum(i.amount_fen)),
               q->>'request_id'
        FROM pg_temp.donation_input i, jsonb_array_element(p_requests, i.request - 1) q
        WHERE i.outcome = 'recorded'
        GROUP BY i.request, q;
    END IF;

    RETURN QUERY SELECT i.n, i.outcome, i.donation_id, CASE WHEN i.receipt_seq IS NULL THEN NULL ELSE v_year END,
                        i.receipt_seq, i.entry_id, v_posted_at
                 FROM pg_temp.donation_input i ORDER BY i.n;
END $$;
