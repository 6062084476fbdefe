//! Writes a synthetic Poliris export, for trying passerelle on large files.
//!
//! `cargo run --release --example generate_poliris -- OUT.csv COUNT [AGENCY] [REVISION]`

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use passerelle::crm::poliris::synthetic;
use passerelle::encoding::TextEncoding;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(Ok(count))) = (args.first(), args.get(1).map(|count| count.parse::<usize>()))
    else {
        eprintln!("usage: generate_poliris OUT.csv COUNT [AGENCY] [REVISION]");
        return ExitCode::from(2);
    };
    let agency = args.get(2).map_or("SYNTHETIC", String::as_str);
    let revision = args
        .get(3)
        .and_then(|revision| revision.parse().ok())
        .unwrap_or(0);
    let file = match File::create(path) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: cannot create {path}: {error}");
            return ExitCode::from(3);
        }
    };
    let mut out = BufWriter::new(file);
    if let Err(error) =
        synthetic::write_export(&mut out, agency, count, 42, revision, TextEncoding::Windows1252)
    {
        eprintln!("error: cannot write {path}: {error}");
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}
