//! Photos end to end: Poliris exports written here point their photos at a
//! server on 127.0.0.1 ([`Gallery`]) or carry them in a zip, and the tests
//! read back the `photos` table and the media directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::GenericImageView;
use serde_json::Value;

use crate::gallery::{Gallery, Served, jpeg, png, png_bomb, two_tone, webp};
use crate::support::{Imported, SettingsFile, fixture, imported, open_database, passerelle};

const AGENCY: &str = "AGENCE-OUEST";
/// Photo ranks of a Poliris record, in display order.
const PHOTO_RANKS: [usize; 30] = [
    85, 86, 87, 88, 89, 90, 91, 92, 93, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 264, 265, 266,
    267, 268, 269, 270, 271, 272, 273,
];

/// Returns a record of a listing with these photos, made from the first
/// record of snapshot-1.csv.
fn record(source_id: &str, photos: &[String]) -> String {
    let text = std::fs::read_to_string(fixture("snapshot-1.csv")).unwrap();
    let line = text.lines().next().unwrap();
    let mut fields: Vec<String> = line
        .trim_end_matches('\r')
        .strip_prefix('"')
        .and_then(|line| line.strip_suffix('"'))
        .unwrap()
        .split("\"!#\"")
        .map(str::to_string)
        .collect();
    fields[1] = format!("REF-{source_id}");
    fields[174] = source_id.to_string();
    for rank in PHOTO_RANKS {
        fields[rank - 1].clear();
    }
    for (rank, photo) in PHOTO_RANKS.iter().zip(photos) {
        fields[rank - 1] = photo.clone();
    }
    format!("\"{}\"\r\n", fields.join("\"!#\""))
}

fn write_csv(dir: &Path, name: &str, records: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, records.concat()).unwrap();
    path
}

/// Writes a settings file with small variants (48 and 16 px), a one-second
/// timeout, one attempt and a 1 MB limit, plus `extra` lines in `[photos]`.
fn settings(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("passerelle.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[database]
path = "listings.db"

[photos]
timeout_seconds = 1
attempts = 1
max_megabytes = 1
variants = [{{ name = "large", max_side = 48 }}, {{ name = "thumb", max_side = 16 }}]
{extra}
"#
        ),
    )
    .unwrap();
    path
}

const PRIVATE_ALLOWED: &str = "allow_private_networks = true";

impl Imported {
    /// Returns the photo counts: stored, reused, failed.
    fn photos(&self) -> (u64, u64, u64) {
        let counts = &self.summary["counts"];
        let number = |name: &str| counts[name].as_u64().unwrap();
        (
            number("photos_stored"),
            number("photos_reused"),
            number("photos_failed"),
        )
    }
}

fn import(settings: &Path, input: &Path, extra: &[&str]) -> Imported {
    let output = passerelle()
        .arg("import")
        .arg(input)
        .args([
            "--crm", "poliris", "--agency", AGENCY, "--format", "json", "--config",
        ])
        .arg(settings)
        .args(extra)
        .output()
        .unwrap();
    imported(&output)
}

/// A photo row as stored.
#[derive(Debug)]
struct PhotoRow {
    listing: String,
    rank: i64,
    source: String,
    status: String,
    error: Option<String>,
    content_hash: Option<String>,
    size: Option<(u32, u32)>,
    variants: Vec<Value>,
}

