//! Acceptance tests on real Poliris exports from Hektor and Propertybase.
//!
//! Every expected value was read from the raw file itself (lines split on
//! `!#`, quotes and spaces stripped, 1-based ranks, Hektor decoded as
//! Windows-1252), not copied from passerelle's output.

use std::path::Path;

use serde_json::{Value, json};
use tempfile::tempdir;

use crate::support::{active_source_ids, by_source_id, counts, import, open_database, parse, samples_dir};

const HEKTOR: &str = "hektor-annonces-cp1252.csv";
const HEKTOR_AGENCY: &str = "hektor_1_groupe";
const PROPERTYBASE_CSV: &str = "propertybase-annonces-utf8.csv";
/// The same export as `PROPERTYBASE_CSV`, delivered as a zip with
/// `config.txt` and `photos.cfg`, whose `Annonces.csv` is byte-identical.
const PROPERTYBASE_ZIP: &str = "propertybase-RC-1577371.zip";
/// An older export of the same agency, with an empty column 1 and with `œ`,
/// `’` and `–` already replaced by `?` in the file.
const PROPERTYBASE_LOSSY: &str = "propertybase-annonces-lossy-utf8.csv";
const PROPERTYBASE_AGENCY: &str = "RC-1577371";

/// Expected fields of one listing, derived from its raw record by the
/// mapping rules passerelle implements.
struct Expected {
    /// Physical line of the record in the file (1-based), for messages.
    line: usize,
    /// Column 175, else column 2.
    source_id: &'static str,
    /// Column 20 trimmed, or `None` when the column is empty.
    title: Option<&'static str>,
    /// Column 11.
    price: f64,
    /// Column 16, in m².
    living_area: Option<f64>,
    /// Column 17, in m².
    land_area: Option<f64>,
    /// Column 18.
    rooms: Option<i64>,
    /// Column 19.
    bedrooms: Option<i64>,
    /// Column 108 when filled, else column 5.
    postal_code: &'static str,
    /// Column 109 when it names another town than column 6 (compared without
    /// case, accents or `st`/`ste` abbreviations), else column 6.
    city: &'static str,
    /// `dpe.class.kind` from column 177.
    dpe_class: Option<&'static str>,
    /// Column 176, in kWh/m²/year.
    dpe_value: Option<f64>,
    /// Non-empty columns among 85–93, 164–174 and 264–273.
    photo_count: usize,
    first_photo: Option<&'static str>,
    last_photo: Option<&'static str>,
}

