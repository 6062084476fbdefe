-- One row per photo of a listing, in the listing's order. A photo is found
-- again by its source, so that reordering keeps what was stored. The
-- validators (ETag and Last-Modified of a URL, size and CRC-32 of an archive
-- member) tell whether the source changed since it was stored.
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    listing_id INTEGER NOT NULL REFERENCES listings (id),
    rank INTEGER NOT NULL,
    -- url or archive_member
    source_kind TEXT NOT NULL,
    source TEXT NOT NULL,
    caption TEXT,
    -- pending, stored or failed
    status TEXT NOT NULL DEFAULT 'pending',
    etag TEXT,
    last_modified TEXT,
    member_size INTEGER,
    member_crc INTEGER,
    -- BLAKE3 of the original bytes, in hex; names the files in the media directory
    content_hash TEXT,
    width INTEGER,
    height INTEGER,
    -- JSON array of {name, width, height, path}, paths relative to the media directory
    variants TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    checked_at TEXT,
    UNIQUE (listing_id, source_kind, source)
);
CREATE INDEX photos_by_hash ON photos (content_hash) WHERE content_hash IS NOT NULL;

ALTER TABLE runs ADD COLUMN photos_stored INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN photos_reused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN photos_failed INTEGER NOT NULL DEFAULT 0;

-- A listing whose photo list may differ from its photo rows: set when the
-- listing is created with photos or changed, cleared once the photo step has
-- brought its rows in line. Keeping this out of the listing writes keeps the
-- import of listing data as fast with photos as without.
ALTER TABLE listings ADD COLUMN photos_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX listings_photos_pending ON listings (integration_id) WHERE photos_pending = 1;

-- Listings stored before this migration get their photo rows from the next run.
UPDATE listings SET photos_pending = 1 WHERE json_array_length(data, '$.photos') > 0;
