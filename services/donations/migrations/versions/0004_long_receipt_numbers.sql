-- A receipt number has at least six digits: lpad(text, 6) also CUTS a longer
-- number to six, so the millionth receipt of a year read "2026-100000" in the
-- hashed document while the donation and chain.py say "2026-1000000".
CREATE OR REPLACE FUNCTION donations.receipt_no(year integer, seq integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN year::text || '-' || CASE WHEN seq < 1000000 THEN lpad(seq::text, 6, '0') ELSE seq::text END;