const HEKTOR_LISTINGS: &[Expected] = &[
    Expected {
        line: 1,
        source_id: "11849",
        title: Some("Saint Raphael, coeur de ville, murs commerciaux avec grande"),
        price: 349_800.0,
        living_area: Some(200.0),
        land_area: Some(0.0),
        rooms: Some(0),
        bedrooms: Some(0),
        postal_code: "83700",
        city: "Saint-Raphaël",
        dpe_class: None,
        dpe_value: None,
        photo_count: 4,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/8/992e839103eedfde42e983ce88c18736/photo_d22eea2109cad177dd0a4f83e5a6ae53.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/8/992e839103eedfde42e983ce88c18736/photo_0b8b3c3dc2f4c73451f3377722978315.jpg",
        ),
    },
    Expected {
        line: 28,
        source_id: "26290",
        title: Some("Villa de 176m2 à acheter 690 000 EUR à Sainte-Maxime"),
        price: 690_000.0,
        living_area: Some(176.0),
        land_area: Some(1611.0),
        rooms: Some(6),
        bedrooms: Some(4),
        postal_code: "83120",
        city: "Sainte-Maxime",
        dpe_class: Some("E"),
        dpe_value: Some(295.0),
        photo_count: 14,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/14/44d480c44235f8e61ba2a8f61f9e8005/photo_06697c06085325a1c37c5b5fe497dbe6.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/14/44d480c44235f8e61ba2a8f61f9e8005/photo_3d39d7895da4fc5959a166a8a3636a32.jpg",
        ),
    },
    Expected {
        line: 29,
        source_id: "26324",
        title: Some("AGAY MURS COMMERCIAUX LIBRE 99M2"),
        price: 350_000.0,
        living_area: Some(99.0),
        land_area: Some(0.0),
        rooms: Some(0),
        bedrooms: Some(0),
        postal_code: "83530",
        city: "Agay",
        dpe_class: Some("not_subject"),
        dpe_value: None,
        photo_count: 6,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/7/a7fb3e0472ccda7999c563a620ed7748/photo_b88829c405f81824f3fc033c54f5832e.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/7/a7fb3e0472ccda7999c563a620ed7748/photo_87cc2319f03059fd099a91c0f1deaccd.jpg",
        ),
    },
    Expected {
        line: 42,
        source_id: "26624",
        title: Some("Immeuble de rapport   Cannes / Proximité Centre-Ville et Bor"),
        price: 3_200_000.0,
        living_area: Some(740.0),
        land_area: Some(0.0),
        rooms: Some(40),
        bedrooms: Some(0),
        postal_code: "06400",
        city: "cannes",
        dpe_class: None,
        dpe_value: None,
        photo_count: 20,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/11/7aaf397e8f370a849f8d2601efafecff/photo_7a34680d52ca68d1bcbdea0f34a374d9.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/11/7aaf397e8f370a849f8d2601efafecff/photo_4584d704ea4218ac63e493445e7f81e2.jpg",
        ),
    },
    Expected {
        line: 68,
        source_id: "27027",
        title: Some("A VENDRE SAINT-RAPHAËL BOULOURIS   200 M DES PLAGES   DERNIE"),
        price: 169_000.0,
        living_area: Some(30.0),
        land_area: Some(0.0),
        rooms: Some(2),
        bedrooms: Some(1),
        postal_code: "83700",
        city: "saint-raphaël",
        dpe_class: Some("C"),
        dpe_value: Some(180.0),
        photo_count: 8,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/11/b166c036b4568d06024f27202ca00565/photo_bcd9841b936469ed1b60dd49cd7d0600.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/11/b166c036b4568d06024f27202ca00565/photo_825b47cf08c7f5ef073c0409396fa4b5.jpg",
        ),
    },
    Expected {
        line: 74,
        source_id: "27096",
        title: Some("Villa plain pied 6 pièces"),
        price: 680_000.0,
        living_area: Some(135.0),
        land_area: Some(620.0),
        rooms: Some(6),
        bedrooms: Some(4),
        postal_code: "83600",
        city: "Fréjus",
        dpe_class: Some("B"),
        dpe_value: Some(83.0),
        photo_count: 9,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/10/a5fc363203961dc6a8663cc25ad46ef9/photo_fc3d9bfb7b67e7cb415fd7eb9deb2dad.png",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/10/a5fc363203961dc6a8663cc25ad46ef9/photo_c01fbe0daf13423b13ff46a27e79c7b8.jpg",
        ),
    },
    Expected {
        line: 110,
        source_id: "27192",
        title: Some("LES ISSAMBRES   VILLA D'EXCEPTION AVEC VUE PANORAMIQUE MER &"),
        price: 1_935_000.0,
        living_area: Some(200.0),
        land_area: Some(1145.0),
        rooms: Some(6),
        bedrooms: Some(5),
        postal_code: "83380",
        city: "Les Issambres",
        dpe_class: Some("A"),
        dpe_value: Some(52.0),
        photo_count: 30,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/14/68cf193bbf0790ceb557a34e9418465e/photo_8475b39641ca49f91f5cd7d1997dfb3a.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/14/68cf193bbf0790ceb557a34e9418465e/photo_60ce9e042f2d569f709576ed9f51e7db.jpg",
        ),
    },
    Expected {
        line: 115,
        source_id: "27214",
        title: Some("Saint Raphael Santa Lucia local commercial neuf en location"),
        price: 1_780.0,
        living_area: Some(42.6),
        land_area: Some(0.0),
        rooms: Some(0),
        bedrooms: Some(0),
        postal_code: "83700",
        city: "Saint-Raphaël",
        dpe_class: Some("blank"),
        dpe_value: None,
        photo_count: 8,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/8/95306b21bc9c7f4e649b075d2a1fa97e/photo_616af0be5a4b3efee5a6565f55c78778.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/8/95306b21bc9c7f4e649b075d2a1fa97e/photo_b5e66d678294a869c33d3379da201655.jpg",
        ),
    },
    Expected {
        line: 147,
        source_id: "27358",
        title: Some("Bordure Domaine de Saint-Endréol, BASTIDON avec jardin"),
        price: 175_000.0,
        living_area: Some(30.0),
        land_area: Some(0.0),
        rooms: Some(3),
        bedrooms: Some(2),
        postal_code: "83920",
        city: "La Motte",
        dpe_class: Some("E"),
        dpe_value: Some(309.0),
        photo_count: 11,
        first_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/11/b51bf50620a63db869716e5f813f7699/photo_cd9d944bb069a25d5966d8755ac9e053.png",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/groupementprimmo.staticlbi.com/wa/images/biens/11/b51bf50620a63db869716e5f813f7699/photo_973b6473f13ff1eb2650f386398028c6.jpg",
        ),
    },
];