fn photo_rows(database: &Path) -> Vec<PhotoRow> {
    let connection = open_database(database);
    let mut statement = connection
        .prepare(
            "SELECT l.source_id, p.rank, p.source, p.status, p.error, p.content_hash, p.width, p.height,
                    p.variants
             FROM photos p JOIN listings l ON l.id = p.listing_id ORDER BY l.source_id, p.rank",
        )
        .unwrap();
    statement
        .query_map([], |row| {
            let width: Option<u32> = row.get(6)?;
            let height: Option<u32> = row.get(7)?;
            let variants: Option<String> = row.get(8)?;
            Ok(PhotoRow {
                listing: row.get(0)?,
                rank: row.get(1)?,
                source: row.get(2)?,
                status: row.get(3)?,
                error: row.get(4)?,
                content_hash: row.get(5)?,
                size: width.zip(height),
                variants: variants
                    .map(|text| serde_json::from_str(&text).unwrap())
                    .unwrap_or_default(),
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn row<'a>(rows: &'a [PhotoRow], source_suffix: &str) -> &'a PhotoRow {
    rows.iter()
        .find(|row| row.source.ends_with(source_suffix))
        .unwrap_or_else(|| panic!("no photo {source_suffix} in {rows:#?}"))
}

/// Opens a stored variant from the media directory.
fn variant_image(media: &Path, photo: &PhotoRow, name: &str) -> image::DynamicImage {
    let variant = photo
        .variants
        .iter()
        .find(|variant| variant["name"] == name)
        .unwrap_or_else(|| panic!("no {name} variant in {photo:#?}"));
    image::open(media.join(variant["path"].as_str().unwrap())).unwrap()
}

#[test]
fn served_photos_become_variants_and_are_fetched_once() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    // 60 × 40, turned a quarter clockwise by its EXIF orientation.
    let turned = jpeg(&two_tone(60, 40), Some(6));
    gallery.serve("/a.jpg", Served::photo(turned.clone(), "image/jpeg"));
    gallery.serve("/same-bytes.jpg", Served::photo(turned, "image/jpeg"));
    gallery.serve("/b.png", Served::photo(png(&two_tone(80, 50)), "image/png"));
    gallery.serve("/c.webp", Served::photo(webp(&two_tone(30, 20)), "image/webp"));
    let input = write_csv(
        dir.path(),
        "Annonces.csv",
        &[
            record(
                "L1",
                &[
                    gallery.url("/a.jpg"),
                    gallery.url("/b.png"),
                    gallery.url("/c.webp"),
                ],
            ),
            record("L2", &[gallery.url("/a.jpg"), gallery.url("/same-bytes.jpg")]),
        ],
    );
    let settings = settings(dir.path(), PRIVATE_ALLOWED);
    let database = dir.path().join("listings.db");
    let media = dir.path().join("listings.media");

    let first = import(&settings, &input, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.photos(), (5, 0, 0));
    let requests: Vec<String> = gallery.seen().into_iter().map(|seen| seen.path).collect();
    assert_eq!(
        requests.len(),
        4,
        "a URL shared by two listings is fetched once: {requests:?}"
    );

    let rows = photo_rows(&database);
    assert!(rows.iter().all(|row| row.status == "stored"), "{rows:#?}");
    let a = row(&rows, "/a.jpg");
    assert_eq!(a.size, Some((40, 60)), "the EXIF orientation is applied");
    let large = variant_image(&media, a, "large");
    assert_eq!(large.dimensions(), (32, 48));
    let top = large.get_pixel(16, 2);
    let bottom = large.get_pixel(16, 45);
    assert!(
        top[0] > 150 && top[2] < 100,
        "the left (red) half is now on top: {top:?}"
    );
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "the right (blue) half is at the bottom: {bottom:?}"
    );
    assert_eq!(variant_image(&media, a, "thumb").dimensions(), (11, 16));
    let b = row(&rows, "/b.png");
    assert_eq!(variant_image(&media, b, "large").dimensions(), (48, 30));
    let c = row(&rows, "/c.webp");
    assert_eq!(
        variant_image(&media, c, "large").dimensions(),
        (30, 20),
        "a photo smaller than a variant is not enlarged"
    );
    assert_eq!(variant_image(&media, c, "thumb").dimensions(), (16, 11));
    let same = row(&rows, "/same-bytes.jpg");
    assert_eq!(same.content_hash, a.content_hash);
    assert_eq!(same.variants, a.variants, "identical bytes are stored once");
    let files = walk(&media);
    assert_eq!(
        files.len(),
        6,
        "three distinct photos, two variants each: {files:?}"
    );

    gallery.reset_counts();
    let second = import(&settings, &input, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.photos(), (0, 5, 0));
    let seen = gallery.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|request| request.conditional), "{seen:?}");
    assert_eq!(gallery.body_bytes(), 0, "no photo body is sent again");

    // A new picture behind the same URL, with a new ETag.
    gallery.serve("/b.png", Served::photo(png(&two_tone(50, 80)), "image/png"));
    let third = import(&settings, &input, &[]);
    assert_eq!(third.photos(), (1, 4, 0), "{}", third.stderr);
    let rows = photo_rows(&database);
    let changed = row(&rows, "/b.png");
    assert_ne!(changed.content_hash, b.content_hash);
    assert_eq!(variant_image(&media, changed, "large").dimensions(), (30, 48));
}

