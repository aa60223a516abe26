-- Layers: metadata (the Layer as JSON, text order kept) and a version token per layer.
-- Features live in one table per layer in schema gongfu_features (see layers/postgis_store.py).
-- Indicators are layers too (facts and catalog, geometry "None"), so they live here as well.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS gongfu_features;
CREATE TABLE gongfu.layers (
    id         text PRIMARY KEY,
    position   integer NOT NULL,
    meta       json NOT NULL,           -- json, not jsonb: Layer.fields keeps its key order
    version    text NOT NULL,           -- changes with every put(); tile caches key on it
    table_name text NOT NULL,           -- gongfu_features.<table_name>
    updated_at timestamptz NOT NULL DEFAULT now()
);