const PROPERTYBASE_LISTINGS: &[Expected] = &[
    Expected {
        line: 1,
        source_id: "V03127.01763L",
        title: Some("Un projet de rénovation sans égal à Gordes."),
        price: 2_950_000.0,
        living_area: Some(400.0),
        land_area: Some(45_600.0),
        rooms: Some(15),
        bedrooms: Some(5),
        postal_code: "84220",
        city: "GORDES",
        dpe_class: None,
        dpe_value: None,
        photo_count: 24,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0E3/e306b1a57977974bc5ff2f7bf76d/c4007-b2687900-r3957.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0E3/67f142d9b6f1ba3d2d4c85dbe95d/c4007-b2687900-r4073.jpg",
        ),
    },
    Expected {
        line: 21,
        source_id: "V03053.01935L",
        title: Some("Domaine remarquable avec bastide sur 4,5 hectares de jardins."),
        price: 13_500_000.0,
        living_area: Some(674.0),
        land_area: Some(44_887.0),
        rooms: Some(21),
        bedrooms: Some(11),
        postal_code: "84580",
        city: "OPPEDE",
        dpe_class: Some("D"),
        dpe_value: Some(211.0),
        photo_count: 30,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0RZ/5a930b9751ba781c11e6ef0b0f72/c4007-b2520479-r3624.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0RZ/32d71e66403e875985d31937c4a5/c4007-b2520479-r6612.jpg",
        ),
    },
    Expected {
        line: 55,
        source_id: "V03074.01184L",
        title: Some("Maison lumineuse avec piscine, oliveraie et vue Luberon"),
        price: 1_150_000.0,
        living_area: Some(162.0),
        land_area: Some(1500.0),
        rooms: Some(6),
        bedrooms: Some(4),
        postal_code: "84220",
        city: "CABRIERES-D'AVIGNON",
        dpe_class: Some("C"),
        dpe_value: Some(116.0),
        photo_count: 24,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If04x/316677d1350819a05919dba2fd73/c4007-b2567877-r2691.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If04x/a255942776c967f4da6b93ea4e89/c4007-b2567877-r5084.jpg",
        ),
    },
    Expected {
        line: 59,
        source_id: "V03137.01715L",
        title: None,
        price: 1_150_000.0,
        living_area: Some(171.0),
        land_area: Some(1377.0),
        rooms: Some(5),
        bedrooms: Some(2),
        postal_code: "84800",
        city: "L'Isle-sur-la-Sorgue",
        dpe_class: Some("B"),
        dpe_value: Some(99.0),
        photo_count: 29,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0DG/fqln4mhak/V3137-%20-%201.jpeg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0DG/la62tua07/v3137%20double%20verticales%20.jpg",
        ),
    },
    Expected {
        line: 76,
        source_id: "V03065.01886L",
        title: Some("Élégante propriété avec maisons d’amis, piscines et tennis"),
        price: 1_980_000.0,
        living_area: Some(500.0),
        land_area: Some(17_849.0),
        rooms: None,
        bedrooms: Some(12),
        postal_code: "84300",
        city: "TAILLADES",
        dpe_class: Some("D"),
        dpe_value: Some(217.0),
        photo_count: 24,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0Fp/e1f0df3e8567dcd1b8e42d1262d8/c4007-b2566195-r3974.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0Fp/089efad88332306bd19fb1a78b00/c4007-b2566195-r6338.jpg",
        ),
    },
    Expected {
        line: 109,
        source_id: "V02910.01353L",
        title: Some("Magnifique château XVIIIe avec parc et annexes indépendantes"),
        price: 5_900_000.0,
        living_area: Some(1500.0),
        land_area: Some(150_000.0),
        rooms: None,
        bedrooms: Some(16),
        postal_code: "04300",
        city: "FORCALQUIER",
        dpe_class: None,
        dpe_value: None,
        photo_count: 28,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If07X/a319d36b21edf3bbe464956ee93c/c4007-b2483572-r6787.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If07X/f4b739bef92b9b7c3f39faa23847/c4007-b2483572-r9865.jpg",
        ),
    },
];