#[test]
fn failing_photos_are_recorded_while_the_listing_imports() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    gallery.serve(
        "/ok.jpg",
        Served::photo(jpeg(&two_tone(20, 20), None), "image/jpeg"),
    );
    let mut slow = Served::photo(jpeg(&two_tone(20, 20), None), "image/jpeg");
    slow.delay = Some(std::time::Duration::from_secs(4));
    gallery.serve("/slow.jpg", slow);
    gallery.serve(
        "/page.jpg",
        Served::photo(
            b"<!DOCTYPE html><html><body>Moved</body></html>".to_vec(),
            "image/jpeg",
        ),
    );
    let mut oversize = vec![0xFF, 0xD8, 0xFF, 0xE0];
    oversize.resize(1_500_000, 0x55);
    gallery.serve("/huge.jpg", Served::photo(oversize, "image/jpeg"));
    gallery.serve("/bomb.png", Served::photo(png_bomb(60_000), "image/png"));
    let photos: Vec<String> = [
        "/missing.jpg",
        "/slow.jpg",
        "/page.jpg",
        "/huge.jpg",
        "/bomb.png",
        "/ok.jpg",
    ]
    .iter()
    .map(|path| gallery.url(path))
    .collect();
    let input = write_csv(dir.path(), "Annonces.csv", &[record("L1", &photos)]);
    let settings = settings(dir.path(), PRIVATE_ALLOWED);
    let database = dir.path().join("listings.db");

    let run = import(&settings, &input, &[]);
    assert_eq!(run.code, 1, "failed photos make a partial run: {}", run.stderr);
    assert_eq!(run.summary["status"], "partial");
    assert_eq!(run.summary["counts"]["created"], 1, "the listing imports");
    assert_eq!(run.photos(), (1, 0, 5));
    assert!(
        run.stderr.contains("5 photos failed") || run.stderr.contains("photo failed"),
        "{}",
        run.stderr
    );

    let rows = photo_rows(&database);
    let error = |suffix: &str| row(&rows, suffix).error.clone().unwrap_or_default();
    assert!(error("/missing.jpg").contains("HTTP 404"), "{rows:#?}");
    assert!(
        error("/slow.jpg").contains("timed out: not received within 1 s (photos.timeout_seconds)"),
        "{rows:#?}"
    );
    assert!(
        error("/page.jpg").contains("not a JPEG, PNG or WebP image"),
        "{rows:#?}"
    );
    assert!(
        error("/huge.jpg").contains("larger than the 1 MB limit (photos.max_megabytes)"),
        "{rows:#?}"
    );
    assert!(error("/bomb.png").contains("decompression bomb"), "{rows:#?}");
    assert!(
        error("/bomb.png").contains("60000 × 60000 pixels is over the limit of 20000 px per side"),
        "{rows:#?}"
    );
    assert_eq!(row(&rows, "/ok.jpg").status, "stored");
    assert_eq!(row(&rows, "/ok.jpg").rank, 6);
    for failed in ["/missing.jpg", "/slow.jpg", "/page.jpg", "/huge.jpg", "/bomb.png"] {
        assert_eq!(row(&rows, failed).status, "failed");
    }
    let run_id = run.summary["run_id"].as_i64().unwrap().to_string();
    let shown = passerelle()
        .args(["runs", "show", &run_id, "--config"])
        .arg(&settings)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("photos:   1 stored, 0 reused, 5 failed"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "photo_failed: {}: listing L1, photo 1: HTTP 404 [value: \"{}\"]",
            input.display(),
            gallery.url("/missing.jpg")
        )),
        "{shown}"
    );

    // The next run tries the failed photos again; the missing one is back.
    gallery.serve(
        "/missing.jpg",
        Served::photo(jpeg(&two_tone(24, 12), None), "image/jpeg"),
    );
    gallery.reset_counts();
    let again = import(&settings, &input, &["--photos-only", "--quiet"]);
    assert_eq!(again.photos(), (1, 0, 4), "{}", again.stderr);
    assert!(
        again.stderr.contains("photo failed: HTTP") || again.stderr.contains("failed: refused"),
        "--quiet still names failed photos: {}",
        again.stderr
    );
    assert_eq!(
        again.summary["counts"]["seen"], 0,
        "--photos-only reads no listing"
    );
    let retried: Vec<String> = gallery.seen().into_iter().map(|seen| seen.path).collect();
    assert!(
        !retried.contains(&"/ok.jpg".to_string()),
        "stored photos are left alone: {retried:?}"
    );
    assert_eq!(row(&photo_rows(&database), "/missing.jpg").status, "stored");
}

