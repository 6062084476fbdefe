//! Behaviour every backend must share, run on each one [`backends`] opens.

use super::lock::LockedError;
use super::photos::{PhotoRow, PhotoStatus, StoredImage, StoredVariant};
use super::testing::{backends, listing};
use super::{IntegrationId, ListingId, ListingRow, RunCounts, RunStatus, Store};
use crate::listing::{Photo, PhotoSource};
use crate::photos::download::Validators;
use crate::record::RecordIssue;

fn photo(url: &str) -> Photo {
    Photo {
        source: PhotoSource::Url(url.to_string()),
        caption: None,
    }
}

/// Stores one listing, `L1`, in a run of its own.
fn stored_listing(store: &dyn Store) -> (IntegrationId, ListingId) {
    let integration = store.integration("fake", "A1", None).unwrap();
    let run = store.begin_run(integration, "feed.csv", "import", false).unwrap();
    let listing = listing("L1");
    let data = serde_json::to_string(&listing).unwrap();
    let row = ListingRow {
        listing: &listing,
        data: &data,
        content_hash: *blake3::hash(data.as_bytes()).as_bytes(),
    };
    let id = store.insert_listing(integration, run, &row, "{}").unwrap();
    (integration, id)
}

fn sources(store: &dyn Store, integration: IntegrationId) -> Vec<String> {
    store
        .photos_to_check(integration, false, None, 100)
        .unwrap()
        .into_iter()
        .map(|row| row.source.location().to_string())
        .collect()
}

fn image(variants: Vec<StoredVariant>) -> StoredImage {
    StoredImage {
        content_hash: "abcd".to_string(),
        width: 10,
        height: 10,
        variants,
    }
}

#[test]
fn photo_rows_follow_listing_and_keep_stored_files() {
    for mut backend in backends() {
        let store = backend.store();
        let (integration, listing) = stored_listing(store);
        store
            .set_listing_photos(listing, &[photo("http://a/1.jpg"), photo("http://a/2.jpg")])
            .unwrap();
        let first = store.photos_to_check(integration, false, None, 100).unwrap();
        store
            .record_photo_stored(&[first[1].id], &image(Vec::new()), &Validators::default(), None)
            .unwrap();

        let reordered = [
            photo("http://a/2.jpg"),
            photo("http://a/3.jpg"),
            photo("http://a/2.jpg"),
        ];
        store.set_listing_photos(listing, &reordered).unwrap();
        assert_eq!(sources(store, integration), ["http://a/2.jpg", "http://a/3.jpg"]);
        let rows = store.photos_to_check(integration, false, None, 100).unwrap();
        assert_eq!(
            rows[0].status,
            PhotoStatus::Stored,
            "a moved photo keeps its files"
        );
        assert_eq!(rows[0].id, first[1].id);
        let unstored = store.photos_to_check(integration, true, None, 100).unwrap();
        assert_eq!(unstored.len(), 1, "{}", backend.name());
    }
}

#[test]
fn pages_cover_every_photo_once_in_order() {
    for mut backend in backends() {
        let store = backend.store();
        let (integration, listing) = stored_listing(store);
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
        assert_eq!(seen, [1, 2, 3, 4, 5], "{}", backend.name());
    }
}

#[test]
fn failed_attempt_keeps_earlier_stored_photo() {
    for mut backend in backends() {
        let store = backend.store();
        let (integration, listing) = stored_listing(store);
        store
            .set_listing_photos(listing, &[photo("http://a/1.jpg"), photo("http://a/2.jpg")])
            .unwrap();
        let rows = store.photos_to_check(integration, false, None, 100).unwrap();
        let stored = image(vec![StoredVariant {
            name: "large".to_string(),
            width: 10,
            height: 10,
            path: "ab/cd/abcd-large.jpg".to_string(),
        }]);
        store
            .record_photo_stored(&[rows[0].id], &stored, &Validators::default(), None)
            .unwrap();
        store
            .record_photo_failed(&[rows[0].id, rows[1].id], "HTTP 503")
            .unwrap();
        let after = store.photos_to_check(integration, false, None, 100).unwrap();
        assert_eq!(after[0].status, PhotoStatus::Stored);
        assert_eq!(after[1].status, PhotoStatus::Failed);
        assert_eq!(store.stored_image("abcd").unwrap(), Some(stored));
        assert!(
            store.referenced_media().unwrap().contains("ab/cd/abcd-large.jpg"),
            "{}",
            backend.name()
        );
    }
}

#[test]
fn lock_excludes_another_store_until_released() {
    for backend in backends() {
        let first = backend.reopen();
        let second = backend.reopen();
        first.begin().unwrap();
        let token = first.acquire_lock("poliris", "AG").unwrap();
        first.commit().unwrap();

        second.begin().unwrap();
        let error = second.acquire_lock("poliris", "AG").unwrap_err();
        second.rollback().unwrap();
        let locked = error.downcast_ref::<LockedError>().expect("a LockedError");
        assert_eq!(locked.pid, i64::from(std::process::id()), "{}", backend.name());
        assert!(second.lock_holder("poliris", "AG").unwrap().is_some());
        second.begin().unwrap();
        let other = second.acquire_lock("poliris", "OTHER");
        second.commit().unwrap();
        assert!(other.is_ok(), "another agency is free: {other:?}");

        first.release_lock(&token).unwrap();
        assert_eq!(second.lock_holder("poliris", "AG").unwrap(), None);
        second.begin().unwrap();
        let taken = second.acquire_lock("poliris", "AG");
        second.commit().unwrap();
        assert!(taken.is_ok(), "{}: {taken:?}", backend.name());
    }
}

