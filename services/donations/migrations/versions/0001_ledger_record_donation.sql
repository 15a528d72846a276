-- The hot path: one donation in one round trip. It follows services/donations/
-- ledger.py and chain.py exactly (same postings, same hashed text); the tests
-- verify chains written by both. The receipt counter, the one row every
-- donation takes, is taken last so that its lock is held briefly.
CREATE FUNCTION donations.record_donation(
    p_fund_code text, p_organization_id integer, p_restricted boolean, p_amount_fen bigint,
    p_donor_name text, p_donor_kind text, p_donor_anonymous boolean, p_received_on date,
    p_channel text, p_purpose text, p_reference text, p_actor text, p_actor_name text,
    p_request_id text
) RETURNS SETOF donations.donation LANGUAGE plpgsql AS $$
DECLARE
    fund donations.fund_ledger;
    posted_at timestamptz := now();
    receipt_year integer := extract(year FROM posted_at AT TIME ZONE 'Asia/Shanghai');
    receipt_seq integer;
    receipt_no text;
    asset text := CASE WHEN p_channel = 'in_kind' THEN 'in_kind' ELSE 'bank' END;
    net_assets text := CASE WHEN p_restricted THEN 'restricted' ELSE 'unrestricted' END;
    donation_id bigint := nextval('donations.donation_id_seq');
    entry_id bigint := nextval('donations.journal_entry_id_seq');
    document text;
    entry_hash text;
    donation donations.donation;
BEGIN
    SELECT * INTO fund FROM donations.fund_ledger WHERE code = p_fund_code FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO donations.fund_ledger (code, organization_id, restricted, closed, bank_fen, in_kind_fen,
            unrestricted_fen, restricted_fen, reserved_fen, entry_count, chain_head, updated_at)
        VALUES (p_fund_code, p_organization_id, p_restricted, false, 0, 0, 0, 0, 0, 0, repeat('0', 64), posted_at)
        ON CONFLICT (code) DO NOTHING;
        SELECT * INTO fund FROM donations.fund_ledger WHERE code = p_fund_code FOR UPDATE;
    END IF;
    IF fund.closed THEN
        RAISE EXCEPTION 'fund % is closed', p_fund_code USING ERRCODE = 'P0001', HINT = 'fund_closed';
    END IF;

    UPDATE donations.receipt_counter SET last_seq = last_seq + 1 WHERE year = receipt_year
        RETURNING last_seq INTO receipt_seq;
    IF NOT FOUND THEN
        INSERT INTO donations.receipt_counter AS c (year, last_seq) VALUES (receipt_year, 1)
            ON CONFLICT (year) DO UPDATE SET last_seq = c.last_seq + 1
            RETURNING last_seq INTO receipt_seq;
    END IF;
    receipt_no := receipt_year || '-' || lpad(receipt_seq::text, 6, '0');

    document := length(receipt_no) || ':' || receipt_no
        || length(p_amount_fen::text) || ':' || p_amount_fen
        || length(p_donor_name) || ':' || p_donor_name
        || length(p_donor_kind) || ':' || p_donor_kind
        || '1:' || CASE WHEN p_donor_anonymous THEN '1' ELSE '0' END
        || '10:' || to_char(p_received_on, 'YYYY-MM-DD')
        || length(p_channel) || ':' || p_channel
        || length(p_purpose) || ':' || p_purpose
        || length(coalesce(p_reference, '')) || ':' || coalesce(p_reference, '');
    entry_hash := donations.entry_hash(fund.chain_head, p_fund_code, fund.entry_count + 1, 'donation',
        p_received_on, posted_at, donation_id, p_actor, document,
        asset || '=' || p_amount_fen || ',' || net_assets || '=' || -p_amount_fen);

    INSERT INTO donations.journal_entry (id, fund_id, seq, kind, effective_on, posted_at, source_id, actor,
        prev_hash, hash)
    VALUES (entry_id, fund.id, fund.entry_count + 1, 'donation', p_received_on, posted_at, donation_id,
        p_actor, fund.chain_head, entry_hash);
    INSERT INTO donations.posting (entry_id, fund_id, account, amount_fen)
    VALUES (entry_id, fund.id, asset, p_amount_fen), (entry_id, fund.id, net_assets, -p_amount_fen);
    UPDATE donations.fund_ledger SET
        bank_fen = bank_fen + CASE WHEN asset = 'bank' THEN p_amount_fen ELSE 0 END,
        in_kind_fen = in_kind_fen + CASE WHEN asset = 'in_kind' THEN p_amount_fen ELSE 0 END,
        unrestricted_fen = unrestricted_fen + CASE WHEN p_restricted THEN 0 ELSE p_amount_fen END,
        restricted_fen = restricted_fen + CASE WHEN p_restricted THEN p_amount_fen ELSE 0 END,
        entry_count = entry_count + 1, chain_head = entry_hash, updated_at = posted_at
    WHERE id = fund.id;
    INSERT INTO donations.donation (id, fund_id, fund_code, organization_id, amount_fen, currency, donor_name,
        donor_kind, donor_anonymous, received_on, channel, purpose, reference, receipt_year, receipt_seq,
        status, entry_id, created_at, created_by)
    VALUES (donation_id, fund.id, p_fund_code, fund.organization_id, p_amount_fen, 'CNY', p_donor_name,
        p_donor_kind, p_donor_anonymous, p_received_on, p_channel, p_purpose, p_reference, receipt_year,
        receipt_seq, 'recorded', entry_id, posted_at, p_actor)
    RETURNING * INTO donation;
    INSERT INTO donations.audit_log (at, service, actor, actor_name, organization_id, action, subject,
        details, request_id)
    VALUES (posted_at, 'donations', p_actor, p_actor_name, p_organization_id, 'donation.record',
        'donation:' || donation_id,
        json_build_object('count', 1, 'receipts', json_build_array(receipt_no, receipt_no),
                          'amount_fen', p_amount_fen),
        p_request_id);
    RETURN NEXT donation;
END $$;

-- chain.entry_hash, in SQL.
CREATE FUNCTION donations.entry_hash(
    prev_hash text, fund_code text, seq integer, kind text, effective_on date, posted_at timestamptz,
    source_id bigint, actor text, document text, postings text
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        '2:v1'
        || length(prev_hash) || ':' || prev_hash
        || length(fund_code) || ':' || fund_code
        || length(seq::text) || ':' || seq
        || length(kind) || ':' || kind
        || '10:' || to_char(effective_on, 'YYYY-MM-DD')
        || length(((extract(epoch FROM posted_at) * 1000000)::bigint)::text) || ':'
        || ((extract(epoch FROM posted_at) * 1000000)::bigint)
        || length(source_id::text) || ':' || source_id
        || length(actor) || ':' || actor
        || length(document) || ':' || document
        || length(postings) || ':' || postings, 'UTF8')), 'hex')
$$;
