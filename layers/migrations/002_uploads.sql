-- Planner uploads shared by every API process: the record, its owner (SHA-256 of the owner's
-- token) and the upload's GeoPackage as bytes; each process keeps a private local copy to read.
CREATE TABLE gongfu.uploads (
    id       text PRIMARY KEY,
    owner    text NOT NULL,
    created  text NOT NULL,
    filename text NOT NULL,
    report   json NOT NULL,
    layers   json NOT NULL,          -- [Layer as JSON text, …]
    data     bytea NOT NULL          -- the upload's GeoPackage (layers/uploads.py writes it)
);
CREATE INDEX uploads_owner ON gongfu.uploads (owner, created);
-- Shared secrets, e.g. the key that signs upload tokens, so any replica recognises a token.
CREATE TABLE gongfu.secrets (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