#[test]
fn address_guard_refuses_loopback_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    gallery.serve(
        "/a.jpg",
        Served::photo(jpeg(&two_tone(20, 20), None), "image/jpeg"),
    );
    let by_name = gallery.url("/b.jpg").replace("127.0.0.1", "localhost");
    let input = write_csv(
        dir.path(),
        "Annonces.csv",
        &[record("L1", &[gallery.url("/a.jpg"), by_name])],
    );
    let settings = settings(dir.path(), "");

    let run = import(&settings, &input, &[]);
    assert_eq!(run.summary["counts"]["created"], 1);
    assert_eq!(run.photos(), (0, 0, 2));
    assert!(gallery.seen().is_empty(), "the server got {:?}", gallery.seen());
    let rows = photo_rows(&dir.path().join("listings.db"));
    for photo in &rows {
        let error = photo.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("refused: "), "{rows:#?}");
        assert!(error.contains("is not a public address"), "{rows:#?}");
        assert!(error.contains("photos.allow_private_networks"), "{rows:#?}");
        assert!(!error.contains("attempts"), "a refusal is not retried: {rows:#?}");
    }
    assert!(
        row(&rows, "/b.jpg")
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("localhost resolves to 127.0.0.1"),
        "{rows:#?}"
    );
}

/// Writes a Poliris zip: `Annonces.csv`, `Photos.cfg` with `mode`, and files.
fn delivery(path: &Path, mode: &str, records: &[String], files: &[(&str, Vec<u8>)]) {
    let mut archive = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    archive.start_file("Annonces.csv", options).unwrap();
    archive.write_all(records.concat().as_bytes()).unwrap();
    archive.start_file("Photos.cfg", options).unwrap();
    archive.write_all(format!("Mode={mode}\r\n").as_bytes()).unwrap();
    for (name, bytes) in files {
        archive.start_file(format!("photos/{name}"), options).unwrap();
        archive.write_all(bytes).unwrap();
    }
    archive.finish().unwrap();
}

