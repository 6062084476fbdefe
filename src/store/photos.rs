//! Photo rows: one per photo of a listing, in the listing's order, with
//! the validators and outcome of its last fetch and the variants stored in
//! the media directory.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::sqlite::timestamp;
use super::{IntegrationId, ListingId, RunId, SqliteStore};
use crate::listing::{Photo, PhotoSource};
use crate::photos::download::Validators;

/// Row id of a photo.
pub type PhotoId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    /// Not fetched yet.
    Pending,
    Stored,
    /// The last attempt failed; the next run tries again.
    Failed,
}

impl PhotoRow {
    /// The row's place in the order [`SqliteStore::photos_to_check`] reads
    /// rows in: the cursor of the next page.
    pub fn position(&self) -> (ListingId, i64, PhotoId) {
        (self.listing, self.rank, self.id)
    }
}

impl PhotoStatus {
    fn from_str(text: &str) -> Self {
        match text {
            "stored" => Self::Stored,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// A photo as the photo step needs it.
#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub id: PhotoId,
    pub listing: ListingId,
    /// The listing's source id, for messages.
    pub listing_source_id: String,
    pub rank: i64,
    pub source: PhotoSource,
    pub status: PhotoStatus,
    pub validators: Validators,
    /// Size and CRC-32 of the archive member it was stored from.
    pub member: Option<(u64, u32)>,
    pub content_hash: Option<String>,
}

/// A photo that failed, as recorded with its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoFailure {
    /// The feed the listing came from.
    pub file: String,
    pub listing_source_id: String,
    /// The photo's place in its listing, from 1.
    pub rank: i64,
    /// The URL or file name.
    pub location: String,
    pub error: String,
}

/// A stored variant, as recorded in the `variants` column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVariant {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Relative to the media directory, with `/`.
    pub path: String,
}

/// A rendered photo: the original's hash and size, and its variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub content_hash: String,
    pub width: u32,
    pub height: u32,
    pub variants: Vec<StoredVariant>,
}

fn source_kind(source: &PhotoSource) -> &'static str {
    match source {
        PhotoSource::Url(_) => "url",
        PhotoSource::ArchiveMember(_) => "archive_member",
    }
}

impl SqliteStore {
    /// Makes a listing's photo rows match its photos: new sources are added
    /// as pending, known ones take their new rank and caption and keep what
    /// was stored, and sources the listing dropped are unlinked from it. A
    /// source repeated within the listing keeps its first rank.
    ///
    /// # Errors
    /// A database error.
    pub fn set_listing_photos(&self, listing: ListingId, photos: &[Photo]) -> anyhow::Result<()> {
        let mut existing: HashMap<(String, String), PhotoId> = self
            .connection
            .prepare_cached("SELECT id, source_kind, source FROM photos WHERE listing_id = ?1")?
            .query_map([listing], |row| Ok(((row.get(1)?, row.get(2)?), row.get(0)?)))?
            .collect::<Result<_, _>>()?;
        let mut placed = HashSet::new();
        let mut update = self
            .connection
            .prepare_cached("UPDATE photos SET rank = ?2, caption = ?3 WHERE id = ?1")?;
        let mut insert = self.connection.prepare_cached(
            "INSERT INTO photos (listing_id, rank, source_kind, source, caption) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (index, photo) in photos.iter().enumerate() {
            let key = (
                source_kind(&photo.source).to_string(),
                photo.source.location().to_string(),
            );
            if !placed.insert(key.clone()) {
                continue;
            }
            let rank = index as i64 + 1;
            match existing.remove(&key) {
                Some(id) => update.execute(params![id, rank, photo.caption])?,
                None => insert.execute(params![listing, rank, key.0, key.1, photo.caption])?,
            };
        }
        let mut delete = self
            .connection
            .prepare_cached("DELETE FROM photos WHERE id = ?1")?;
        for id in existing.into_values() {
            delete.execute([id])?;
        }
        Ok(())
    }

