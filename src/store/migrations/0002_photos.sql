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
CREATE INDEX photos_by_hash ON photos (content_hash);

ALTER TABLE runs ADD COLUMN photos_stored INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN photos_reused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN photos_failed INTEGER NOT NULL DEFAULT 0;

-- Listings stored before this table existed get their photos as pending.
INSERT OR IGNORE INTO photos (listing_id, rank, source_kind, source, caption)
SELECT listings.id,
       photo.key + 1,
       json_extract(photo.value, '$.source.type'),
       json_extract(photo.value, '$.source.location'),
       json_extract(photo.value, '$.caption')
FROM listings, json_each(listings.data, '$.photos') AS photo;