#[test]
fn diff_delivery_keeps_the_photos_of_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), "");
    let database = dir.path().join("listings.db");
    let names = |count: usize| -> Vec<String> { (1..=count).map(|n| format!("p{n}.jpg")).collect() };
    let photo = |width| jpeg(&two_tone(width, 20), None);

    let full = dir.path().join("full.zip");
    delivery(
        &full,
        "FULL",
        &[record("L1", &names(2))],
        &[("p1.jpg", photo(20)), ("p2.jpg", photo(22))],
    );
    let first = import(&settings, &full, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.photos(), (2, 0, 0));

    let again = import(&settings, &full, &[]);
    assert_eq!(
        again.photos(),
        (0, 2, 0),
        "same size and CRC: nothing extracted again"
    );

    let diff = dir.path().join("diff.zip");
    delivery(
        &diff,
        "DIFF",
        &[record("L1", &names(3))],
        &[("p3.jpg", photo(24))],
    );
    let second = import(&settings, &diff, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.photos(), (1, 2, 0));
    let rows = photo_rows(&database);
    let stored: Vec<String> = rows
        .iter()
        .map(|row| format!("{} {} {:?}", row.source, row.status, row.size))
        .collect();
    assert_eq!(
        stored,
        [
            "p1.jpg stored Some((20, 20))",
            "p2.jpg stored Some((22, 20))",
            "p3.jpg stored Some((24, 20))"
        ]
    );
    assert!(rows.iter().all(|row| row.listing == "L1"));
}

#[test]
fn media_gc_removes_only_unreferenced_files() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), "media_dir = \"shared-media\"");
    let media = dir.path().join("shared-media");
    let photo = |width| jpeg(&two_tone(width, 20), None);
    let two = dir.path().join("two.zip");
    delivery(
        &two,
        "FULL",
        &[record("L1", &["p1.jpg".to_string(), "p2.jpg".to_string()])],
        &[("p1.jpg", photo(20)), ("p2.jpg", photo(22))],
    );
    assert_eq!(import(&settings, &two, &[]).photos(), (2, 0, 0));
    let one = dir.path().join("one.zip");
    delivery(
        &one,
        "FULL",
        &[record("L1", &["p1.jpg".to_string()])],
        &[("p1.jpg", photo(20))],
    );
    let dropped = import(&settings, &one, &[]);
    assert_eq!(dropped.photos(), (0, 1, 0), "{}", dropped.stderr);
    assert_eq!(walk(&media).len(), 4, "an import never removes files");

    let gc = |extra: &[&str]| {
        let output = passerelle()
            .args(["media", "gc", "--format", "json", "--config"])
            .arg(&settings)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let recent = gc(&[]);
    assert_eq!(
        (recent["removed"].as_u64(), recent["recent"].as_u64()),
        (Some(0), Some(2))
    );
    let dry = gc(&["--min-age-minutes", "0", "--dry-run"]);
    assert_eq!(dry["removed"], 2);
    assert_eq!(walk(&media).len(), 4);
    let swept = gc(&["--min-age-minutes", "0"]);
    assert_eq!(
        (swept["removed"].as_u64(), swept["kept"].as_u64()),
        (Some(2), Some(2))
    );
    let left = walk(&media);

    // Another database given the same media directory is refused.
    let other = dir.path().join("other.db");
    let imported = passerelle()
        .arg("import")
        .arg(&one)
        .args(["--crm", "poliris", "--agency", AGENCY, "--config"])
        .arg(&settings)
        .arg("--database")
        .arg(&other)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert_eq!(imported.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("belongs to database"), "{stderr}");
    assert!(!other.exists(), "refused before any listing is written");
    let data_only = passerelle()
        .arg("import")
        .arg(&one)
        .args(["--crm", "poliris", "--agency", AGENCY, "--no-photos", "--config"])
        .arg(&settings)
        .arg("--database")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(data_only.status.code(), Some(0));
    let refused = passerelle()
        .args(["media", "gc", "--min-age-minutes", "0", "--config"])
        .arg(&settings)
        .arg("--database")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("belongs to database"));
    assert_eq!(walk(&media), left, "nothing was removed");
    let rows = photo_rows(&dir.path().join("listings.db"));
    for variant in &rows[0].variants {
        let path = variant["path"].as_str().unwrap();
        assert!(
            left.iter().any(|file| file.ends_with(path)),
            "{path} must stay: {left:?}"
        );
    }
}

