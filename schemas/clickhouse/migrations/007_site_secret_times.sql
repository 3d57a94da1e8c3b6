-- When each site secret was stored. Two first migrations racing may each store one; a
-- secret is used only once the newest row of its name has settled for a few seconds, so
-- that every process takes the same smallest one from the start. Rows stored before
-- this migration read 1970: long settled.

ALTER TABLE {db}.site_secrets ADD COLUMN created DateTime DEFAULT toDateTime(0);
