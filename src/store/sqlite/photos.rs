//! Photo rows as SQLite stores them.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, params};
use serde::Deserialize;

use super::{SqliteStore, timestamp};
use crate::listing::{Photo, PhotoSource};
use crate::photos::download::Validators;
use crate::store::photos::{
    PhotoFailure, PhotoId, PhotoRow, PhotoStatus, PhotoStore, StoredImage, StoredVariant, source_kind,
};
use crate::store::{IntegrationId, ListingId, RunId};

impl PhotoStore for SqliteStore {
    fn set_listing_photos(&self, listing: ListingId, photos: &[Photo]) -> anyhow::Result<()> {
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

    fn listings_with_pending_photos(&self, integration: IntegrationId) -> anyhow::Result<Vec<ListingId>> {
        let ids = self
            .connection
            .prepare_cached(
                "SELECT id FROM listings WHERE integration_id = ?1 AND photos_pending = 1 ORDER BY id",
            )?
            .query_map([integration], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    fn sync_listing_photos(&self, listing: ListingId) -> anyhow::Result<()> {
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

    fn photos_to_check(
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

    fn record_photo_stored(
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

    fn record_photo_unchanged(&self, ids: &[PhotoId], validators: Option<&Validators>) -> anyhow::Result<()> {
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

    fn record_photo_failed(&self, ids: &[PhotoId], error: &str) -> anyhow::Result<()> {
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

    fn record_photo_issue(&self, run: RunId, failure: &PhotoFailure) -> anyhow::Result<()> {
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

    fn stored_image(&self, content_hash: &str) -> anyhow::Result<Option<StoredImage>> {
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

    fn referenced_media(&self) -> anyhow::Result<HashSet<String>> {
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