#[test]
fn no_photos_leaves_photos_pending() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    gallery.serve(
        "/a.jpg",
        Served::photo(jpeg(&two_tone(20, 20), None), "image/jpeg"),
    );
    let input = write_csv(
        dir.path(),
        "Annonces.csv",
        &[record("L1", &[gallery.url("/a.jpg")])],
    );
    let settings = settings(dir.path(), PRIVATE_ALLOWED);
    let run = import(&settings, &input, &["--no-photos"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.photos(), (0, 0, 0));
    assert!(gallery.seen().is_empty());
    assert!(
        photo_rows(&dir.path().join("listings.db")).is_empty(),
        "photo rows are made by the photo step"
    );

    let later = import(&settings, &input, &["--photos-only"]);
    assert_eq!(later.photos(), (1, 0, 0), "{}", later.stderr);
}

/// Lists every photo file under a media directory, as paths relative to it.
/// The file naming the directory's database is left out.
pub fn walk(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.file_name().unwrap() != ".passerelle-database" {
                files.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    files
}

/// Imports the Hektor sample with the agency of its records.
fn import_sample(settings: &Path, input: &Path) -> Imported {
    let output = passerelle()
        .arg("import")
        .arg(input)
        .args([
            "--crm",
            "poliris",
            "--agency",
            "hektor_1_groupe",
            "--format",
            "json",
            "--config",
        ])
        .arg(settings)
        .output()
        .unwrap();
    imported(&output)
}

/// The real samples point their photos at `http://127.0.0.1:9/`, a closed
/// port: refused by the address guard, then refused by the port, then
/// served once a copy points at a server of the test's.
#[test]
fn real_sample_photos_refused_then_served() {
    let Some(samples) = crate::support::samples_dir() else {
        return;
    };
    let original = samples.join("hektor-annonces-cp1252.csv");
    let listings = 147;
    let count_rows = |database: &Path| photo_rows(database).len() as u64;

    let guarded = tempfile::tempdir().unwrap();
    let run = import_sample(&settings(guarded.path(), ""), &original);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.summary["counts"]["created"], listings);
    let photos = count_rows(&guarded.path().join("listings.db"));
    assert!(
        photos > listings,
        "the sample has several photos per listing: {photos}"
    );
    assert_eq!(run.photos(), (0, 0, photos));
    assert!(
        run.stderr.contains("127.0.0.1 is not a public address"),
        "{}",
        run.stderr
    );

    let allowed = tempfile::tempdir().unwrap();
    let run = import_sample(&settings(allowed.path(), PRIVATE_ALLOWED), &original);
    assert_eq!(run.summary["counts"]["created"], listings);
    assert_eq!(run.photos(), (0, 0, photos));
    let rows = photo_rows(&allowed.path().join("listings.db"));
    assert!(
        rows.iter().all(|row| row
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("onnection refused")),
        "{:#?}",
        &rows[..3]
    );

    let served = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    gallery.serve_any(Served::photo(jpeg(&two_tone(24, 16), None), "image/jpeg"));
    let bytes = std::fs::read(&original).unwrap();
    let copy = served.path().join("hektor-served.csv");
    let rewritten = replace_bytes(
        &bytes,
        b"http://127.0.0.1:9/",
        format!("{}/", gallery.base()).as_bytes(),
    );
    std::fs::write(&copy, rewritten).unwrap();
    let run = import_sample(&settings(served.path(), PRIVATE_ALLOWED), &copy);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.photos().2, 0, "{}", run.stderr);
    let (stored, reused, _) = run.photos();
    assert_eq!(stored + reused, photos);
    assert!(
        gallery
            .seen()
            .iter()
            .all(|seen| seen.path.contains("staticlbi.com")),
        "the paths keep their original host: {:?}",
        &gallery.seen()[..1]
    );
}

fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(position) = rest.windows(from.len()).position(|window| window == from) {
        out.extend_from_slice(&rest[..position]);
        out.extend_from_slice(to);
        rest = &rest[position + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[test]
fn shipped_zip_photos_render_default_variants() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let output = passerelle()
        .arg("import")
        .arg(fixture("photos-full.zip"))
        .args(["--crm", "poliris", "--agency", AGENCY, "--database"])
        .arg(&database)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("photos: 5 stored, 0 reused, 0 failed"),
        "{stderr}"
    );

    let media = dir.path().join("passerelle.media");
    let rows = photo_rows(&database);
    let terrasse = row(&rows, "ouest-001-terrasse.jpg");
    assert_eq!(terrasse.size, Some((2000, 1500)));
    assert_eq!(
        variant_image(&media, terrasse, "large").dimensions(),
        (1600, 1200)
    );
    assert_eq!(variant_image(&media, terrasse, "thumb").dimensions(), (400, 300));
    let jardin = row(&rows, "ouest-003-jardin.jpg");
    assert_eq!(variant_image(&media, jardin, "large").dimensions(), (900, 1200));
    assert_eq!(variant_image(&media, jardin, "thumb").dimensions(), (300, 400));
    assert_eq!((jardin.listing.as_str(), jardin.rank), ("OUEST-003", 2));
}

/// A sync over FTP stores the photos. The next sync of the same drop sends
/// only conditional requests, and `--photos-only` fetches nothing.
#[test]
fn sync_stores_photos_then_only_revalidates_them() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    gallery.serve_any(Served::photo(jpeg(&two_tone(30, 20), None), "image/jpeg"));
    let drops = dir.path().join("ftp-root/hektor");
    std::fs::create_dir_all(&drops).unwrap();
    let export = std::fs::read(fixture("cp1252-crlf.csv")).unwrap();
    let served = replace_bytes(
        &export,
        b"http://127.0.0.1:9/",
        format!("{}/", gallery.base()).as_bytes(),
    );
    std::fs::write(drops.join("AGENCE-SUD.csv"), served).unwrap();
    let ftp = crate::ftp::start_server(&dir.path().join("ftp-root"), 54100..=54199);
    let settings = SettingsFile::new()
        .ftp(ftp.port)
        .section("[photos]\nallow_private_networks = true\nvariants = [{ name = \"large\", max_side = 24 }]")
        .integration("sud", "hektor", "AGENCE-SUD", "")
        .write(dir.path());
    let sync = |extra: &[&str]| {
        let output = passerelle()
            .args(["sync", "--format", "json", "--config"])
            .arg(&settings)
            .args(extra)
            .env("PASSERELLE_FTP_PASSWORD", crate::ftp::PASSWORD)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        let counts = &results[0]["counts"];
        (
            counts["photos_stored"].as_u64().unwrap(),
            counts["photos_reused"].as_u64().unwrap(),
            counts["photos_failed"].as_u64().unwrap(),
        )
    };

    assert_eq!(sync(&[]), (7, 0, 0));
    gallery.reset_counts();
    assert_eq!(sync(&[]), (0, 7, 0));
    let seen = gallery.seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|request| request.conditional),
        "{seen:?}"
    );
    assert_eq!(gallery.body_bytes(), 0);

    gallery.reset_counts();
    assert_eq!(sync(&["--photos-only"]), (0, 0, 0), "nothing is pending");
    assert!(gallery.seen().is_empty());
}

