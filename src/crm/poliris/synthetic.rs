//! Synthetic Poliris exports of any size, for benchmarks and tests.
//!
//! Records look like real 4.12 exports: 334 quoted columns, a description of
//! about 1 KiB with `<br>` marks, eight photo URLs, DPE and GES, coordinates.
//! The same seed always gives the same bytes. Photo URLs point at
//! `127.0.0.1:9`, a closed port, so nothing ever reaches a real host.

use std::io::{self, Write};

use super::columns::{COLUMN_COUNT, rank};
use crate::encoding::TextEncoding;

const CITIES: [(&str, &str); 8] = [
    ("75011", "Paris 11ème"),
    ("69003", "Lyon 3ème"),
    ("13006", "Marseille 6ème"),
    ("33000", "Bordeaux"),
    ("44000", "Nantes"),
    ("59800", "Lille"),
    ("83700", "Saint-Raphaël"),
    ("84220", "Gordes"),
];
const PROPERTY_TYPES: [&str; 5] = ["appartement", "maison/villa", "terrain", "local", "parking/box"];
const TRANSACTION_TYPES: [&str; 4] = ["vente", "Vente", "location", "Vente de prestige"];
const CLASSES: [&str; 7] = ["A", "B", "C", "D", "E", "F", "G"];
const SENTENCES: [&str; 6] = [
    "Au cœur du quartier, bel appartement lumineux entièrement rénové en 2021.",
    "Séjour de 32 m² ouvrant sur un balcon plein sud, cuisine équipée séparée.",
    "Deux chambres avec placards, salle d’eau avec fenêtre, WC indépendant.",
    "Cave et place de parking en sous-sol ; copropriété bien entretenue.",
    "Proche écoles, commerces et transports – à voir sans tarder !",
    "Honoraires à la charge du vendeur. DPE réalisé le 14/04/2024.",
];

/// Writes `count` listings for agency `agency` to `out`, one record per line
/// ending in CRLF, encoded in `encoding`.
///
/// `revision` changes the price of every tenth listing, so that two
/// revisions of the same seed differ like two successive snapshots.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_export(
    out: &mut impl Write,
    agency: &str,
    count: usize,
    seed: u64,
    revision: u32,
    encoding: TextEncoding,
) -> io::Result<()> {
    let mut random = XorShift(seed.max(1));
    let mut fields = vec![String::new(); COLUMN_COUNT];
    let mut line = String::with_capacity(8 * 1024);
    for index in 0..count {
        fill_record(&mut fields, agency, index, revision, &mut random);
        line.clear();
        for (position, value) in fields.iter().enumerate() {
            if position > 0 {
                line.push_str("!#");
            }
            line.push('"');
            line.push_str(value);
            line.push('"');
        }
        line.push_str("\r\n");
        match encoding {
            TextEncoding::Utf8 => out.write_all(line.as_bytes())?,
            TextEncoding::Windows1252 => out.write_all(&encoding_rs::WINDOWS_1252.encode(&line).0)?,
        }
    }
    Ok(())
}

