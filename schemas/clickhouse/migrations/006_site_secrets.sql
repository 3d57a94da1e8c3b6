-- Secrets the site generates for itself on first migration (Migrate inserts them), such as
-- the key behind public badge URLs. A name holds one secret; should two first migrations
-- race and insert two, readers take the smallest, so every process agrees.

CREATE TABLE IF NOT EXISTS {db}.site_secrets (
    name String,
    secret String
) ENGINE = MergeTree
ORDER BY (name, secret);
