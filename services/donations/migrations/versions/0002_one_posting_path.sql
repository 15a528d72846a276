-- The ledger's one posting path (installed by 0002_one_posting_path.py).
--
-- Every movement of money is posted here, whoever asks: a donation or a
-- batch of them (record_donations), a reversal (reverse_donation), a
-- disbursement's request, approval (its reservation), payment and rejection
-- (request_/approve_/pay_/reject_disbursement). They check their rules under
-- the fund's lock, then write entries, postings, balances and the fund's
-- hash chain through one function, post_entries. The services' database
-- roles may call these functions but write none of the ledger's tables
-- themselves (see privileges.sql): the functions run as their owner.
--
-- A refusal is raised with SQLSTATE LR001, the refusal's code as the
-- constraint name and its parameters as JSON in the detail (see
-- shared/refusals.py for the codes and their messages).
--
-- Locks are taken in one order everywhere: organisations (advisory, for
-- references), funds' ledger rows by code, the disbursement or donation,
-- the year's receipt counter last.
--
-- The entry points run with plan_cache_mode = force_generic_plan: their
-- statements' plans do not depend on the arguments' values, and planning
-- them anew on every call (PostgreSQL's default for the first calls with
-- parameters, and whenever a custom plan looks cheaper) costs more than
-- running them.

-- ---------------------------------------------------------------------------
-- Refusals
-- ---------------------------------------------------------------------------