fn fill_record(fields: &mut [String], agency: &str, index: usize, revision: u32, random: &mut XorShift) {
    for field in fields.iter_mut() {
        field.clear();
    }
    let mut set = |rank: usize, value: String| fields[rank - 1] = value;
    let (postal_code, city) = CITIES[random.below(CITIES.len())];
    let transaction = TRANSACTION_TYPES[random.below(TRANSACTION_TYPES.len())];
    let is_rent = transaction == "location";
    let mut price = if is_rent {
        400 + random.below(2_000) as u64
    } else {
        90_000 + random.below(900_000) as u64
    };
    if revision > 0 && index.is_multiple_of(10) {
        price += u64::from(revision) * 1_000;
    }

    set(rank::AGENCY_ID, agency.to_string());
    set(rank::REFERENCE, format!("{}_{index}", index % 40));
    set(rank::TRANSACTION_TYPE, transaction.to_string());
    set(
        rank::PROPERTY_TYPE,
        PROPERTY_TYPES[random.below(PROPERTY_TYPES.len())].to_string(),
    );
    set(rank::POSTAL_CODE, postal_code.to_string());
    set(rank::CITY, city.to_string());
    set(rank::COUNTRY, "France".to_string());
    set(
        rank::ADDRESS,
        format!("{} rue de la République", 1 + random.below(200)),
    );
    set(rank::PRICE, price.to_string());
    set(rank::FEES, "4.50".to_string());
    set(
        rank::LIVING_AREA,
        format!("{}.{}", 18 + random.below(240), random.below(100)),
    );
    set(rank::LAND_AREA, random.below(3_000).to_string());
    set(rank::ROOMS, (1 + random.below(8)).to_string());
    set(rank::BEDROOMS, random.below(6).to_string());
    set(
        rank::TITLE,
        format!("Appartement {} pièces – {city}", 1 + random.below(6)),
    );
    let mut description = String::with_capacity(1_200);
    for _ in 0..3 {
        for sentence in SENTENCES {
            description.push_str(sentence);
            description.push(' ');
        }
        description.push_str("<br><br>");
    }
    set(rank::DESCRIPTION, description);
    set(
        rank::CHARGES,
        if is_rent { "80".to_string() } else { String::new() },
    );
    set(rank::FLOOR, random.below(8).to_string());
    set(rank::YEAR_BUILT, (1900 + random.below(125)).to_string());
    set(rank::BATHROOMS, "1".to_string());
    set(
        rank::LIFT,
        if random.below(2) == 0 { "OUI" } else { "NON" }.to_string(),
    );
    set(rank::CONTACT_EMAIL, "contact@agence.example".to_string());
    set(rank::NEGOTIATOR_CODE, format!("NEGO-{}", random.below(12)));
    set(rank::OWNER_FIRST, "Propriétaire".to_string());
    for (photo, (photo_rank, caption_rank)) in rank::PHOTOS.iter().take(8).enumerate() {
        set(
            *photo_rank,
            format!("http://127.0.0.1:9/photos.example/{agency}/{index}/photo-{photo}.jpg"),
        );
        if photo == 0 {
            set(*caption_rank, "Séjour".to_string());
        }
    }
    set(rank::TECHNICAL_ID, format!("{agency}-{index:08}"));
    set(rank::DPE_VALUE, (50 + random.below(400)).to_string());
    set(rank::DPE_CLASS, CLASSES[random.below(CLASSES.len())].to_string());
    set(rank::GES_VALUE, (2 + random.below(80)).to_string());
    set(rank::GES_CLASS, CLASSES[random.below(CLASSES.len())].to_string());
    set(
        rank::LATITUDE,
        format!("4{}.{:06}", 3 + random.below(6), random.below(1_000_000)),
    );
    set(
        rank::LONGITUDE,
        format!("{}.{:06}", random.below(7), random.below(1_000_000)),
    );
    set(rank::FORMAT_VERSION, "4.12".to_string());
    set(rank::DPE_DATE, "14/04/2024".to_string());
}

/// A small deterministic pseudo-random generator (xorshift64); test data
/// needs repeatability, not quality.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::poliris::reader::RecordReader;

    #[test]
    fn same_seed_gives_same_bytes() {
        let mut first = Vec::new();
        let mut second = Vec::new();
        write_export(&mut first, "AG", 20, 7, 0, TextEncoding::Utf8).unwrap();
        write_export(&mut second, "AG", 20, 7, 0, TextEncoding::Utf8).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn records_have_all_columns() {
        let mut bytes = Vec::new();
        write_export(&mut bytes, "AG", 5, 1, 0, TextEncoding::Windows1252).unwrap();
        let mut reader = RecordReader::new(&bytes[..]);
        let mut count = 0;
        while let Some(record) = reader.read_record().unwrap() {
            assert_eq!(record.len(), COLUMN_COUNT);
            assert_eq!(record.defect, None);
            count += 1;
        }
        assert_eq!(count, 5);
    }
}
