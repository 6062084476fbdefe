//! Photo rows as Postgres stores them. A listing's photo rows are brought
//! in line with a handful of statements, whatever the number of photos.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::{PostgresStore, optional_text, text};
use crate::listing::{Photo, PhotoSource};
use crate::photos::download::Validators;
use crate::store::photos::{
    PhotoFailure, PhotoId, PhotoRow, PhotoStatus, PhotoStore, StoredImage, StoredVariant, source_kind,
};
use crate::store::{IntegrationId, ListingId, RunId, timestamp};

impl PhotoStore for PostgresStore {
    fn set_listing_photos(&self, listing: ListingId, photos: &[Photo]) -> anyhow::Result<()> {
        let mut existing: HashMap<(String, String), PhotoId> = self
            .query(
                "SELECT id, source_kind, source FROM photos WHERE listing_id = $1",
                &[&listing],
            )?
            .iter()
            .map(|row| ((row.get(1), row.get(2)), row.get(0)))
            .collect();
        let mut placed = HashSet::new();
        let (mut moved_ids, mut moved_ranks, mut moved_captions) = (Vec::new(), Vec::new(), Vec::new());
        let (mut new_ranks, mut new_kinds, mut new_sources, mut new_captions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (index, photo) in photos.iter().enumerate() {
            let key = (
                source_kind(&photo.source).to_string(),
                text(photo.source.location()).into_owned(),
            );
            if !placed.insert(key.clone()) {
                continue;
            }
            let rank = index as i64 + 1;
            let caption = optional_text(photo.caption.as_deref()).map(|caption| caption.into_owned());
            match existing.remove(&key) {
                Some(id) => {
                    moved_ids.push(id);
                    moved_ranks.push(rank);
                    moved_captions.push(caption);
                }
                None => {
                    new_ranks.push(rank);
                    new_kinds.push(key.0);
                    new_sources.push(key.1);
                    new_captions.push(caption);
                }
            }
        }
        let dropped: Vec<PhotoId> = existing.into_values().collect();
        if !dropped.is_empty() {
            self.execute("DELETE FROM photos WHERE id = ANY($1)", &[&dropped])?;
        }
        if !moved_ids.is_empty() {
            self.execute(
                "UPDATE photos SET rank = m.rank, caption = m.caption
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS m (id, rank, caption)
                 WHERE photos.id = m.id",
                &[&moved_ids, &moved_ranks, &moved_captions],
            )?;
        }
        if !new_ranks.is_empty() {
            self.execute(
                "INSERT INTO photos (listing_id, rank, source_kind, source, caption)
                 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])",
                &[&listing, &new_ranks, &new_kinds, &new_sources, &new_captions],
            )?;
        }
        Ok(())
    }

    fn listings_with_pending_photos(&self, integration: IntegrationId) -> anyhow::Result<Vec<ListingId>> {
        Ok(self
            .query(
                "SELECT id FROM listings WHERE integration_id = $1 AND photos_pending ORDER BY id",
                &[&integration],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect())
    }

    fn sync_listing_photos(&self, listing: ListingId) -> anyhow::Result<()> {
        /// The part of a stored listing this needs.
        #[derive(Deserialize)]
        struct PhotoList {
            #[serde(default)]
            photos: Vec<Photo>,
        }
        let data: String = self
            .query_one("SELECT data FROM listings WHERE id = $1", &[&listing])?
            .get(0);
        let list: PhotoList = serde_json::from_str(&data)?;
        self.set_listing_photos(listing, &list.photos)?;
        self.execute(
            "UPDATE listings SET photos_pending = false WHERE id = $1",
            &[&listing],
        )?;
        Ok(())
    }

    fn photos_to_check(
        &self,
        integration: IntegrationId,
        unstored_only: bool,
        after: Option<(ListingId, i64, PhotoId)>,
        limit: usize,
    ) -> anyhow::Result<Vec<PhotoRow>> {
        let (listing, rank, id) = after.unwrap_or((i64::MIN, i64::MIN, i64::MIN));
        let rows = self.query(
            "SELECT photos.id, photos.source_kind, photos.source, photos.status, photos.etag,
                    photos.last_modified, photos.member_size, photos.member_crc, photos.content_hash,
                    photos.listing_id, photos.rank, listings.source_id
             FROM photos JOIN listings ON listings.id = photos.listing_id
             WHERE listings.integration_id = $1 AND listings.withdrawn_at IS NULL
               AND (NOT $2 OR photos.status <> 'stored')
               AND (photos.listing_id, photos.rank, photos.id) > ($3, $4, $5)
             ORDER BY photos.listing_id, photos.rank, photos.id
             LIMIT $6",
            &[
                &integration,
                &unstored_only,
                &listing,
                &rank,
                &id,
                &(limit as i64),
            ],
        )?;
        Ok(rows
            .iter()
            .map(|row| {
                let kind: String = row.get(1);
                let location: String = row.get(2);
                let status: String = row.get(3);
                let size: Option<i64> = row.get(6);
                let crc: Option<i64> = row.get(7);
                PhotoRow {
                    id: row.get(0),
                    listing: row.get(9),
                    rank: row.get(10),
                    listing_source_id: row.get(11),
                    source: if kind == "url" {
                        PhotoSource::Url(location)
                    } else {
                        PhotoSource::ArchiveMember(location)
                    },
                    status: PhotoStatus::from_str(&status),
                    validators: Validators {
                        etag: row.get(4),
                        last_modified: row.get(5),
                    },
                    member: size.zip(crc).map(|(size, crc)| (size as u64, crc as u32)),
                    content_hash: row.get(8),
                }
            })
            .collect())
    }

    fn record_photo_stored(
        &self,
        ids: &[PhotoId],
        image: &StoredImage,
        validators: &Validators,
        member: Option<(u64, u32)>,
    ) -> anyhow::Result<()> {
        let variants = serde_json::to_string(&image.variants)?;
        self.execute(
            "UPDATE photos SET status = 'stored', error = NULL, attempts = 0, content_hash = $2, width = $3,
                 height = $4, variants = $5, etag = $6, last_modified = $7, member_size = $8, member_crc = $9,
                 checked_at = $10
             WHERE id = ANY($1)",
            &[
                &ids,
                &image.content_hash,
                &i64::from(image.width),
                &i64::from(image.height),
                &variants,
                &optional_text(validators.etag.as_deref()),
                &optional_text(validators.last_modified.as_deref()),
                &member.map(|(size, _)| size as i64),
                &member.map(|(_, crc)| i64::from(crc)),
                &timestamp(),
            ],
        )?;
        Ok(())
    }

    fn record_photo_unchanged(&self, ids: &[PhotoId], validators: Option<&Validators>) -> anyhow::Result<()> {
        self.execute(
            "UPDATE photos SET checked_at = $2, etag = coalesce($3, etag),
                 last_modified = coalesce($4, last_modified)
             WHERE id = ANY($1)",
            &[
                &ids,
                &timestamp(),
                &optional_text(validators.and_then(|validators| validators.etag.as_deref())),
                &optional_text(validators.and_then(|validators| validators.last_modified.as_deref())),
            ],
        )?;
        Ok(())
    }

    fn record_photo_failed(&self, ids: &[PhotoId], error: &str) -> anyhow::Result<()> {
        self.execute(
            "UPDATE photos SET status = CASE status WHEN 'stored' THEN 'stored' ELSE 'failed' END,
                 error = $2, attempts = attempts + 1, checked_at = $3
             WHERE id = ANY($1)",
            &[&ids, &text(error), &timestamp()],
        )?;
        Ok(())
    }

    fn record_photo_issue(&self, run: RunId, failure: &PhotoFailure) -> anyhow::Result<()> {
        self.execute(
            "INSERT INTO run_errors (run_id, severity, file, line, source_id, column_name, value, message)
             VALUES ($1, 'photo_failed', $2, 0, $3, $4, $5, $6)",
            &[
                &run,
                &text(&failure.file),
                &text(&failure.listing_source_id),
                &format!("photo {}", failure.rank),
                &text(&failure.location),
                &text(&failure.error),
            ],
        )?;
        Ok(())
    }

    fn stored_image(&self, content_hash: &str) -> anyhow::Result<Option<StoredImage>> {
        let Some(row) = self.query_opt(
            "SELECT width, height, variants FROM photos
             WHERE content_hash = $1 AND status = 'stored' AND variants IS NOT NULL LIMIT 1",
            &[&content_hash],
        )?
        else {
            return Ok(None);
        };
        let variants: String = row.get(2);
        Ok(Some(StoredImage {
            content_hash: content_hash.to_string(),
            width: u32::try_from(row.get::<_, i64>(0)).unwrap_or_default(),
            height: u32::try_from(row.get::<_, i64>(1)).unwrap_or_default(),
            variants: serde_json::from_str(&variants)?,
        }))
    }

    fn referenced_media(&self) -> anyhow::Result<HashSet<String>> {
        let mut referenced = HashSet::new();
        for row in self.query(
            "SELECT DISTINCT variants FROM photos WHERE variants IS NOT NULL",
            &[],
        )? {
            let variants: Vec<StoredVariant> = serde_json::from_str(row.get(0))?;
            referenced.extend(variants.into_iter().map(|variant| variant.path));
        }
        Ok(referenced)
    }
}
