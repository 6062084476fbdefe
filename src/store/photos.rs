//! Photo rows: one per photo of a listing, in the listing's order, with
//! the validators and outcome of its last fetch and the variants stored in
//! the media directory.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{IntegrationId, ListingId, RunId};
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
    /// The row's place in the order [`PhotoStore::photos_to_check`] reads
    /// rows in: the cursor of the next page.
    pub fn position(&self) -> (ListingId, i64, PhotoId) {
        (self.listing, self.rank, self.id)
    }
}

impl PhotoStatus {
    pub(super) fn from_str(text: &str) -> Self {
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

pub(super) fn source_kind(source: &PhotoSource) -> &'static str {
    match source {
        PhotoSource::Url(_) => "url",
        PhotoSource::ArchiveMember(_) => "archive_member",
    }
}

/// Photo rows of listings, and what the photo step learns of each.
pub trait PhotoStore {
    /// Makes a listing's photo rows match its photos: new sources are added
    /// as pending, known ones take their new rank and caption and keep what
    /// was stored, and sources the listing dropped are unlinked from it. A
    /// source repeated within the listing keeps its first rank.
    ///
    /// # Errors
    /// A database error.
    fn set_listing_photos(&self, listing: ListingId, photos: &[Photo]) -> anyhow::Result<()>;

    /// Returns the integration's listings whose photo rows may not match
    /// their photo list: created with photos or changed since the photo
    /// step last ran for them.
    ///
    /// # Errors
    /// A database error.
    fn listings_with_pending_photos(&self, integration: IntegrationId) -> anyhow::Result<Vec<ListingId>>;

    /// Brings a listing's photo rows in line with the photo list of its
    /// stored data, and clears its pending mark.
    ///
    /// # Errors
    /// A database error, or stored data that is not a listing.
    fn sync_listing_photos(&self, listing: ListingId) -> anyhow::Result<()>;

    /// Returns up to `limit` photos of the integration's active listings,
    /// listing by listing in rank order, from the one after `after` (a
    /// [`PhotoRow::position`]); with `unstored_only`, the pending and failed
    /// ones only.
    ///
    /// # Errors
    /// A database error.
    fn photos_to_check(
        &self,
        integration: IntegrationId,
        unstored_only: bool,
        after: Option<(ListingId, i64, PhotoId)>,
        limit: usize,
    ) -> anyhow::Result<Vec<PhotoRow>>;

    /// Records photos stored from new bytes.
    ///
    /// # Errors
    /// A database error.
    fn record_photo_stored(
        &self,
        ids: &[PhotoId],
        image: &StoredImage,
        validators: &Validators,
        member: Option<(u64, u32)>,
    ) -> anyhow::Result<()>;

    /// Records photos found unchanged at their source. New validators (a
    /// 304 may carry them) replace the stored ones.
    ///
    /// # Errors
    /// A database error.
    fn record_photo_unchanged(&self, ids: &[PhotoId], validators: Option<&Validators>) -> anyhow::Result<()>;

    /// Records a failed attempt. A photo stored earlier keeps its variants
    /// and status, so that a source down for a day loses nothing.
    ///
    /// # Errors
    /// A database error.
    fn record_photo_failed(&self, ids: &[PhotoId], error: &str) -> anyhow::Result<()>;

    /// Records a failed photo with the run, where `passerelle runs show`
    /// lists it beside the rejected records.
    ///
    /// # Errors
    /// A database error.
    fn record_photo_issue(&self, run: RunId, failure: &PhotoFailure) -> anyhow::Result<()>;

    /// Returns a stored photo with these original bytes, if any, so that the
    /// same bytes from another source are not rendered again.
    ///
    /// # Errors
    /// A database error, or a `variants` column that is not valid JSON.
    fn stored_image(&self, content_hash: &str) -> anyhow::Result<Option<StoredImage>>;

    /// Returns every media file a photo row refers to.
    ///
    /// # Errors
    /// A database error, or a `variants` column that is not valid JSON.
    fn referenced_media(&self) -> anyhow::Result<HashSet<String>>;
}