CREATE FUNCTION donations.refuse(p_code text, p_params jsonb DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'LR001', MESSAGE = p_code || ' ' || p_params::text,
        CONSTRAINT = p_code, DETAIL = p_params::text;
END $$;

-- ---------------------------------------------------------------------------
-- The hashed text of an entry, once (services/donations/chain.py verifies it)
--
--   hash(n) = sha256(field('v1') || field(hash(n - 1)) || content(n))
--
-- where field(x) = length(x) || ':' || x, so that no donor name or purpose
-- can make two different entries read alike.
-- ---------------------------------------------------------------------------

-- (Written with immutable operators only, here and below, so that the planner
-- inlines these functions: called one inside another, they would otherwise be
-- planned anew for every entry.)
CREATE FUNCTION donations.field(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN length(value)::text || ':' || value;

CREATE FUNCTION donations.day_text(day date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- YYYY-MM-DD whatever DateStyle says (to_char is merely stable).
RETURN lpad(extract(year FROM day)::int::text, 4, '0') || '-' || lpad(extract(month FROM day)::int::text, 2, '0')
    || '-' || lpad(extract(day FROM day)::int::text, 2, '0');

-- Postings as "account=fen", ordered by account then amount (as chain.py sorts them).
CREATE FUNCTION donations.postings_text(accounts text[], amounts bigint[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v_count integer := cardinality(accounts);
    v_account text;
    v_amount bigint;
    v_at integer;
    v_text text := '';
BEGIN
    -- An insertion sort: an entry has two to four postings.
    FOR i IN 2..v_count LOOP
        v_account := accounts[i];
        v_amount := amounts[i];
        v_at := i - 1;
        WHILE v_at >= 1 AND (accounts[v_at] COLLATE "C" > v_account COLLATE "C"
                             OR (accounts[v_at] = v_account AND amounts[v_at] > v_amount)) LOOP
            accounts[v_at + 1] := accounts[v_at];
            amounts[v_at + 1] := amounts[v_at];
            v_at := v_at - 1;
        END LOOP;
        accounts[v_at + 1] := v_account;
        amounts[v_at + 1] := v_amount;
    END LOOP;
    FOR i IN 1..v_count LOOP
        v_text := v_text || CASE WHEN i > 1 THEN ',' ELSE '' END || accounts[i] || '=' || amounts[i]::text;
    END LOOP;
    RETURN v_text;
END $$;

CREATE FUNCTION donations.entry_content(
    fund_code text, seq integer, kind text, effective_on date, posted_at timestamptz, source_id bigint,
    actor text, document text, postings text
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN donations.field(fund_code) || donations.field(seq::text) || donations.field(kind)
    || donations.field(donations.day_text(effective_on))
    || donations.field(((extract(epoch FROM posted_at) * 1000000)::bigint)::text)
    || donations.field(source_id::text) || donations.field(actor) || donations.field(document)
    || donations.field(postings);

CREATE FUNCTION donations.link(prev_hash text, content text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN encode(sha256(convert_to('2:v1' || donations.field(prev_hash) || content, 'UTF8')), 'hex');

-- The source documents as hashed.
CREATE FUNCTION donations.donation_document(
    receipt_no text, amount_fen bigint, donor_name text, donor_kind text, donor_anonymous boolean,
    received_on date, channel text, purpose text, reference text
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN donations.field(receipt_no) || donations.field(amount_fen::text) || donations.field(donor_name)
    || donations.field(donor_kind) || CASE WHEN donor_anonymous THEN '1:1' ELSE '1:0' END
    || donations.field(donations.day_text(received_on)) || donations.field(channel) || donations.field(purpose)
    || donations.field(coalesce(reference, ''));

CREATE FUNCTION donations.reversal_document(donation_id bigint, receipt_no text, reason text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN donations.field(donation_id::text) || donations.field(receipt_no) || donations.field(reason);

CREATE FUNCTION donations.disbursement_document(
    disbursement_id bigint, amount_fen bigint, payee text, purpose text, project text, paid_on date,
    bank_reference text, requested_by text, approved_by text
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN donations.field(disbursement_id::text) || donations.field(amount_fen::text) || donations.field(payee)
    || donations.field(purpose) || donations.field(coalesce(project, '')) || donations.field(donations.day_text(paid_on))
    || donations.field(bank_reference) || donations.field(requested_by) || donations.field(approved_by);

CREATE FUNCTION donations.receipt_no(year integer, seq integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN year::text || '-' || lpad(seq::text, 6, '0');

CREATE FUNCTION donations.shanghai_day(moment timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (moment AT TIME ZONE 'Asia/Shanghai')::date;

-- ---------------------------------------------------------------------------
-- Who asks, and the audit log
-- ---------------------------------------------------------------------------

-- p_actor: {"actor": "key:3", "name": "...", "organization_id": 1, "request_id": "..."}
CREATE FUNCTION donations.audit(p_actor jsonb, p_action text, p_subject text, p_details jsonb, p_at timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO donations.audit_log (at, service, actor, actor_name, organization_id, action, subject, details,
                                     request_id)
    VALUES (p_at, 'donations', p_actor->>'actor', p_actor->>'name', (p_actor->>'organization_id')::integer,
            p_action, p_subject, p_details::json, p_actor->>'request_id');
$$;

-- ---------------------------------------------------------------------------
-- Funds: the ledger's row, its lock, and its status
--
-- The funds service owns a fund's status; the ledger keeps its own copy,
-- versioned by the funds service, so that money stops the instant a freeze
-- or a close commits there. A change that restricts the fund (freeze,
-- close) is *prepared* here before the funds service commits it: from then
-- on the ledger acts as if it were done. The funds service's commit is then
-- *settled* here (after its commit, or whenever the ledger next hears the
-- fund's committed status and version, which every call carries).
-- ---------------------------------------------------------------------------

-- p_fund: the fund as the funds service describes it:
-- {"code", "organization_id", "restricted", "status", "status_version"}.
CREATE FUNCTION donations.lock_fund(p_fund jsonb) RETURNS donations.fund_ledger
LANGUAGE plpgsql AS $$
DECLARE
    fund donations.fund_ledger;
BEGIN
    SELECT * INTO fund FROM donations.fund_ledger WHERE code = p_fund->>'code' FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO donations.fund_ledger (code, organization_id, restricted, status, status_version, bank_fen,
            in_kind_fen, unrestricted_fen, restricted_fen, reserved_fen, entry_count, chain_head, updated_at)
        VALUES (p_fund->>'code', (p_fund->>'organization_id')::integer, (p_fund->>'restricted')::boolean,
            'active', 0, 0, 0, 0, 0, 0, 0, repeat('0', 64), now())
        ON CONFLICT (code) DO NOTHING;
        SELECT * INTO fund FROM donations.fund_ledger WHERE code = p_fund->>'code' FOR UPDATE;
    END IF;
    IF p_fund ? 'status_version' THEN
        fund := donations.settle_locked(fund, p_fund->>'status', (p_fund->>'status_version')::bigint, false);
    END IF;
    RETURN fund;
END $$;

-- Take the funds service's committed status (version p_version) on a locked row.
-- p_final: nothing is in flight there (the answer waited for it), so a pending
-- change with a higher version will never commit.
CREATE FUNCTION donations.settle_locked(fund donations.fund_ledger, p_status text, p_version bigint, p_final boolean)
RETURNS donations.fund_ledger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean := false;
BEGIN
    IF p_version > fund.status_version THEN
        fund.status := p_status;
        fund.status_version := p_version;
        changed := true;
    END IF;
    IF fund.pending_version IS NOT NULL AND (fund.pending_version <= p_version OR p_final) THEN
        fund.pending_status := NULL;
        fund.pending_version := NULL;
        fund.pending_since := NULL;
        changed := true;
    END IF;
    IF changed THEN
        UPDATE donations.fund_ledger SET status = fund.status, status_version = fund.status_version,
            pending_status = fund.pending_status, pending_version = fund.pending_version,
            pending_since = fund.pending_since
        WHERE id = fund.id;
    END IF;
    RETURN fund;
END $$;

CREATE FUNCTION donations.require_inflow(fund donations.fund_ledger) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF fund.status = 'closed' THEN
        PERFORM donations.refuse('fund_closed', jsonb_build_object('fund_code', fund.code));
    ELSIF fund.pending_status = 'closed' THEN
        PERFORM donations.refuse('fund_status_changing', jsonb_build_object('fund_code', fund.code));
    END IF;
END $$;

CREATE FUNCTION donations.require_outflow(fund donations.fund_ledger) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF fund.status IN ('closed', 'frozen') THEN
        PERFORM donations.refuse('fund_' || fund.status, jsonb_build_object('fund_code', fund.code));
    ELSIF fund.pending_status IS NOT NULL THEN
        PERFORM donations.refuse('fund_status_changing', jsonb_build_object('fund_code', fund.code));
    END IF;
END $$;

-- The funds service is about to commit status p_status as version p_version.
-- Restrictions apply here at once; a close needs a fund holding nothing.
CREATE FUNCTION donations.prepare_fund_status(p_fund jsonb, p_status text, p_version bigint)
RETURNS donations.fund_ledger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    fund donations.fund_ledger := donations.lock_fund(p_fund);
BEGIN
    IF p_version <= fund.status_version OR p_version <= coalesce(fund.pending_version, 0) THEN
        RETURN fund;  -- already known: a retry, or overtaken by a later change
    END IF;
    IF p_status = 'closed' AND (fund.bank_fen <> 0 OR fund.in_kind_fen <> 0 OR fund.reserved_fen <> 0) THEN
        PERFORM donations.refuse('fund_not_empty', jsonb_build_object('fund_code', fund.code,
            'balance_fen', fund.unrestricted_fen + fund.restricted_fen, 'reserved_fen', fund.reserved_fen));
    END IF;
    UPDATE donations.fund_ledger SET pending_status = p_status, pending_version = p_version, pending_since = now()
    WHERE id = fund.id RETURNING * INTO fund;
    RETURN fund;
END $$;

-- The funds service's committed status of a fund (p_final: see settle_locked).
CREATE FUNCTION donations.settle_fund_status(p_code text, p_status text, p_version bigint, p_final boolean)
RETURNS donations.fund_ledger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    fund donations.fund_ledger;
BEGIN
    SELECT * INTO fund FROM donations.fund_ledger WHERE code = p_code FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN donations.settle_locked(fund, p_status, p_version, p_final);
END $$;

-- ---------------------------------------------------------------------------
-- Posting: entries, postings, balances, days and chain heads move together
-- ---------------------------------------------------------------------------

-- An entry to post. accounts[i] takes amounts[i] (debits positive, credits
-- negative; they sum to zero). reserved_delta moves the fund's reservation
-- in the same update as the balances (a payment releases what it reserved).
CREATE TYPE donations.entry_input AS (
    ord integer,
    fund_id integer,
    kind text,
    effective_on date,
    source_id bigint,
    actor text,
    document text,
    accounts text[],
    amounts bigint[],
    reserved_delta bigint,
    entry_id bigint
);

-- Posts p_entries (whose funds the caller has locked) in `ord` order: each
-- entry takes the next seq of its fund and links to the previous hash.
-- No balance of a fund may go below zero on any day: today's by the fund
-- row's CHECK constraints, an earlier day's (a payment dated in the past)
-- by the running balance of fund_day.
CREATE FUNCTION donations.post_entries(p_entries donations.entry_input[], p_posted_at timestamptz)
RETURNS TABLE (entry_id bigint, fund_id integer, seq integer, prev_hash text, hash text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_ords integer[] := '{}';
    v_ids bigint[] := '{}';
    v_funds integer[] := '{}';
    v_seqs integer[] := '{}';
    v_prevs text[] := '{}';
    v_hashes text[] := '{}';
    v_fund_ids integer[];
    v_codes text[];
    v_heads text[];
    v_counts integer[];
    v_at integer;
    v_entry donations.entry_input;
    v_low record;
    v_today date := donations.shanghai_day(p_posted_at);
BEGIN
    -- The funds' chains as they stand (their rows are locked by the caller).
    SELECT array_agg(f.id), array_agg(f.code), array_agg(f.chain_head), array_agg(f.entry_count)
    INTO v_fund_ids, v_codes, v_heads, v_counts
    FROM donations.fund_ledger f WHERE f.id = ANY (SELECT DISTINCT e.fund_id FROM unnest(p_entries) e);

    -- Each entry takes its fund's next seq and links to the hash before it, in `ord` order.
    FOR v_entry IN SELECT * FROM unnest(p_entries) e ORDER BY e.ord LOOP
        v_at := array_position(v_fund_ids, v_entry.fund_id);
        v_counts[v_at] := v_counts[v_at] + 1;
        v_ords := v_ords || v_entry.ord;
        v_ids := v_ids || coalesce(v_entry.entry_id, nextval('donations.journal_entry_id_seq'));
        v_funds := v_funds || v_entry.fund_id;
        v_seqs := v_seqs || v_counts[v_at];
        v_prevs := v_prevs || v_heads[v_at];
        v_heads[v_at] := donations.link(v_heads[v_at], donations.entry_content(v_codes[v_at], v_counts[v_at],
            v_entry.kind, v_entry.effective_on, p_posted_at, v_entry.source_id, v_entry.actor, v_entry.document,
            donations.postings_text(v_entry.accounts, v_entry.amounts)));
        v_hashes := v_hashes || v_heads[v_at];
    END LOOP;

    WITH linked AS (
        SELECT x.*, e.kind, e.effective_on, e.source_id, e.actor, e.accounts, e.amounts
        FROM unnest(v_ords, v_ids, v_funds, v_seqs, v_prevs, v_hashes) AS x(ord, id, fund_id, seq, prev, hash)
        JOIN unnest(p_entries) e ON e.ord = x.ord
    ), entries AS (
        INSERT INTO donations.journal_entry (id, fund_id, seq, kind, effective_on, posted_at, source_id, actor,
                                            prev_hash, hash)
        SELECT l.id, l.fund_id, l.seq, l.kind, l.effective_on, p_posted_at, l.source_id, l.actor, l.prev, l.hash
        FROM linked l ORDER BY l.ord
    )
    INSERT INTO donations.posting (entry_id, line, fund_id, account, amount_fen)
    SELECT l.id, p.line, l.fund_id, p.account, p.amount
    FROM linked l, unnest(l.accounts, l.amounts) WITH ORDINALITY AS p(account, amount, line)
    ORDER BY l.ord, p.line;

    -- Balances are signed as balances: assets are debits, net assets credits.
    -- What each fund's accounts moved by on each day goes into fund_day, and summed
    -- by fund, into the fund's row, with its reservation and its chain's head.
    WITH days AS (
        SELECT e.fund_id, e.effective_on AS day,
               coalesce(sum(p.amount) FILTER (WHERE p.account = 'bank'), 0) AS bank_fen,
               coalesce(sum(p.amount) FILTER (WHERE p.account = 'in_kind'), 0) AS in_kind_fen,
               coalesce(-sum(p.amount) FILTER (WHERE p.account = 'unrestricted'), 0) AS unrestricted_fen,
               coalesce(-sum(p.amount) FILTER (WHERE p.account = 'restricted'), 0) AS restricted_fen
        FROM unnest(p_entries) e, unnest(e.accounts, e.amounts) AS p(account, amount)
        GROUP BY e.fund_id, e.effective_on
    ), recorded_days AS (
        INSERT INTO donations.fund_day AS d (fund_id, day, bank_fen, in_kind_fen, unrestricted_fen, restricted_fen)
        SELECT * FROM days
        ON CONFLICT (fund_id, day) DO UPDATE SET
            bank_fen = d.bank_fen + excluded.bank_fen,
            in_kind_fen = d.in_kind_fen + excluded.in_kind_fen,
            unrestricted_fen = d.unrestricted_fen + excluded.unrestricted_fen,
            restricted_fen = d.restricted_fen + excluded.restricted_fen
    ), by_fund AS (
        SELECT m.fund_id, sum(m.bank_fen) AS bank, sum(m.in_kind_fen) AS goods,
               sum(m.unrestricted_fen) AS unrestricted, sum(m.restricted_fen) AS restricted
        FROM days m GROUP BY m.fund_id
    ), reservations AS (
        SELECT e.fund_id, sum(coalesce(e.reserved_delta, 0)) AS reserved
        FROM unnest(p_entries) e GROUP BY e.fund_id
    ), heads AS (
        SELECT h.fund_id, h.seq, h.hash FROM unnest(v_fund_ids, v_counts, v_heads) AS h(fund_id, seq, hash)
    )
    UPDATE donations.fund_ledger f SET
        bank_fen = f.bank_fen + b.bank,
        in_kind_fen = f.in_kind_fen + b.goods,
        unrestricted_fen = f.unrestricted_fen + b.unrestricted,
        restricted_fen = f.restricted_fen + b.restricted,
        reserved_fen = f.reserved_fen + r.reserved,
        entry_count = h.seq,
        chain_head = h.hash,
        updated_at = p_posted_at
    FROM by_fund b JOIN reservations r ON r.fund_id = b.fund_id JOIN heads h ON h.fund_id = b.fund_id
    WHERE f.id = b.fund_id;

    -- An account lowered on a past day must stay at or above zero from that day on.
    FOR v_low IN
        SELECT e.fund_id, p.account, min(e.effective_on) AS since
        FROM unnest(p_entries) e, unnest(e.accounts, e.amounts) AS p(account, amount)
        WHERE e.effective_on < v_today
          AND CASE WHEN p.account IN ('bank', 'in_kind') THEN p.amount < 0 ELSE p.amount > 0 END
        GROUP BY e.fund_id, p.account
    LOOP
        PERFORM donations.require_history_not_negative(v_low.fund_id, v_low.account, v_low.since);
    END LOOP;

    RETURN QUERY SELECT * FROM unnest(v_ids, v_funds, v_seqs, v_prevs, v_hashes);
END $$;

-- The account's balance at the end of every day from p_since is >= 0.
CREATE FUNCTION donations.require_history_not_negative(p_fund_id integer, p_account text, p_since date)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_fund donations.fund_ledger;
    v_current bigint;
    v_lowest record;
BEGIN
    SELECT * INTO v_fund FROM donations.fund_ledger WHERE id = p_fund_id;
    v_current := CASE p_account WHEN 'bank' THEN v_fund.bank_fen WHEN 'in_kind' THEN v_fund.in_kind_fen
        WHEN 'unrestricted' THEN v_fund.unrestricted_fen ELSE v_fund.restricted_fen END;
    -- balance(day) = the current balance less what the days after it changed.
    SELECT s.day, s.balance INTO v_lowest FROM (
        SELECT d.day, v_current - coalesce(sum(CASE p_account WHEN 'bank' THEN d.bank_fen
                   WHEN 'in_kind' THEN d.in_kind_fen WHEN 'unrestricted' THEN d.unrestricted_fen
                   ELSE d.restricted_fen END)
               OVER (ORDER BY d.day DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS balance
        FROM donations.fund_day d WHERE d.fund_id = p_fund_id AND d.day >= p_since
    ) s WHERE s.balance < 0 ORDER BY s.day LIMIT 1;
    IF FOUND THEN
        PERFORM donations.refuse('balance_below_zero', jsonb_build_object('fund_code', v_fund.code,
            'account', p_account, 'date', v_lowest.day, 'balance_fen', v_lowest.balance));
    END IF;
END $$;

-- ---------------------------------------------------------------------------
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
CREATE FUNCTION donations.record_donations(p_rows jsonb, p_requests jsonb)
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

-- Reverses a donation with the mirror image of its entry, dated today; the
-- donation stays, marked reversed. Returns the reversing entry's id.
CREATE FUNCTION donations.reverse_donation(p_id bigint, p_fund jsonb, p_reason text, p_actor jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    fund donations.fund_ledger := donations.lock_fund(p_fund);
    gift donations.donation;
    available bigint;
    reversal_id bigint;
    posted_at timestamptz := now();
BEGIN
    SELECT * INTO gift FROM donations.donation WHERE id = p_id AND fund_id = fund.id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM donations.refuse('donation_not_found', jsonb_build_object('id', p_id));
    END IF;
    IF gift.status = 'reversed' THEN
        PERFORM donations.refuse('already_reversed',
            jsonb_build_object('receipt_no', donations.receipt_no(gift.receipt_year, gift.receipt_seq)));
    END IF;
    PERFORM donations.require_outflow(fund);
    -- What is not reserved, and no more than the donation's class (restricted or not) holds.
    available := least(fund.unrestricted_fen + fund.restricted_fen - fund.reserved_fen,
                       CASE WHEN fund.restricted THEN fund.restricted_fen ELSE fund.unrestricted_fen END);
    IF gift.amount_fen > available THEN
        PERFORM donations.refuse('reversal_exceeds_available', jsonb_build_object('fund_code', fund.code,
            'amount_fen', gift.amount_fen, 'available_fen', available));
    END IF;
    -- The money goes back out of the asset it came into: goods cannot be
    -- returned twice, and the bank must still cover approved payments.
    IF gift.channel = 'in_kind' AND gift.amount_fen > fund.in_kind_fen THEN
        PERFORM donations.refuse('reversal_exceeds_goods', jsonb_build_object('fund_code', fund.code,
            'amount_fen', gift.amount_fen, 'goods_fen', fund.in_kind_fen));
    END IF;
    IF gift.channel <> 'in_kind' AND gift.amount_fen > fund.bank_fen - fund.reserved_fen THEN
        PERFORM donations.refuse('reversal_exceeds_cash', jsonb_build_object('fund_code', fund.code,
            'amount_fen', gift.amount_fen, 'cash_fen', fund.bank_fen - fund.reserved_fen));
    END IF;

    SELECT p.entry_id INTO reversal_id FROM donations.post_entries(ARRAY[ROW(1, fund.id, 'reversal',
        donations.shanghai_day(posted_at), gift.id, p_actor->>'actor',
        donations.reversal_document(gift.id, donations.receipt_no(gift.receipt_year, gift.receipt_seq), p_reason),
        (SELECT array_agg(o.account ORDER BY o.line) FROM donations.posting o WHERE o.entry_id = gift.entry_id),
        (SELECT array_agg(-o.amount_fen ORDER BY o.line) FROM donations.posting o WHERE o.entry_id = gift.entry_id),
        0, NULL)::donations.entry_input], posted_at) p;

    UPDATE donations.donation SET status = 'reversed', reversal_entry_id = reversal_id, reversal_reason = p_reason,
                                  reversed_at = posted_at
    WHERE id = gift.id;
    PERFORM donations.audit(p_actor, 'donation.reverse', 'donation:' || gift.id,
        jsonb_build_object('receipt_no', donations.receipt_no(gift.receipt_year, gift.receipt_seq),
                           'amount_fen', gift.amount_fen, 'reason', p_reason, 'entry_id', reversal_id), posted_at);
    RETURN reversal_id;
END $$;

-- ---------------------------------------------------------------------------
-- Disbursements: requested -> approved (reserved) -> paid, or rejected
-- ---------------------------------------------------------------------------

CREATE FUNCTION donations.request_disbursement(p_fund jsonb, p_amount_fen bigint, p_payee text, p_purpose text,
                                               p_project text, p_actor jsonb)
RETURNS donations.disbursement
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    fund donations.fund_ledger := donations.lock_fund(p_fund);
    request donations.disbursement;
BEGIN
    PERFORM donations.require_inflow(fund);  -- a frozen fund may be asked; it pays once unfrozen
    INSERT INTO donations.disbursement (fund_id, fund_code, organization_id, amount_fen, payee, purpose, project,
        status, requested_by, requested_by_name, created_at)
    VALUES (fund.id, fund.code, fund.organization_id, p_amount_fen, p_payee, p_purpose, p_project, 'requested',
        p_actor->>'actor', p_actor->>'name', now())
    RETURNING * INTO request;
    PERFORM donations.audit(p_actor, 'disbursement.request', 'disbursement:' || request.id,
        jsonb_build_object('fund_code', fund.code, 'amount_fen', p_amount_fen, 'payee', p_payee), now());
    RETURN request;
END $$;

-- The disbursement, locked after its fund (the fund's row is locked first everywhere).
CREATE FUNCTION donations.lock_disbursement(p_id bigint, p_fund jsonb, OUT fund donations.fund_ledger,
                                            OUT request donations.disbursement)
LANGUAGE plpgsql AS $$
BEGIN
    fund := donations.lock_fund(p_fund);
    SELECT * INTO request FROM donations.disbursement d WHERE d.id = p_id AND d.fund_id = fund.id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM donations.refuse('disbursement_not_found', jsonb_build_object('id', p_id));
    END IF;
END $$;

CREATE FUNCTION donations.approve_disbursement(p_id bigint, p_fund jsonb, p_actor jsonb)
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

CREATE FUNCTION donations.pay_disbursement(p_id bigint, p_fund jsonb, p_paid_on date, p_bank_reference text,
                                           p_actor jsonb)
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
            request.project, p_paid_on, p_bank_reference, request.requested_by, request.approved_by),
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

CREATE FUNCTION donations.reject_disbursement(p_id bigint, p_fund jsonb, p_reason text, p_actor jsonb)
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

-- ---------------------------------------------------------------------------
-- What the tables hold, whoever writes: the last guard
-- ---------------------------------------------------------------------------

-- Every entry has postings that balance, and they are the entry's fund's
-- (checked per statement over the inserted rows, which stays cheap for a
-- batch of ten thousand; row-level foreign keys here cost more than the
-- posting itself).
CREATE FUNCTION donations.check_new_entries() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    -- By index, row by row (a LATERAL ... LIMIT 1 here and below): the planner knows
    -- nothing of a transition table, and a join or a hashed subplan would read the
    -- whole table for every statement.
    SELECT e.id INTO bad FROM new_entries e
        LEFT JOIN donations.fund_ledger f ON f.id = e.fund_id
        CROSS JOIN LATERAL (SELECT count(*) AS lines, coalesce(sum(p.amount_fen), 0) AS total,
                                   coalesce(bool_or(p.fund_id <> e.fund_id), false) AS foreign_lines
                            FROM donations.posting p WHERE p.entry_id = e.id) p
    WHERE f.id IS NULL OR p.lines < 2 OR p.total <> 0 OR p.foreign_lines
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % has no fund, or postings that do not balance', bad.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entries_balance';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER entries_balance AFTER INSERT ON donations.journal_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION donations.check_new_entries();

-- Postings added later to an existing entry must balance among themselves.
CREATE OR REPLACE FUNCTION donations.check_postings_balance() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unbalanced bigint;
BEGIN
    SELECT p.entry_id INTO unbalanced
    FROM (SELECT n.entry_id, sum(n.amount_fen) AS total FROM new_postings n GROUP BY n.entry_id) p
    LEFT JOIN LATERAL (SELECT true AS found FROM donations.journal_entry e WHERE e.id = p.entry_id LIMIT 1) e ON true
    WHERE p.total <> 0 OR e.found IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance, or does not exist', unbalanced
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balance';
    END IF;
    RETURN NULL;
END $$;

-- A donation is born recorded, with its own donation entry in its fund.
CREATE FUNCTION donations.check_new_donations() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT d.id INTO bad FROM new_donations d
    LEFT JOIN LATERAL (SELECT true AS found FROM donations.journal_entry e
                       WHERE e.id = d.entry_id AND e.kind = 'donation' AND e.source_id = d.id
                         AND e.fund_id = d.fund_id LIMIT 1) e ON true
    WHERE d.status <> 'recorded' OR e.found IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'donation % does not match its journal entry', bad.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'donation_entry';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER donation_entry AFTER INSERT ON donations.donation
    REFERENCING NEW TABLE AS new_donations FOR EACH STATEMENT EXECUTE FUNCTION donations.check_new_donations();

-- A disbursement is born requested, and then moves only forward:
-- requested -> approved -> paid, requested or approved -> rejected; what a
-- step records is written once, and nothing else changes.
CREATE FUNCTION donations.guard_disbursement() RETURNS trigger
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
CREATE TRIGGER disbursement_transition BEFORE INSERT OR UPDATE ON donations.disbursement
    FOR EACH ROW EXECUTE FUNCTION donations.guard_disbursement();

CREATE TRIGGER fund_day_no_delete BEFORE DELETE ON donations.fund_day
    FOR EACH ROW EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER fund_day_no_truncate BEFORE TRUNCATE ON donations.fund_day
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER fund_ledger_no_truncate BEFORE TRUNCATE ON donations.fund_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER donation_no_truncate BEFORE TRUNCATE ON donations.donation
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();
CREATE TRIGGER disbursement_no_truncate BEFORE TRUNCATE ON donations.disbursement
    FOR EACH STATEMENT EXECUTE FUNCTION donations.forbid_change();

-- The functions run as their owner; the services' roles get EXECUTE on the
-- entry points in privileges.sql, nothing else.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA donations FROM PUBLIC;
