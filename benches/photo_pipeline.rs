//! Photo throughput and photo re-sync cost.
//!
//! Run with `cargo bench --bench photo_pipeline`. Two measurements:
//!
//! 1. Photos per second rendering 4000 × 3000 JPEGs into the two default
//!    variants (`large` 1600 px, `thumb` 400 px, JPEG quality 82), with
//!    passerelle's renderer on one thread per core, beside ImageMagick's
//!    `convert -resize` on the same files and sizes (the Debian package,
//!    `/usr/bin/convert`; skipped with a message when absent). ImageMagick
//!    runs two ways, and the faster counts: one file at a time with its own
//!    threads, and one process per core with one thread each.
//! 2. A re-import of 1,000 synthetic listings (8 photos each) whose photos
//!    are served by a local server on 127.0.0.1 and did not change: the
//!    requests it sends, how many are conditional, and the photo bytes the
//!    server sends back.
//!
//! `PASSERELLE_BENCH_PHOTOS` sets the number of 4000 × 3000 photos
//! (default 16).

#[path = "../tests/cli/gallery.rs"]
#[allow(dead_code, reason = "the tests use the rest of the gallery")]
mod gallery;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use passerelle::crm::poliris::synthetic;
use passerelle::encoding::TextEncoding;
use passerelle::photos::variants::{RenderSettings, render};

const IMAGEMAGICK: &str = "/usr/bin/convert";
const REPEATS: usize = 3;

fn main() {
    let count: usize = std::env::var("PASSERELLE_BENCH_PHOTOS").ok().map_or(16, |value| {
        value.parse().expect("PASSERELLE_BENCH_PHOTOS takes a number")
    });
    let work = tempfile::tempdir().expect("cannot create a temporary directory");
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());

    println!("## Rendering {count} photos of 4000 × 3000 to large (1600) and thumb (400), {cores} cores\n");
    let photos = generate_photos(work.path(), count);
    let megabytes: f64 = photos
        .iter()
        .map(|photo| fs::metadata(photo).unwrap().len() as f64)
        .sum::<f64>()
        / 1_000_000.0;
    println!("{count} JPEGs, {megabytes:.1} MB in all\n");
    println!("| renderer | seconds | photos/s |");
    println!("|---|---:|---:|");
    let ours = median(|| render_all(&photos, &work.path().join("ours"), cores));
    row("passerelle (image + fast_image_resize)", count, ours);
    if Path::new(IMAGEMAGICK).is_file() {
        let sequential = median(|| imagemagick(&photos, &work.path().join("magick"), 1, None));
        row(
            "ImageMagick, one file at a time, its own threads",
            count,
            sequential,
        );
        let parallel = median(|| imagemagick(&photos, &work.path().join("magick"), cores, Some(1)));
        row(
            &format!("ImageMagick, {cores} processes of one thread"),
            count,
            parallel,
        );
        let best = sequential.min(parallel);
        println!(
            "\npasserelle renders {:.2}× as many photos per second as ImageMagick's best",
            best.as_secs_f64() / ours.as_secs_f64()
        );
    } else {
        println!("\nSKIPPED ImageMagick: {IMAGEMAGICK} not found (apt-get install imagemagick)");
    }

    println!("\n## Re-import of 1,000 listings whose photos did not change\n");
    resync(work.path());
}

/// Writes photo-like JPEGs: smooth light, edges and fine texture, so that
/// the files are as large as a camera's at quality 90 (2 to 4 MB).
fn generate_photos(dir: &Path, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|index| {
            let seed = index as u32 * 7919 + 1;
            let image = RgbImage::from_fn(4000, 3000, |x, y| {
                let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ seed) >> 27;
                let band = if (x / 250 + y / 200 + index as u32).is_multiple_of(3) {
                    40
                } else {
                    0
                };
                Rgb([
                    ((x / 20 + seed) % 200 + noise + band) as u8,
                    ((y / 15) % 180 + noise + 20) as u8,
                    (((x + y) / 30) % 160 + noise + band / 2 + 30) as u8,
                ])
            });
            let path = dir.join(format!("photo-{index:02}.jpg"));
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
                .encode_image(&image)
                .expect("cannot encode a photo");
            fs::write(&path, bytes).expect("cannot write a photo");
            path
        })
        .collect()
}