const LOSSY_LISTINGS: &[Expected] = &[
    Expected {
        line: 1,
        source_id: "V03033.01289L",
        title: Some("Maison de village spacieuse avec jardin, piscine et  une vue panoramique."),
        price: 920_000.0,
        living_area: Some(203.0),
        land_area: Some(190.0),
        rooms: None,
        bedrooms: Some(3),
        postal_code: "84400",
        city: "SAIGNON",
        dpe_class: None,
        dpe_value: Some(288.0),
        photo_count: 15,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If06V/60924111086a6fc9ac30e296b032/c4007-b2505084-r8932.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If06V/7c486a3c50e7f9b15d38ccf77940/c4007-b2505084-r3925.jpg",
        ),
    },
    Expected {
        line: 8,
        source_id: "V03070.01748L",
        title: Some(
            "Propriété superbement rénovée à Oppède ? quatre suites, piscine chauffée & vues dégagées.",
        ),
        price: 2_350_000.0,
        living_area: Some(221.0),
        land_area: Some(28_865.0),
        rooms: Some(6),
        bedrooms: Some(4),
        postal_code: "84580",
        city: "OPPEDE",
        dpe_class: None,
        dpe_value: Some(102.0),
        photo_count: 29,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0De/26c7592deb07ce7f4244ad229d8c/c4007-b2567147-r8607.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0De/1d0b16e13e1f448bb59bfa92f4ea/c4007-b2567147-r7390.jpg",
        ),
    },
    Expected {
        line: 12,
        source_id: "V02738.01227L",
        title: Some("Magnifique bastide du 18e siècle avec piscine et superbe jardin."),
        price: 2_295_000.0,
        living_area: Some(406.0),
        land_area: Some(7871.0),
        rooms: Some(11),
        bedrooms: Some(5),
        postal_code: "84400",
        city: "RUSTREL",
        dpe_class: None,
        dpe_value: Some(314.0),
        photo_count: 0,
        first_photo: None,
        last_photo: None,
    },
    Expected {
        line: 17,
        source_id: "V03094.01750L",
        title: Some("Elégant immeuble historique alliant charme et rentabilité à Gordes."),
        price: 1_200_000.0,
        living_area: Some(262.0),
        land_area: None,
        rooms: None,
        bedrooms: Some(2),
        postal_code: "84220",
        city: "GORDES",
        dpe_class: None,
        dpe_value: Some(327.0),
        photo_count: 24,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0Dg/976f29da0393c1ea288b768b6c66/c4007-b2569910-r2766.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0Dg/cb5895ed4c04157298182ede3065/c4007-b2569910-r9189.jpg",
        ),
    },
    Expected {
        line: 22,
        source_id: "V02862.01875L",
        title: Some("Mas du XVIIIème, avec somptueux jardins et fastueux décors."),
        price: 9_950_000.0,
        living_area: Some(760.0),
        land_area: Some(75_289.0),
        rooms: Some(16),
        bedrooms: Some(8),
        postal_code: "84580",
        city: "OPPEDE",
        dpe_class: None,
        dpe_value: Some(80.0),
        photo_count: 29,
        first_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0FU/88034268fea84718b0be4316ee2c/c4007-b2478252-r8473.jpg",
        ),
        last_photo: Some(
            "http://127.0.0.1:9/s3.amazonaws.com/propertybase-clients/00DWx000007hlhBMAQ/a0kSb00000If0FU/24b637471757c1e352007b697f02/c4007-b2478252-r9854.jpg",
        ),
    },
];