#[test]
fn buffered_writes_are_seen_by_later_reads() {
    for mut backend in backends() {
        let store = backend.store();
        let integration = store.integration("fake", "A1", Some("Agence")).unwrap();
        let run = store.begin_run(integration, "feed.csv", "import", false).unwrap();
        store.start_seen_tracking().unwrap();
        store.begin().unwrap();
        store.prefetch_listings(integration, &["L1", "L2"]).unwrap();
        assert_eq!(store.find_listing(integration, "L1").unwrap(), None);
        let (integration_row, l1) = (integration, stored_listing_in(store, integration, run, "L1"));
        assert_eq!(store.mark_seen(l1, 3).unwrap(), None);
        assert_eq!(
            store.mark_seen(l1, 9).unwrap(),
            Some(3),
            "a duplicate names the first line"
        );
        let issue = RecordIssue::duplicate("feed.csv", 9, "L1", 3);
        store.record_issue(run, &issue).unwrap();
        store.withdraw_listing(l1, run).unwrap();
        // A read outside the prefetched ids sends what is buffered first.
        assert_eq!(store.active_count(integration_row).unwrap(), 0);
        store.prefetch_listings(integration, &["L1"]).unwrap();
        let found = store.find_listing(integration, "L1").unwrap().unwrap();
        assert!(found.withdrawn);
        assert_eq!(
            store.mark_seen(l1, 12).unwrap(),
            Some(3),
            "seen marks survive a prefetch"
        );
        assert_eq!(store.count_unseen(integration).unwrap(), 0);
        store
            .finish_run(run, RunStatus::Partial, &RunCounts::default(), None, None)
            .unwrap();
        store.commit().unwrap();

        let issues = store.run_issues(run).unwrap();
        assert_eq!(issues.len(), 1, "{}", backend.name());
        assert_eq!((issues[0].line, issues[0].source_id.as_deref()), (9, Some("L1")));
        let recorded = store.find_run(run).unwrap().unwrap();
        assert_eq!(recorded.status, "partial");
        assert_eq!(
            store.last_run_status("fake", "A1").unwrap().as_deref(),
            Some("partial")
        );
    }
}

#[test]
fn rollback_forgets_buffered_writes() {
    for mut backend in backends() {
        let store = backend.store();
        let integration = store.integration("fake", "A1", None).unwrap();
        let run = store.begin_run(integration, "feed.csv", "import", false).unwrap();
        store.begin().unwrap();
        store.prefetch_listings(integration, &["L1"]).unwrap();
        stored_listing_in(store, integration, run, "L1");
        store.rollback().unwrap();
        assert_eq!(
            store.find_listing(integration, "L1").unwrap(),
            None,
            "{}",
            backend.name()
        );
        assert_eq!(backend.count("SELECT count(*) FROM listings"), 0);
    }
}

#[test]
fn failed_fetch_is_recorded_as_a_run() {
    for mut backend in backends() {
        let store = backend.store();
        let run = store
            .record_failed_run("apimo", "42", None, "fetch of apimo-42", "sync", "HTTP 503")
            .unwrap();
        let runs = store
            .list_runs(&super::history::RunFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(runs.len(), 1, "{}", backend.name());
        assert_eq!((runs[0].id, runs[0].status.as_str()), (run, "failed"));
        assert_eq!(runs[0].error.as_deref(), Some("HTTP 503"));
    }
}

fn stored_listing_in(
    store: &dyn Store,
    integration: IntegrationId,
    run: super::RunId,
    source_id: &str,
) -> ListingId {
    let listing = listing(source_id);
    let data = serde_json::to_string(&listing).unwrap();
    let row = ListingRow {
        listing: &listing,
        data: &data,
        content_hash: *blake3::hash(data.as_bytes()).as_bytes(),
    };
    store.insert_listing(integration, run, &row, "{}").unwrap()
}

#[test]
fn nul_characters_in_text_are_stored() {
    for mut backend in backends() {
        let store = backend.store();
        let integration = store.integration("fake", "A1", None).unwrap();
        let run = store.begin_run(integration, "feed.csv", "import", false).unwrap();
        let mut listing = listing("L\0A");
        listing.city = Some("Pa\0ris".to_string());
        let data = serde_json::to_string(&listing).unwrap();
        let row = ListingRow {
            listing: &listing,
            data: &data,
            content_hash: *blake3::hash(data.as_bytes()).as_bytes(),
        };
        store.begin().unwrap();
        store.prefetch_listings(integration, &["L\0A"]).unwrap();
        store.insert_listing(integration, run, &row, "{}").unwrap();
        store.commit().unwrap();
        store.prefetch_listings(integration, &["L\0A"]).unwrap();
        assert!(
            store.find_listing(integration, "L\0A").unwrap().is_some(),
            "{}: the listing is found again by the same source id",
            backend.name()
        );
    }
}