/// Renders every photo with passerelle's renderer, one thread per core,
/// reading each file and writing its variants as the photo step does.
fn render_all(photos: &[PathBuf], out: &Path, threads: usize) -> Duration {
    fs::create_dir_all(out).unwrap();
    let settings = RenderSettings::default();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(photo) = photos.get(index) else {
                        break;
                    };
                    let bytes = fs::read(photo).unwrap();
                    let rendered = render(&bytes, &settings).expect("cannot render a photo");
                    for variant in rendered.variants {
                        fs::write(out.join(format!("{index}-{}.jpg", variant.name)), variant.bytes).unwrap();
                    }
                }
            });
        }
    });
    started.elapsed()
}

/// Renders every photo with `convert`: the large variant, then the thumb
/// from it, as passerelle does. `processes` run at once, each limited to
/// `threads` threads when given.
fn imagemagick(photos: &[PathBuf], out: &Path, processes: usize, threads: Option<usize>) -> Duration {
    fs::create_dir_all(out).unwrap();
    let started = Instant::now();
    for chunk in photos.chunks(processes) {
        let children: Vec<_> = chunk
            .iter()
            .map(|photo| {
                let name = photo.file_stem().unwrap().to_string_lossy().into_owned();
                let mut command = Command::new(IMAGEMAGICK);
                command
                    .arg(photo)
                    .args([
                        "-auto-orient",
                        "-resize",
                        "1600x1600>",
                        "-quality",
                        "82",
                        "-write",
                    ])
                    .arg(out.join(format!("{name}-large.jpg")))
                    .args(["-resize", "400x400>", "-quality", "82"])
                    .arg(out.join(format!("{name}-thumb.jpg")))
                    .stdout(Stdio::null());
                if let Some(threads) = threads {
                    command.env("MAGICK_THREAD_LIMIT", threads.to_string());
                }
                command.spawn().expect("cannot start convert")
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success(), "convert failed");
        }
    }
    started.elapsed()
}

fn median(mut measure: impl FnMut() -> Duration) -> Duration {
    let mut runs: Vec<Duration> = (0..REPEATS).map(|_| measure()).collect();
    runs.sort();
    runs[REPEATS / 2]
}

fn row(renderer: &str, count: usize, elapsed: Duration) {
    println!(
        "| {renderer} | {:.2} | {:.2} |",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}

/// Imports 1,000 listings whose photos a local server serves, then imports
/// the same export again and reports what the second import asked for.
fn resync(dir: &Path) {
    let server = gallery::Gallery::start();
    server.serve_any(gallery::Served::photo(
        gallery::jpeg(&gallery::two_tone(1200, 900), None),
        "image/jpeg",
    ));
    let mut export = Vec::new();
    synthetic::write_export(&mut export, "BENCH", 1_000, 7, 0, TextEncoding::Utf8).unwrap();
    let text = String::from_utf8(export)
        .unwrap()
        .replace("http://127.0.0.1:9/", &format!("{}/", server.base()));
    let export_path = dir.join("resync.csv");
    fs::write(&export_path, text).unwrap();
    let settings = dir.join("resync.toml");
    fs::write(&settings, "[photos]\nallow_private_networks = true\n").unwrap();
    let database = dir.join("resync.db");

    let import = || {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .arg("import")
            .arg(&export_path)
            .args(["--crm", "poliris", "--agency", "BENCH", "--quiet", "--config"])
            .arg(&settings)
            .arg("--database")
            .arg(&database)
            .status()
            .expect("cannot start passerelle");
        assert!(status.success(), "passerelle import failed");
        started.elapsed()
    };

    let first = import();
    let first_requests = server.seen().len();
    server.reset_counts();
    let second = import();
    let seen = server.seen();
    let conditional = seen.iter().filter(|request| request.conditional).count();
    println!("| import | seconds | photo requests | conditional | photo bytes sent |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| first | {:.2} | {first_requests} | 0 | (every photo) |",
        first.as_secs_f64()
    );
    println!(
        "| again, nothing changed | {:.2} | {} | {conditional} | {} |",
        second.as_secs_f64(),
        seen.len(),
        server.body_bytes()
    );
}