    /// Returns the integration's listings whose photo rows may not match
    /// their photo list: created with photos or changed since the photo
    /// step last ran for them.
    ///
    /// # Errors
    /// A database error.
    pub fn listings_with_pending_photos(&self, integration: IntegrationId) -> anyhow::Result<Vec<ListingId>> {
        let ids = self
            .connection
            .prepare_cached(
                "SELECT id FROM listings WHERE integration_id = ?1 AND photos_pending = 1 ORDER BY id",
            )?
            .query_map([integration], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// Brings a listing's photo rows in line with the photo list of its
    /// stored data, and clears its pending mark.
    ///
    /// # Errors
    /// A database error, or stored data that is not a listing.
    pub fn sync_listing_photos(&self, listing: ListingId) -> anyhow::Result<()> {
        /// The part of a stored listing this needs.
        #[derive(Deserialize)]
        struct PhotoList {
            #[serde(default)]
            photos: Vec<Photo>,
        }
        let data: String = self
            .connection
            .prepare_cached("SELECT data FROM listings WHERE id = ?1")?
            .query_row([listing], |row| row.get(0))?;
        let list: PhotoList = serde_json::from_str(&data)?;
        self.set_listing_photos(listing, &list.photos)?;
        self.connection
            .prepare_cached("UPDATE listings SET photos_pending = 0 WHERE id = ?1")?
            .execute([listing])?;
        Ok(())
    }

    /// Returns up to `limit` photos of the integration's active listings,
    /// listing by listing in rank order, from the one after `after` (a
    /// [`PhotoRow::position`]); with `unstored_only`, the pending and failed
    /// ones only.
    ///
    /// # Errors
    /// A database error.
    pub fn photos_to_check(
        &self,
        integration: IntegrationId,
        unstored_only: bool,
        after: Option<(ListingId, i64, PhotoId)>,
        limit: usize,
    ) -> anyhow::Result<Vec<PhotoRow>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT photos.id, photos.source_kind, photos.source, photos.status, photos.etag,
                    photos.last_modified, photos.member_size, photos.member_crc, photos.content_hash,
                    photos.listing_id, photos.rank, listings.source_id
             FROM photos JOIN listings ON listings.id = photos.listing_id
             WHERE listings.integration_id = ?1 AND listings.withdrawn_at IS NULL
               AND (?2 = 0 OR photos.status <> 'stored')
               AND (photos.listing_id, photos.rank, photos.id) > (?3, ?4, ?5)
             ORDER BY photos.listing_id, photos.rank, photos.id
             LIMIT ?6",
        )?;
        let (listing, rank, id) = after.unwrap_or((i64::MIN, i64::MIN, i64::MIN));
        let rows = statement
            .query_map(
                params![integration, unstored_only, listing, rank, id, limit as i64],
                |row| {
                    let kind: String = row.get(1)?;
                    let location: String = row.get(2)?;
                    let status: String = row.get(3)?;
                    let size: Option<i64> = row.get(6)?;
                    let crc: Option<i64> = row.get(7)?;
                    Ok(PhotoRow {
                        id: row.get(0)?,
                        listing: row.get(9)?,
                        rank: row.get(10)?,
                        listing_source_id: row.get(11)?,
                        source: if kind == "url" {
                            PhotoSource::Url(location)
                        } else {
                            PhotoSource::ArchiveMember(location)
                        },
                        status: PhotoStatus::from_str(&status),
                        validators: Validators {
                            etag: row.get(4)?,
                            last_modified: row.get(5)?,
                        },
                        member: size.zip(crc).map(|(size, crc)| (size as u64, crc as u32)),
                        content_hash: row.get(8)?,
                    })
                },
            )?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Records photos stored from new bytes.
    ///
    /// # Errors
    /// A database error.
    pub fn record_photo_stored(
        &self,
        ids: &[PhotoId],
        image: &StoredImage,
        validators: &Validators,
        member: Option<(u64, u32)>,
    ) -> anyhow::Result<()> {
        let variants = serde_json::to_string(&image.variants)?;
        let mut statement = self.connection.prepare_cached(
            "UPDATE photos SET status = 'stored', error = NULL, attempts = 0, content_hash = ?2, width = ?3,
                 height = ?4, variants = ?5, etag = ?6, last_modified = ?7, member_size = ?8, member_crc = ?9,
                 checked_at = ?10
             WHERE id = ?1",
        )?;
        let now = timestamp();
        for id in ids {
            statement.execute(params![
                id,
                image.content_hash,
                image.width,
                image.height,
                variants,
                validators.etag,
                validators.last_modified,
                member.map(|(size, _)| size as i64),
                member.map(|(_, crc)| i64::from(crc)),
                now,
            ])?;
        }
        Ok(())
    }

    /// Records photos found unchanged at their source. New validators (a
    /// 304 may carry them) replace the stored ones.
    ///
    /// # Errors
    /// A database error.
    pub fn record_photo_unchanged(
        &self,
        ids: &[PhotoId],
        validators: Option<&Validators>,
    ) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(
            "UPDATE photos SET checked_at = ?2, etag = coalesce(?3, etag),
                 last_modified = coalesce(?4, last_modified)
             WHERE id = ?1",
        )?;
        let now = timestamp();
        for id in ids {
            statement.execute(params![
                id,
                now,
                validators.and_then(|validators| validators.etag.as_deref()),
                validators.and_then(|validators| validators.last_modified.as_deref()),
            ])?;
        }
        Ok(())
    }