/// A photo step waiting on a slow server holds no write transaction, so
/// another agency's import into the same database goes through meanwhile,
/// even past SQLite's ten-second wait for a lock.
#[test]
fn slow_photos_do_not_block_other_imports() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    gallery.serve(
        "/quick.jpg",
        Served::photo(jpeg(&two_tone(20, 20), None), "image/jpeg"),
    );
    let mut slow = Served::photo(jpeg(&two_tone(20, 20), None), "image/jpeg");
    slow.delay = Some(std::time::Duration::from_secs(14));
    gallery.serve("/slow.jpg", slow);
    let input = write_csv(
        dir.path(),
        "Annonces.csv",
        &[record(
            "L1",
            &[gallery.url("/quick.jpg"), gallery.url("/slow.jpg")],
        )],
    );
    let settings = settings(dir.path(), "allow_private_networks = true\ntimeout_seconds = 30");
    let settings_text = std::fs::read_to_string(&settings)
        .unwrap()
        .replace("timeout_seconds = 1\n", "");
    std::fs::write(&settings, settings_text).unwrap();

    let mut slow_import = std::process::Command::new(assert_cmd::cargo::cargo_bin("passerelle"))
        .arg("import")
        .arg(&input)
        .args(["--quiet", "--crm", "poliris", "--agency", AGENCY, "--config"])
        .arg(&settings)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !gallery.seen().iter().any(|seen| seen.path == "/slow.jpg") {
        assert!(
            started.elapsed().as_secs() < 20,
            "the slow photo was never asked for"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The quick photo's outcome is written within the step's two-second flush.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let other = passerelle()
        .arg("import")
        .arg(fixture("cp1252-crlf.csv"))
        .args([
            "--crm",
            "poliris",
            "--agency",
            "AGENCE-SUD",
            "--no-photos",
            "--config",
        ])
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(
        other.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    assert!(
        started.elapsed().as_secs() < 14,
        "the other import ran while the slow photo was still on its way"
    );
    assert_eq!(slow_import.wait().unwrap().code(), Some(0));
    let rows = photo_rows(&dir.path().join("listings.db"));
    assert!(rows.iter().all(|row| row.status == "stored"), "{rows:#?}");
}

/// An unpacked delivery: the photo files sit beside `Annonces.csv`.
#[test]
fn folder_delivery_photos_are_read_from_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), "");
    let delivery = dir.path().join("delivery");
    std::fs::create_dir(&delivery).unwrap();
    write_csv(
        &delivery,
        "Annonces.csv",
        &[record(
            "L1",
            &["Salon.JPG".to_string(), "missing.jpg".to_string()],
        )],
    );
    std::fs::write(delivery.join("Photos.cfg"), "Mode=FULL\r\n").unwrap();
    std::fs::write(delivery.join("salon.jpg"), jpeg(&two_tone(30, 20), None)).unwrap();

    let run = import(&settings, &delivery, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.photos(), (1, 0, 0), "a file name matches in any letter case");
    assert!(
        run.stderr
            .contains("`missing.jpg` is neither an http(s) URL nor a file of the delivery"),
        "{}",
        run.stderr
    );
    let again = import(&settings, &delivery, &[]);
    assert_eq!(again.photos(), (0, 1, 0), "the same bytes are not rendered again");
}

/// A new listing that shares a stored photo's URL gets its files after one
/// conditional request, without the photo's bytes.
#[test]
fn shared_stored_url_reuses_files() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = Gallery::start();
    gallery.serve(
        "/a.jpg",
        Served::photo(jpeg(&two_tone(20, 20), None), "image/jpeg"),
    );
    let settings = settings(dir.path(), PRIVATE_ALLOWED);
    let first = write_csv(dir.path(), "first.csv", &[record("L1", &[gallery.url("/a.jpg")])]);
    assert_eq!(import(&settings, &first, &[]).photos(), (1, 0, 0));

    gallery.reset_counts();
    let both = write_csv(
        dir.path(),
        "both.csv",
        &[
            record("L1", &[gallery.url("/a.jpg")]),
            record("L2", &[gallery.url("/a.jpg")]),
        ],
    );
    let run = import(&settings, &both, &[]);
    assert_eq!(run.photos(), (1, 1, 0), "{}", run.stderr);
    let seen = gallery.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].conditional, "{seen:?}");
    assert_eq!(gallery.body_bytes(), 0);
    let rows = photo_rows(&dir.path().join("listings.db"));
    assert_eq!(rows[0].variants, rows[1].variants, "{rows:#?}");
}
