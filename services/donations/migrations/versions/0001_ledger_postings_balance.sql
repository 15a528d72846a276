-- Installed by 0001_ledger.py, and again by 0002's downgrade, which replaces it.
--
-- Debits equal credits: the postings each statement adds to an entry sum to
-- zero. As postings can be neither changed nor deleted, every entry balances.
-- (A statement-level check over the transition table costs one aggregate per
-- statement, also for a COPY of a million rows.)
CREATE OR REPLACE FUNCTION donations.check_postings_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced bigint;
BEGIN
    SELECT entry_id INTO unbalanced FROM new_postings
        GROUP BY entry_id HAVING sum(amount_fen) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance: its postings do not sum to zero', unbalanced
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balance';
    END IF;
    RETURN NULL;
END $$;
