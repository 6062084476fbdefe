//! Throughput and peak memory of `passerelle parse` on large generated
//! OpenImmo and Kyero files, measured on the release binary.
//!
//! Run with `cargo bench --bench xml_parse`. `PASSERELLE_BENCH_XML_MB` sets
//! the size of each file in megabytes (default 200). Each file is parsed
//! three times in a child process; the median wall time and the largest
//! peak resident set size (`ru_maxrss` from `wait4`) are reported.

#[path = "support/child.rs"]
mod child;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const REPEATS: usize = 3;

fn main() {
    let megabytes: u64 = std::env::var("PASSERELLE_BENCH_XML_MB")
        .ok()
        .map_or(200, |value| {
            value.parse().expect("PASSERELLE_BENCH_XML_MB takes a number")
        });
    let work = tempfile::tempdir().expect("cannot create a temporary directory");
    println!("| format | file MB | listings | seconds | MB/s | listings/s | peak RSS MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (crm, write) in [
        (
            "openimmo",
            write_openimmo as fn(&mut dyn Write, usize) -> std::io::Result<()>,
        ),
        ("kyero", write_kyero),
    ] {
        let path = work.path().join(format!("{crm}.xml"));
        let listings = generate(&path, megabytes * 1_000_000, write);
        let size = std::fs::metadata(&path).unwrap().len() as f64 / 1_000_000.0;
        let mut runs: Vec<(Duration, i64)> = (0..REPEATS).map(|_| run(crm, &path)).collect();
        runs.sort();
        let (elapsed, _) = runs[REPEATS / 2];
        let peak = runs.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
        let seconds = elapsed.as_secs_f64();
        println!(
            "| {crm} | {size:.1} | {listings} | {seconds:.2} | {:.0} | {:.0} | {:.1} |",
            size / seconds,
            listings as f64 / seconds,
            peak as f64 / 1024.0
        );
    }
}

/// Writes listings in batches of 1,000 until the file reaches `bytes`.
fn generate(path: &Path, bytes: u64, write: fn(&mut dyn Write, usize) -> std::io::Result<()>) -> usize {
    let file = File::create(path).expect("cannot create the file");
    let mut out = BufWriter::new(file);
    let (head, tail) = if path.file_name().unwrap() == "kyero.xml" {
        (
            "<?xml version=\"1.0\"?>\n<root><kyero><feed_version>3</feed_version></kyero>\n",
            "</root>\n",
        )
    } else {
        (
            "<?xml version=\"1.0\"?>\n<openimmo><uebertragung umfang=\"VOLL\" version=\"1.2.7\"/>\n\
             <anbieter><anbieternr>BENCH</anbieternr>\n",
            "</anbieter></openimmo>\n",
        )
    };
    out.write_all(head.as_bytes()).unwrap();
    let mut listings = 0;
    let mut written = 0u64;
    while written < bytes {
        let mut batch = Vec::new();
        for _ in 0..1_000 {
            write(&mut batch, listings).unwrap();
            listings += 1;
        }
        written += batch.len() as u64;
        out.write_all(&batch).unwrap();
    }
    out.write_all(tail.as_bytes()).unwrap();
    let file = out.into_inner().expect("cannot write the file");
    file.sync_all().expect("cannot flush the file");
    listings
}

const TEXT: &str = "Helle Wohnung in ruhiger Lage, nahe Altstadt und Main. Großzügiger Balkon, \
                    Einbauküche &amp; Parkett.<br>Keller, Aufzug, Tiefgarage. ";

fn write_openimmo(out: &mut dyn Write, index: usize) -> std::io::Result<()> {
    write!(
        out,
        "<immobilie><objektkategorie><vermarktungsart KAUF=\"{}\" MIETE_PACHT=\"{}\"/><objektart>\
         <wohnung wohnungtyp=\"ETAGE\"/></objektart></objektkategorie><geo><plz>{:05}</plz><ort>Würzburg</ort>\
         <strasse>Lindenstraße</strasse><hausnummer>{}</hausnummer><land iso_land=\"DEU\"/></geo>\
         <kontaktperson><email_direkt>agent{}@makler.example</email_direkt></kontaktperson><preise>\
         <kaufpreis>{}</kaufpreis><kaltmiete>{}</kaltmiete><nebenkosten>210</nebenkosten></preise><flaechen>\
         <wohnflaeche>{}.5</wohnflaeche><anzahl_zimmer>3</anzahl_zimmer></flaechen><freitexte>\
         <objekttitel>Wohnung {index}</objekttitel><objekt_text><![CDATA[{}]]></objekt_text><lage><![CDATA[{}]]></lage>\
         </freitexte><anhaenge>",
        index.is_multiple_of(2),
        !index.is_multiple_of(2),
        97_000 + index % 900,
        index % 80,
        index % 7,
        250_000 + index,
        900 + index % 500,
        40 + index % 90,
        TEXT.repeat(12),
        TEXT.repeat(3),
    )?;
    for photo in 0..8 {
        write!(
            out,
            "<anhang location=\"EXTERN\" gruppe=\"BILD\"><anhangtitel>Bild {photo}</anhangtitel><format>JPG</format>\
             <daten><pfad>http://127.0.0.1:9/cdn.makler.example/{index}/{photo}.jpg</pfad></daten></anhang>"
        )?;
    }
    writeln!(
        out,
        "</anhaenge><verwaltung_techn><objektnr_extern>W-{index}</objektnr_extern>\
         <openimmo_obid>OBJ-{index}</openimmo_obid></verwaltung_techn></immobilie>"
    )
}

fn write_kyero(out: &mut dyn Write, index: usize) -> std::io::Result<()> {
    write!(
        out,
        "<property><id>{index}</id><date>2026-11-01 10:00:00</date><ref>REF-{index}</ref><price>{}</price>\
         <currency>EUR</currency><price_freq>sale</price_freq><type>Apartment</type><town>Dénia</town>\
         <province>Alicante</province><country>Spain</country><location><latitude>38.84</latitude>\
         <longitude>0.10</longitude></location><beds>{}</beds><baths>2</baths><pool>1</pool>\
         <surface_area><built>{}</built></surface_area><desc><en><![CDATA[{}]]></en><es>{}</es></desc><images>",
        150_000 + index,
        1 + index % 5,
        50 + index % 200,
        "Bright flat close to the old town and the beach, with a large terrace. ".repeat(14),
        "Piso luminoso cerca del casco antiguo y de la playa. ".repeat(6),
    )?;
    for photo in 1..=8 {
        write!(
            out,
            "<image id=\"{photo}\"><url>http://127.0.0.1:9/cdn.costa.example/{index}/{photo}.jpg</url></image>"
        )?;
    }
    writeln!(out, "</images></property>")
}

/// Runs `passerelle parse --quiet` on a file; returns its wall time and peak memory.
fn run(crm: &str, path: &Path) -> (Duration, i64) {
    child::measure(
        Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .args(["parse", "--quiet", "--crm", crm])
            .arg(path),
    )
}
