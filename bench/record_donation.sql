-- pgbench script for `make bench`: the transaction POST /donations/api/v1/donations
-- runs, called directly (bench/run.py passes the variables with -D).
SELECT * FROM donations.record_donation(:fund_code, :organization_id, :restricted, :amount_fen, :donor_name, :donor_kind, :donor_anonymous, :received_on, :channel, :purpose, NULL, :actor, :actor_name, :request_id);