/// Runs `passerelle parse` on one sample file and returns its listings.
fn parse_sample(dir: &Path, name: &str) -> Vec<Value> {
    let path = dir.join(name);
    let (output, listings) = parse(&[path.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "parse {name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    listings
}

/// Checks one listing of `file` field by field against its raw record.
fn assert_listing_matches(listings: &[Value], file: &str, expected: &Expected) {
    let listing = by_source_id(listings, expected.source_id);
    let name = format!("{file} line {} (source id {})", expected.line, expected.source_id);

    assert_eq!(listing["title"], json!(expected.title), "title of {name}");
    assert_eq!(
        listing["price"]["amount"],
        json!(expected.price),
        "price of {name}"
    );
    assert_eq!(
        listing["living_area"],
        json!(expected.living_area),
        "living area of {name}"
    );
    assert_eq!(
        listing["land_area"],
        json!(expected.land_area),
        "land area of {name}"
    );
    assert_eq!(listing["rooms"], json!(expected.rooms), "rooms of {name}");
    assert_eq!(
        listing["bedrooms"],
        json!(expected.bedrooms),
        "bedrooms of {name}"
    );
    assert_eq!(
        listing["postal_code"],
        json!(expected.postal_code),
        "postal code of {name}"
    );
    assert_eq!(listing["city"], json!(expected.city), "city of {name}");
    assert_eq!(
        listing["dpe"]["class"]["kind"],
        json!(expected.dpe_class),
        "DPE class of {name}"
    );
    assert_eq!(
        listing["dpe"]["value"],
        json!(expected.dpe_value),
        "DPE value of {name}"
    );

    let photos = listing["photos"]
        .as_array()
        .unwrap_or_else(|| panic!("photos of {name} is not an array"));
    assert_eq!(photos.len(), expected.photo_count, "photo count of {name}");
    let first_photo = photos
        .first()
        .map_or(Value::Null, |photo| photo["source"]["location"].clone());
    assert_eq!(first_photo, json!(expected.first_photo), "first photo of {name}");
    let last_photo = photos
        .last()
        .map_or(Value::Null, |photo| photo["source"]["location"].clone());
    assert_eq!(last_photo, json!(expected.last_photo), "last photo of {name}");
}

/// Imports one sample file into a fresh database and checks that every
/// record became a new listing.
fn assert_imports_cleanly(dir: &Path, file: &str, agency: &str, listing_count: u64) {
    let workspace = tempdir().unwrap();
    let database = workspace.path().join("passerelle.sqlite");

    let imported = import(&database, &dir.join(file), agency, &[]);
    assert_eq!(imported.code, 0, "import of {file} failed: {}", imported.stderr);

    let (created, updated, unchanged, withdrawn, rejected) = counts(&imported.summary);
    assert_eq!(rejected, 0, "rejected records in {file}: {}", imported.stderr);
    assert_eq!(created, listing_count, "listings created from {file}");
    assert_eq!(updated, 0, "listings updated by a first import of {file}");
    assert_eq!(unchanged, 0, "listings unchanged by a first import of {file}");
    assert_eq!(withdrawn, 0, "listings withdrawn by a first import of {file}");
    assert_eq!(
        active_source_ids(&database, agency).len() as u64,
        listing_count,
        "active listings stored from {file}"
    );
}

/// Imports one sample file twice into the same database and checks that the
/// second run finds every listing unchanged.
fn assert_reimport_changes_nothing(dir: &Path, file: &str, agency: &str, listing_count: u64) {
    let workspace = tempdir().unwrap();
    let database = workspace.path().join("passerelle.sqlite");
    let input = dir.join(file);

    let first = import(&database, &input, agency, &[]);
    assert_eq!(first.code, 0, "first import of {file} failed: {}", first.stderr);

    let second = import(&database, &input, agency, &[]);
    assert_eq!(
        second.code, 0,
        "second import of {file} failed: {}",
        second.stderr
    );
    let (created, updated, unchanged, withdrawn, rejected) = counts(&second.summary);
    assert_eq!(created, 0, "listings created by a second import of {file}");
    assert_eq!(updated, 0, "listings updated by a second import of {file}");
    assert_eq!(
        unchanged, listing_count,
        "listings unchanged by a second import of {file}"
    );
    assert_eq!(withdrawn, 0, "listings withdrawn by a second import of {file}");
    assert_eq!(rejected, 0, "records rejected by a second import of {file}");
}

#[test]
fn hektor_export_imports_without_rejects() {
    let Some(dir) = samples_dir() else { return };
    assert_imports_cleanly(&dir, HEKTOR, HEKTOR_AGENCY, 147);
}

#[test]
fn propertybase_csv_imports_without_rejects() {
    let Some(dir) = samples_dir() else { return };
    assert_imports_cleanly(&dir, PROPERTYBASE_CSV, PROPERTYBASE_AGENCY, 109);
}

#[test]
fn propertybase_zip_imports_without_rejects() {
    let Some(dir) = samples_dir() else { return };
    assert_imports_cleanly(&dir, PROPERTYBASE_ZIP, PROPERTYBASE_AGENCY, 109);
}

#[test]
fn lossy_export_imports_without_rejects() {
    let Some(dir) = samples_dir() else { return };
    // Column 1 is empty in this file, so any agency code is accepted.
    assert_imports_cleanly(&dir, PROPERTYBASE_LOSSY, PROPERTYBASE_AGENCY, 22);
}

#[test]
fn hektor_listings_match_raw_columns() {
    let Some(dir) = samples_dir() else { return };
    let listings = parse_sample(&dir, HEKTOR);
    assert_eq!(listings.len(), 147, "listings parsed from {HEKTOR}");
    for expected in HEKTOR_LISTINGS {
        assert_listing_matches(&listings, HEKTOR, expected);
    }
}

#[test]
fn propertybase_csv_listings_match_raw_columns() {
    let Some(dir) = samples_dir() else { return };
    let listings = parse_sample(&dir, PROPERTYBASE_CSV);
    assert_eq!(listings.len(), 109, "listings parsed from {PROPERTYBASE_CSV}");
    for expected in PROPERTYBASE_LISTINGS {
        assert_listing_matches(&listings, PROPERTYBASE_CSV, expected);
    }
}

#[test]
fn propertybase_zip_listings_match_raw_columns() {
    let Some(dir) = samples_dir() else { return };
    let listings = parse_sample(&dir, PROPERTYBASE_ZIP);
    assert_eq!(listings.len(), 109, "listings parsed from {PROPERTYBASE_ZIP}");
    for expected in PROPERTYBASE_LISTINGS {
        assert_listing_matches(&listings, PROPERTYBASE_ZIP, expected);
    }
}

#[test]
fn lossy_listings_match_raw_columns() {
    let Some(dir) = samples_dir() else { return };
    let listings = parse_sample(&dir, PROPERTYBASE_LOSSY);
    assert_eq!(listings.len(), 22, "listings parsed from {PROPERTYBASE_LOSSY}");
    for expected in LOSSY_LISTINGS {
        assert_listing_matches(&listings, PROPERTYBASE_LOSSY, expected);
    }
}

#[test]
fn lossy_export_keeps_question_marks() {
    let Some(dir) = samples_dir() else { return };
    let listings = parse_sample(&dir, PROPERTYBASE_LOSSY);

    let oppede = by_source_id(&listings, "V03070.01748L");
    assert_eq!(
        oppede["title"],
        "Propriété superbement rénovée à Oppède ? quatre suites, piscine chauffée & vues dégagées.",
        "title of V03070.01748L, where `?` replaced a dash"
    );
    let description = oppede["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("campagne d'Oppède ? à quelques minutes des commerces"),
        "description of V03070.01748L lost its `?`: {description}"
    );

    let taillades = by_source_id(&listings, "V03065.01886L");
    assert_eq!(
        taillades["title"],
        "Élégante propriété provençale avec maisons d?amis, deux piscines, court de tennis et intimité totale.",
        "title of V03065.01886L, where `?` replaced an apostrophe"
    );

    let mas = by_source_id(&listings, "V03041.01474L");
    let description = mas["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("Situé au c?ur des paysages sereins d'Oppède"),
        "description of V03041.01474L lost its `?`: {description}"
    );
}

#[test]
fn lossy_listings_have_no_crm_agency_id() {
    let Some(dir) = samples_dir() else { return };
    let listings = parse_sample(&dir, PROPERTYBASE_LOSSY);
    assert_eq!(listings.len(), 22, "listings parsed from {PROPERTYBASE_LOSSY}");
    for listing in &listings {
        assert_eq!(
            listing["crm_agency_id"],
            Value::Null,
            "crm_agency_id of {} (column 1 is empty)",
            listing["source_id"]
        );
    }
}

#[test]
fn hektor_text_decodes_as_windows_1252() {
    let Some(dir) = samples_dir() else { return };
    let path = dir.join(HEKTOR);
    let (output, listings) = parse(&[path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "parse {HEKTOR} failed: {stderr}");
    assert!(
        stderr.contains("Windows-1252"),
        "encoding not reported as Windows-1252: {stderr}"
    );

    // NOTE: this export has no byte in 0x80–0x9F, so no `€`, `’` or `œ`, and
    // Latin-1 would decode it the same way. Those bytes are covered only by
    // the `cp1252-crlf.csv` fixture tests in parse.rs.
    let studio = by_source_id(&listings, "21613");
    assert_eq!(
        studio["title"], "Studio mezzanine Fréjus Centre Historique, deuxième et derni",
        "title of 21613 (é, è)"
    );
    let boulouris = by_source_id(&listings, "27027");
    assert_eq!(
        boulouris["title"], "A VENDRE SAINT-RAPHAËL BOULOURIS   200 M DES PLAGES   DERNIE",
        "title of 27027 (Ë)"
    );
    let issambres = by_source_id(&listings, "27278");
    assert_eq!(
        issambres["title"], "Charme Provençal & Horizon Mer : Un Potentiel Unique aux Iss",
        "title of 27278 (ç)"
    );
    let antheor = by_source_id(&listings, "27120");
    assert_eq!(
        antheor["title"], "Villa entièrement rénovée   Anthéor   À 5 min des plages à p",
        "title of 27120 (À)"
    );

    let description = issambres["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("l'élégance intemporelle de l'architecture provençale"),
        "description of 27278: {description}"
    );
    let garden_flat = by_source_id(&listings, "27219");
    let description = garden_flat["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("«\u{a0}Votre futur projet commence"),
        "description of 27219 (« and a no-break space): {description}"
    );

    for listing in &listings {
        let text = format!("{} {}", listing["title"], listing["description"]);
        assert!(
            !text.contains('\u{fffd}'),
            "replacement character in listing {}",
            listing["source_id"]
        );
    }
}

#[test]
fn zip_and_csv_give_identical_listings() {
    let Some(dir) = samples_dir() else { return };
    let csv_path = dir.join(PROPERTYBASE_CSV);
    let zip_path = dir.join(PROPERTYBASE_ZIP);
    let (csv_output, csv_listings) = parse(&[csv_path.to_str().unwrap()]);
    let (zip_output, zip_listings) = parse(&[zip_path.to_str().unwrap()]);

    assert_eq!(
        csv_output.status.code(),
        Some(0),
        "parse {PROPERTYBASE_CSV} failed"
    );
    assert_eq!(
        zip_output.status.code(),
        Some(0),
        "parse {PROPERTYBASE_ZIP} failed"
    );
    assert_eq!(csv_listings.len(), 109, "listings parsed from {PROPERTYBASE_CSV}");
    assert_eq!(zip_listings.len(), 109, "listings parsed from {PROPERTYBASE_ZIP}");

    let csv_stdout = String::from_utf8(csv_output.stdout).unwrap();
    let zip_stdout = String::from_utf8(zip_output.stdout).unwrap();
    for ((csv_line, zip_line), listing) in csv_stdout.lines().zip(zip_stdout.lines()).zip(&csv_listings) {
        assert_eq!(
            zip_line, csv_line,
            "JSON line of listing {} differs between the zip and the bare CSV",
            listing["source_id"]
        );
    }
}

#[test]
fn hektor_reimport_changes_nothing() {
    let Some(dir) = samples_dir() else { return };
    assert_reimport_changes_nothing(&dir, HEKTOR, HEKTOR_AGENCY, 147);
}

#[test]
fn propertybase_zip_reimport_changes_nothing() {
    let Some(dir) = samples_dir() else { return };
    assert_reimport_changes_nothing(&dir, PROPERTYBASE_ZIP, PROPERTYBASE_AGENCY, 109);
}

/// Values that occur only in the mandator columns 114–122 of the Hektor
/// export (owner name, first name, street address), with the source id of a
/// record that contains each. The mandator phone numbers (column 120) are not
/// listed because Hektor repeats them in the public contact column 105.
const HEKTOR_MANDATOR_VALUES: &[(&str, u32, &str)] = &[
    ("24788", 114, "Agence Exemple 28"),
    ("24788", 115, "Prenom29"),
    ("24788", 117, "31 rue de l Exemple"),
    ("26334", 117, "35 rue de l Exemple"),
];

#[test]
fn hektor_import_stores_no_mandator_data() {
    let Some(dir) = samples_dir() else { return };
    let workspace = tempdir().unwrap();
    let database = workspace.path().join("passerelle.sqlite");
    let imported = import(&database, &dir.join(HEKTOR), HEKTOR_AGENCY, &[]);
    assert_eq!(imported.code, 0, "import of {HEKTOR} failed: {}", imported.stderr);

    let connection = open_database(&database);
    let mut statement = connection
        .prepare("SELECT source_id, raw, data FROM listings")
        .unwrap();
    let rows: Vec<(String, String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 147, "listings stored from {HEKTOR}");

    for (source_id, raw, data) in &rows {
        for (owner, rank, value) in HEKTOR_MANDATOR_VALUES {
            assert!(
                !raw.contains(value),
                "raw record of {source_id} contains column {rank} of {owner}: {value}"
            );
            assert!(
                !data.contains(value),
                "listing data of {source_id} contains column {rank} of {owner}: {value}"
            );
        }

        // The raw record is a JSON object keyed by column rank.
        let columns: Value = serde_json::from_str(raw).unwrap();
        for rank in 114..=122 {
            assert!(
                columns.get(rank.to_string()).is_none(),
                "raw record of {source_id} keeps column {rank}"
            );
        }
    }

    let (_, raw, _) = rows
        .iter()
        .find(|(source_id, _, _)| source_id == "24788")
        .expect("listing 24788 is stored");
    assert!(
        raw.contains("FREJUS - Superbe Maison 150m2 avec Piscine et garage"),
        "raw record of 24788 lacks its title: {raw}"
    );
}