    /// Records a failed attempt. A photo stored earlier keeps its variants
    /// and status, so that a source down for a day loses nothing.
    ///
    /// # Errors
    /// A database error.
    pub fn record_photo_failed(&self, ids: &[PhotoId], error: &str) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(
            "UPDATE photos SET status = CASE status WHEN 'stored' THEN 'stored' ELSE 'failed' END,
                 error = ?2, attempts = attempts + 1, checked_at = ?3
             WHERE id = ?1",
        )?;
        let now = timestamp();
        for id in ids {
            statement.execute(params![id, error, now])?;
        }
        Ok(())
    }

    /// Records a failed photo with the run, where `passerelle runs show`
    /// lists it beside the rejected records.
    ///
    /// # Errors
    /// A database error.
    pub fn record_photo_issue(&self, run: RunId, failure: &PhotoFailure) -> anyhow::Result<()> {
        self.connection
            .prepare_cached(
                "INSERT INTO run_errors (run_id, severity, file, line, source_id, column_name, value, message)
                 VALUES (?1, 'photo_failed', ?2, 0, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                run,
                failure.file,
                failure.listing_source_id,
                format!("photo {}", failure.rank),
                failure.location,
                failure.error,
            ])?;
        Ok(())
    }

    /// Returns a stored photo with these original bytes, if any, so that the
    /// same bytes from another source are not rendered again.
    ///
    /// # Errors
    /// A database error, or a `variants` column that is not valid JSON.
    pub fn stored_image(&self, content_hash: &str) -> anyhow::Result<Option<StoredImage>> {
        let found: Option<(u32, u32, String)> = self
            .connection
            .prepare_cached(
                "SELECT width, height, variants FROM photos
                 WHERE content_hash = ?1 AND status = 'stored' AND variants IS NOT NULL LIMIT 1",
            )?
            .query_row([content_hash], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        let Some((width, height, variants)) = found else {
            return Ok(None);
        };
        Ok(Some(StoredImage {
            content_hash: content_hash.to_string(),
            width,
            height,
            variants: serde_json::from_str(&variants)?,
        }))
    }

    /// Returns every media file a photo row refers to.
    ///
    /// # Errors
    /// A database error, or a `variants` column that is not valid JSON.
    pub fn referenced_media(&self) -> anyhow::Result<HashSet<String>> {
        let mut statement = self
            .connection
            .prepare("SELECT DISTINCT variants FROM photos WHERE variants IS NOT NULL")?;
        let mut referenced = HashSet::new();
        for variants in statement.query_map([], |row| row.get::<_, String>(0))? {
            let variants: Vec<StoredVariant> = serde_json::from_str(&variants?)?;
            referenced.extend(variants.into_iter().map(|variant| variant.path));
        }
        Ok(referenced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(url: &str) -> Photo {
        Photo {
            source: PhotoSource::Url(url.to_string()),
            caption: None,
        }
    }

    fn listing(store: &SqliteStore) -> (IntegrationId, ListingId) {
        let connection = store.connection();
        connection
            .execute(
                "INSERT INTO integrations (crm, agency_code, created_at) VALUES ('fake', 'A1', 'now')",
                [],
            )
            .unwrap();
        let integration = connection.last_insert_rowid();
        connection
            .execute(
                "INSERT INTO runs (integration_id, source, started_at, status) VALUES (?1, 'f', 'now', 'running')",
                [integration],
            )
            .unwrap();
        let run = connection.last_insert_rowid();
        connection
            .execute(
                "INSERT INTO listings (integration_id, source_id, transaction_kind, property_kind, content_hash,
                     data, first_seen_at, last_changed_at, last_run_id)
                 VALUES (?1, 'L1', 'sale', 'house', x'00', '{}', 'now', 'now', ?2)",
                params![integration, run],
            )
            .unwrap();
        (integration, connection.last_insert_rowid())
    }

    fn sources(store: &SqliteStore, integration: IntegrationId) -> Vec<String> {
        store
            .photos_to_check(integration, false, None, 100)
            .unwrap()
            .into_iter()
            .map(|row| row.source.location().to_string())
            .collect()
    }

    #[test]
    fn photo_rows_follow_listing_and_keep_stored_files() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (integration, listing) = listing(&store);
        store
            .set_listing_photos(listing, &[photo("http://a/1.jpg"), photo("http://a/2.jpg")])
            .unwrap();
        let first = store.photos_to_check(integration, false, None, 100).unwrap();
        let image = StoredImage {
            content_hash: "abcd".to_string(),
            width: 10,
            height: 10,
            variants: Vec::new(),
        };
        store
            .record_photo_stored(&[first[1].id], &image, &Validators::default(), None)
            .unwrap();

        store
            .set_listing_photos(
                listing,
                &[
                    photo("http://a/2.jpg"),
                    photo("http://a/3.jpg"),
                    photo("http://a/2.jpg"),
                ],
            )
            .unwrap();
        assert_eq!(sources(&store, integration), ["http://a/2.jpg", "http://a/3.jpg"]);
        let rows = store.photos_to_check(integration, false, None, 100).unwrap();
        assert_eq!(
            rows[0].status,
            PhotoStatus::Stored,
            "a moved photo keeps its files"
        );
        assert_eq!(rows[0].id, first[1].id);
        let unstored = store.photos_to_check(integration, true, None, 100).unwrap();
        assert_eq!(unstored.len(), 1);
    }

    #[test]
    fn pages_cover_every_photo_once_in_order() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (integration, listing) = listing(&store);
        let photos: Vec<Photo> = (1..=5).map(|n| photo(&format!("http://a/{n}.jpg"))).collect();
        store.set_listing_photos(listing, &photos).unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.photos_to_check(integration, false, cursor, 2).unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 2);
            cursor = page.last().map(PhotoRow::position);
            seen.extend(page.into_iter().map(|row| row.rank));
        }
        assert_eq!(seen, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn failed_attempt_keeps_earlier_stored_photo() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (integration, listing) = listing(&store);
        store
            .set_listing_photos(listing, &[photo("http://a/1.jpg"), photo("http://a/2.jpg")])
            .unwrap();
        let rows = store.photos_to_check(integration, false, None, 100).unwrap();
        let image = StoredImage {
            content_hash: "abcd".to_string(),
            width: 10,
            height: 10,
            variants: vec![StoredVariant {
                name: "large".to_string(),
                width: 10,
                height: 10,
                path: "ab/cd/abcd-large.jpg".to_string(),
            }],
        };
        store
            .record_photo_stored(&[rows[0].id], &image, &Validators::default(), None)
            .unwrap();
        store
            .record_photo_failed(&[rows[0].id, rows[1].id], "HTTP 503")
            .unwrap();
        let after = store.photos_to_check(integration, false, None, 100).unwrap();
        assert_eq!(after[0].status, PhotoStatus::Stored);
        assert_eq!(after[1].status, PhotoStatus::Failed);
        assert_eq!(store.stored_image("abcd").unwrap(), Some(image));
        assert!(store.referenced_media().unwrap().contains("ab/cd/abcd-large.jpg"));
    }
}
