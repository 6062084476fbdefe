-- Integrations: one agency's link to one CRM. The guard's reference counts
-- live here.
CREATE TABLE integrations (
    id INTEGER PRIMARY KEY,
    crm TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    organization TEXT,
    created_at TEXT NOT NULL,
    last_good_run_id INTEGER,
    last_seen_count INTEGER,
    UNIQUE (crm, agency_code)
);

-- One import of one integration, with its counts.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    integration_id INTEGER NOT NULL REFERENCES integrations (id),
    source TEXT NOT NULL,
    -- import (a person or script ran passerelle import) or sync
    trigger TEXT NOT NULL DEFAULT 'import',
    started_at TEXT NOT NULL,
    finished_at TEXT,
    -- running, succeeded, partial, guard_tripped, failed, interrupted
    status TEXT NOT NULL,
    seen INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    kept INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    guard_reason TEXT,
    error TEXT
);
CREATE INDEX runs_by_integration ON runs (integration_id, id);

-- Rejected records and field warnings of a run, with their locators.
CREATE TABLE run_errors (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    severity TEXT NOT NULL,
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    source_id TEXT,
    column_rank INTEGER,
    column_name TEXT,
    value TEXT,
    message TEXT NOT NULL
);
CREATE INDEX run_errors_by_run ON run_errors (run_id);

-- Listings, unique per integration and source id. `data` is the normalized
-- listing as JSON; `raw` the CRM's record without personal data.
CREATE TABLE listings (
    id INTEGER PRIMARY KEY,
    integration_id INTEGER NOT NULL REFERENCES integrations (id),
    source_id TEXT NOT NULL,
    reference TEXT,
    transaction_kind TEXT NOT NULL,
    property_kind TEXT NOT NULL,
    price REAL,
    postal_code TEXT,
    city TEXT,
    title TEXT,
    content_hash BLOB NOT NULL,
    data TEXT NOT NULL,
    raw TEXT,
    first_seen_at TEXT NOT NULL,
    last_changed_at TEXT NOT NULL,
    last_run_id INTEGER NOT NULL REFERENCES runs (id),
    withdrawn_at TEXT,
    UNIQUE (integration_id, source_id)
);
CREATE INDEX listings_active ON listings (integration_id) WHERE withdrawn_at IS NULL;

-- One row per integration being imported: the process that holds it and
-- its last heartbeat (Unix seconds). Keyed by CRM and agency code, so that
-- a lock can be taken before the integration row exists.
CREATE TABLE locks (
    crm TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    heartbeat_unix INTEGER NOT NULL,
    PRIMARY KEY (crm, agency_code)
);
