-- pgbench script for `make bench`: the ledger's function that POST /donations/api/v1/donations
-- calls, with the same arguments, one donation per transaction (bench/run.py passes the
-- variables with -D).
SELECT * FROM donations.record_donations(
    jsonb_build_array(jsonb_build_object(
        'n', 1, 'request', 1, 'fund_code', :fund_code::text, 'organization_id', :organization_id::integer,
        'restricted', :restricted::boolean, 'status', 'active', 'status_version', 0,
        'amount_fen', :amount_fen::bigint, 'donor_name', :donor_name::text, 'donor_kind', :donor_kind::text,
        'donor_anonymous', :donor_anonymous::boolean, 'received_on', :received_on::text,
        'channel', :channel::text, 'purpose', :purpose::text, 'reference', NULL)),
    jsonb_build_array(jsonb_build_object(
        'actor', :actor::text, 'name', :actor_name::text, 'organization_id', :organization_id::integer,
        'request_id', :request_id::text)));
