//! Throughput and peak memory of `passerelle parse` and `passerelle import`
//! on synthetic Poliris exports, measured on the release binary.
//!
//! Run with `cargo bench --bench poliris_import`. Set
//! `PASSERELLE_BENCH_SIZES=10000,100000,300000` to choose the export sizes
//! (default `10000,100000`). Each step runs the binary three times in a child
//! process and reports the median wall time and the largest peak memory, the
//! child's maximum resident set size as `wait4` reports it. The export is
//! flushed to disk before any timing, so that its write-back does not slow
//! the database's own writes.
//!
//! The same imports then run against Postgres, on a throw-away server this
//! benchmark starts with Debian's `initdb` and `pg_ctl` (with its default,
//! durable settings), or on the server `PASSERELLE_TEST_DATABASE_URL`
//! names. Peak memory is passerelle's alone, not the server's. Before each
//! first import, the page cache is written out (and the server
//! checkpointed), so that no import pays for the one before.

#[path = "support/child.rs"]
mod child;

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use passerelle::crm::poliris::synthetic;
use passerelle::encoding::TextEncoding;
use passerelle::store::postgres::scratch;

const AGENCY: &str = "BENCH";
const REPEATS: usize = 3;

struct Measure {
    elapsed: Duration,
    peak_rss_kib: i64,
}

fn main() {
    let binary = env!("CARGO_BIN_EXE_passerelle");
    let sizes: Vec<usize> = std::env::var("PASSERELLE_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".to_string())
        .split(',')
        .map(|size| size.trim().parse().expect("PASSERELLE_BENCH_SIZES takes numbers"))
        .collect();
    let work = tempfile::tempdir().expect("cannot create a temporary directory");
    scratch::use_durable_server();
    let postgres = match scratch::database() {
        Ok(_) => true,
        Err(reason) => {
            eprintln!("no Postgres steps: {reason}");
            false
        }
    };

    println!("| step | listings | file MB | seconds | MB/s | listings/s | peak RSS MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &count in &sizes {
        let export = work.path().join(format!("export-{count}.csv"));
        generate(&export, count);
        let megabytes = fs::metadata(&export).unwrap().len() as f64 / 1_000_000.0;
        let export_arg = export.to_str().unwrap();

        let parse = median_of(|| run(binary, &["parse", "--quiet", export_arg]));
        report("parse (JSON Lines to /dev/null)", count, megabytes, &parse);

        let database = work.path().join(format!("bench-{count}.db"));
        let database_arg = database.to_str().unwrap().to_string();
        let first = median_of(|| {
            remove_database(&database);
            settle_disk(None);
            run(binary, &import_args(export_arg, &database_arg))
        });
        report("import into a new SQLite file", count, megabytes, &first);
        let again = median_of(|| run(binary, &import_args(export_arg, &database_arg)));
        report("re-import, nothing changed", count, megabytes, &again);
        remove_database(&database);

        if postgres {
            let mut url = String::new();
            let first = median_of(|| {
                url = scratch::database().expect("cannot create a Postgres database");
                settle_disk(Some(&url));
                run(binary, &import_args(export_arg, &url))
            });
            report("import into a new Postgres database", count, megabytes, &first);
            let again = median_of(|| run(binary, &import_args(export_arg, &url)));
            report("Postgres re-import, nothing changed", count, megabytes, &again);
        }
    }
}

fn import_args<'a>(export: &'a str, database: &'a str) -> [&'a str; 10] {
    [
        "import",
        "--quiet",
        export,
        "--crm",
        "poliris",
        "--agency",
        AGENCY,
        "--database",
        database,
        // The synthetic photo URLs point at a closed port; photos have a
        // benchmark of their own (benches/photo_pipeline.rs).
        "--no-photos",
    ]
}

/// Runs `measure` [`REPEATS`] times; returns the median time and the
/// largest peak memory.
fn median_of(mut measure: impl FnMut() -> Measure) -> Measure {
    let mut runs: Vec<Measure> = (0..REPEATS).map(|_| measure()).collect();
    runs.sort_by_key(|run| run.elapsed);
    let peak_rss_kib = runs.iter().map(|run| run.peak_rss_kib).max().unwrap_or(0);
    Measure {
        elapsed: runs[REPEATS / 2].elapsed,
        peak_rss_kib,
    }
}

/// Writes out what earlier steps left in the page cache, and with a
/// Postgres URL checkpoints the server, so that a measured import does not
/// pay for the write-back of the one before.
fn settle_disk(postgres: Option<&str>) {
    if let Some(url) = postgres {
        scratch::execute(url, "CHECKPOINT").expect("cannot checkpoint the Postgres server");
    }
    let _ = Command::new("sync").status();
}

fn remove_database(database: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", database.display()));
    }
}

fn generate(path: &Path, count: usize) {
    let mut out = BufWriter::new(File::create(path).expect("cannot create the export"));
    synthetic::write_export(&mut out, AGENCY, count, 42, 0, TextEncoding::Windows1252)
        .expect("cannot write the export");
    let file = out.into_inner().expect("cannot write the export");
    file.sync_all().expect("cannot flush the export to disk");
}

/// Runs the binary once and returns its wall time and peak memory.
fn run(binary: &str, args: &[&str]) -> Measure {
    let (elapsed, peak_rss_kib) = child::measure(Command::new(binary).args(args));
    Measure {
        elapsed,
        peak_rss_kib,
    }
}

fn report(step: &str, count: usize, megabytes: f64, measure: &Measure) {
    let seconds = measure.elapsed.as_secs_f64();
    println!(
        "| {step} | {count} | {megabytes:.1} | {seconds:.2} | {:.0} | {:.0} | {:.1} |",
        megabytes / seconds,
        count as f64 / seconds,
        measure.peak_rss_kib as f64 / 1024.0
    );
}
