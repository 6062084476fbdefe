//! Kyero v3 feeds: the two real samples field by field, the invented
//! fixtures of fixtures/kyero/ through import, and hostile XML.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{SettingsFile, active_source_ids, by_source_id, counts, import_as, parse, samples_of};

const AGENCY: &str = "COSTA-1";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/kyero")
        .join(name)
}

fn photo_urls(listing: &Value) -> Vec<&str> {
    listing["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|photo| photo["source"]["location"].as_str().unwrap())
        .collect()
}

#[test]
fn optima_export_matches_its_records() {
    let Some(samples) = samples_of("kyero") else {
        return;
    };
    let file = samples.join("optima-export-v3.xml");
    let (output, listings) = parse(&["--crm", "kyero", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("2 records, 2 listings, 0 rejected"), "{stderr}");

    let apartment = by_source_id(&listings, "510187");
    assert_eq!(apartment["reference"], "CBW-510187");
    assert_eq!(apartment["price"]["amount"], 249_500.0);
    assert_eq!(apartment["price"]["currency"], "EUR");
    assert_eq!(apartment["transaction"]["kind"], "sale");
    assert_eq!(apartment["property"]["kind"], "apartment");
    assert_eq!(apartment["city"], "Torre de la Horadada");
    assert_eq!(apartment["country"], "Spain");
    assert_eq!(apartment["bedrooms"], 2);
    assert_eq!(apartment["bathrooms"], 2);
    assert_eq!(apartment["living_area"], 64.0);
    assert_eq!(apartment["land_area"], Value::Null);
    assert_eq!(apartment["latitude"], 37.865_280_8);
    assert_eq!(apartment["features"]["pool"], true);
    assert_eq!(apartment["dpe"], Value::Null, "X means unknown");
    let description = apartment["description"].as_str().unwrap();
    assert!(
        description.starts_with("2 bedroom, 2 bathroom penthouse apartment on the first floor"),
        "{description}"
    );
    assert!(
        description.ends_with("Cadastral income: € 264.36 / Year"),
        "{description}"
    );
    assert_eq!(apartment["translations"][0]["language"], "NL");
    let urls = photo_urls(apartment);
    assert!(
        urls[0].ends_with("20230330173525000000_WEBSITE-21.jpg"),
        "{urls:?}"
    );
    assert!(
        urls[1].ends_with("20230330173525000000_WEBSITE-26.jpg"),
        "{urls:?}"
    );

    let local = by_source_id(&listings, "509939");
    assert_eq!(local["property"]["kind"], "commercial");
    assert_eq!(local["property"]["raw"], "Commercial");
    assert_eq!(local["price"]["amount"], 195_000.0);
    assert_eq!(local["city"], "Dehesa de Campoamor");
    assert_eq!(local["living_area"], 66.0);
    assert_eq!(local["land_area"], 80.0);
    assert_eq!(local["features"]["furnished"], true);
    assert_eq!(local["features"]["terrace"], true);
}

#[test]
fn kyero_example_matches_its_record() {
    let Some(samples) = samples_of("kyero") else {
        return;
    };
    let file = samples.join("kyero-v3-example.xml");
    let (output, listings) = parse(&["--crm", "kyero", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 record, 1 listing, 0 rejected"), "{stderr}");
    let villa = by_source_id(&listings, "12367");
    assert_eq!(villa["reference"], "V3TEST");
    assert_eq!(villa["property"]["kind"], "house");
    assert_eq!(villa["property"]["raw"], "villa");
    assert_eq!(villa["price"]["amount"], 250_000.0);
    assert_eq!(villa["city"], "almunecar");
    assert_eq!(villa["address"], "optional location detail");
    assert_eq!(villa["living_area"], 150.0);
    assert_eq!(villa["land_area"], 500.0);
    assert_eq!(villa["bedrooms"], 3);
    assert_eq!(villa["dpe"]["class"]["kind"], "D");
    assert_eq!(villa["ges"], Value::Null);
    assert_eq!(villa["description"], "English property description");
    assert_eq!(villa["translations"].as_array().unwrap().len(), 12);
    let urls = photo_urls(villa);
    assert_eq!(urls.len(), 5);
    assert!(
        urls[4].ends_with("12811582_large.jpg"),
        "image 50 comes last: {urls:?}"
    );
    let raw = serde_json::to_string(villa).unwrap();
    assert!(!raw.contains("Private property notes"));
}

#[test]
fn fixture_feed_converts_each_nasty_case() {
    let (output, listings) = parse(&["--crm", "kyero", fixture("feed-1.xml").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "one record is rejected: {stderr}");
    assert!(
        stderr.contains("feed-1.xml:101: price_freq: unknown price frequency; expected sale, month or week"),
        "{stderr}"
    );
    assert!(
        stderr.contains("feed-1.xml:77: beds: not a whole number; left unknown"),
        "{stderr}"
    );

    let villa = by_source_id(&listings, "K-100");
    assert_eq!(
        villa["description"],
        "Villa with sea views.\nPrivate pool & garden."
    );
    assert_eq!(villa["translations"][0]["language"], "ES");
    let urls = photo_urls(villa);
    assert!(
        urls[0].ends_with("front.jpg") && urls[2].ends_with("pool.jpg"),
        "by image id: {urls:?}"
    );
    assert_eq!(villa["features"]["air_conditioning"], true);
    assert_eq!(villa["dpe"]["class"]["kind"], "C");
    let penthouse = by_source_id(&listings, "K-101");
    assert_eq!(penthouse["price"], Value::Null, "x is price on request");
    assert_eq!(penthouse["features"]["lift"], true);
    assert_eq!(penthouse["features"]["pool"], false);
    let rental = by_source_id(&listings, "K-102");
    assert_eq!(rental["transaction"]["kind"], "rent");
    assert_eq!(rental["price"]["period"], "month");
    assert_eq!(rental["price"]["currency"], "EUR");
    assert_eq!(rental["living_area"], 70.5);
    assert_eq!(rental["bedrooms"], Value::Null);
}

#[test]
fn later_feed_updates_and_withdraws() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let first = import_as("kyero", &database, &fixture("feed-1.xml"), AGENCY, &[]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_eq!(counts(&first.summary), (3, 0, 0, 0, 1));

    let second = import_as("kyero", &database, &fixture("feed-2.xml"), AGENCY, &[]);
    assert_eq!(counts(&second.summary), (0, 1, 1, 1, 1), "{}", second.stderr);
    assert_eq!(active_source_ids(&database, AGENCY), ["K-100", "K-102"]);
    let raw: String = crate::support::open_database(&database)
        .query_row("SELECT raw FROM listings WHERE source_id = 'K-100'", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert!(raw.contains("479000"), "{raw}");
    assert!(
        !raw.contains("keys at the neighbour"),
        "private notes are not kept: {raw}"
    );
}

#[test]
fn unfinished_fetch_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let unfinished = dir.path().join("staging/kyero/COSTA-1/20261205T040108Z.partial");
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::copy(fixture("feed-1.xml"), unfinished.join("feed.xml")).unwrap();

    let refused = import_as(
        "kyero",
        &dir.path().join("passerelle.db"),
        &unfinished,
        AGENCY,
        &[],
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is an unfinished fetch"),
        "{}",
        refused.stderr
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn hostile_feeds_fail_without_withdrawing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let first = import_as("kyero", &database, &fixture("feed-2.xml"), AGENCY, &[]);
    assert_eq!(counts(&first.summary).0, 2, "{}", first.stderr);

    let laughs = write(
        dir.path(),
        "laughs.xml",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n<!ENTITY lol1 \
         \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n]>\n<root><property><id>&lol1;</id></property></root>\n",
    );
    let nested = write(
        dir.path(),
        "nested.xml",
        &format!("<root>{}{}</root>", "<a>".repeat(10_000), "</a>".repeat(10_000)),
    );
    let feed = std::fs::read_to_string(fixture("feed-1.xml")).unwrap();
    let cut = write(
        dir.path(),
        "cut.xml",
        &feed[..feed.find("<id>K-102</id>").unwrap() + 20],
    );
    for (file, expected) in [
        (&laughs, "line 2: <!DOCTYPE> is not accepted"),
        (&nested, "elements nested more than 64 deep"),
        (
            &cut,
            "the file ends inside <property> (opened on line 77): it is cut short",
        ),
    ] {
        let run = import_as("kyero", &database, file, AGENCY, &[]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert!(
            run.stderr.contains(&file.display().to_string()),
            "the message names the file: {}",
            run.stderr
        );
        if file == &cut {
            assert!(
                run.stderr.contains(
                    "stopped after writing 2 listings (1 created, 1 updated), which stay; nothing was withdrawn"
                ),
                "{}",
                run.stderr
            );
        }
        // Listings read before the error may be written; none is withdrawn.
        let active = active_source_ids(&database, AGENCY);
        assert!(
            active.contains(&"K-100".to_string()) && active.contains(&"K-102".to_string()),
            "nothing withdrawn: {active:?}"
        );
    }
}

/// Serves a fixture feed at `/costa/feed.xml` on 127.0.0.1 and writes the
/// settings of a Kyero integration that pulls it.
fn serve_feed(dir: &Path, name: &str) -> (crate::gallery::Gallery, PathBuf) {
    let server = crate::gallery::Gallery::start();
    server.serve(
        "/costa/feed.xml",
        crate::gallery::Served::photo(std::fs::read(fixture(name)).unwrap(), "application/xml"),
    );
    let settings = SettingsFile::new()
        .integration(
            "costa",
            "kyero",
            AGENCY,
            &format!("api_url = \"{}\"", server.url("/costa/feed.xml")),
        )
        .write(dir);
    (server, settings)
}

/// Sync pulls the feed from a server on 127.0.0.1. The second sync sends
/// the feed's ETag, gets 304 and writes nothing. A changed feed without one
/// listing withdraws it.
#[test]
fn sync_pulls_the_feed_only_when_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (server, settings) = serve_feed(dir.path(), "feed-1.xml");
    let feed = |name: &str| std::fs::read(fixture(name)).unwrap();
    let database = dir.path().join("passerelle.db");
    let sync = || {
        let output = crate::support::passerelle()
            .args(["sync", "--no-photos", "--format", "json", "--config"])
            .arg(&settings)
            .output()
            .unwrap();
        let results: Vec<Value> = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stderr)));
        (output.status.code(), results[0].clone())
    };
    let runs = || -> i64 {
        crate::support::open_database(&database)
            .query_row("SELECT count(*) FROM runs", [], |row| row.get(0))
            .unwrap()
    };

    let (code, first) = sync();
    assert_eq!(code, Some(1), "one record is rejected: {first}");
    assert_eq!(first["counts"]["created"], 3, "{first}");

    server.reset_counts();
    let (code, second) = sync();
    assert_eq!(code, Some(0), "{second}");
    assert_eq!(second["status"], "unchanged", "{second}");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].conditional, "{seen:?}");
    assert_eq!(server.body_bytes(), 0);
    assert_eq!(runs(), 1, "an unchanged feed records no run");

    server.serve(
        "/costa/feed.xml",
        crate::gallery::Served::photo(feed("feed-2.xml"), "application/xml"),
    );
    let (_, third) = sync();
    assert_eq!(third["counts"]["withdrawn"], 1, "{third}");
    assert_eq!(third["counts"]["updated"], 1, "{third}");
    assert_eq!(active_source_ids(&database, AGENCY), ["K-100", "K-102"]);
}

/// A feed behind HTTP Basic auth gets the user and password from the
/// environment variables the integration names. A rejection names the
/// variables but never the password.
#[test]
fn protected_feed_uses_the_named_credentials() {
    use wiremock::matchers::{basic_auth, method, path};
    use wiremock::{Mock, ResponseTemplate};

    let dir = tempfile::tempdir().unwrap();
    let (runtime, server) = crate::apimo::start_server();
    runtime.block_on(
        Mock::given(method("GET"))
            .and(path("/feed.xml"))
            .and(basic_auth("costa", "s3cret-feed"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(std::fs::read(fixture("feed-2.xml")).unwrap(), "text/xml"),
            )
            .with_priority(1)
            .mount(&server),
    );
    runtime.block_on(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401))
            .with_priority(2)
            .mount(&server),
    );
    let settings = SettingsFile::new()
        .integration(
            "costa",
            "kyero",
            AGENCY,
            &format!(
                "api_url = \"{}/feed.xml\"\n\n[integrations.credentials]\nuser = \"COSTA_FEED_USER\"\n\
                 password = \"COSTA_FEED_PASSWORD\"",
                server.uri()
            ),
        )
        .write(dir.path());
    let fetch = |password: &str| {
        crate::support::passerelle()
            .args(["fetch", "--integration", "costa", "--config"])
            .arg(&settings)
            .env("COSTA_FEED_USER", "costa")
            .env("COSTA_FEED_PASSWORD", password)
            .output()
            .unwrap()
    };
    let refused = fetch("wrong-password");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("refused access (HTTP 401)"), "{stderr}");
    assert!(stderr.contains("COSTA_FEED_PASSWORD"), "{stderr}");
    assert!(!stderr.contains("wrong-password"), "{stderr}");

    let fetched = fetch("s3cret-feed");
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let folder = String::from_utf8(fetched.stdout).unwrap();
    assert!(Path::new(folder.trim()).join("feed.xml").is_file(), "{folder}");
}

/// After an import that tripped a guard, the next sync downloads the feed
/// in full, so that --force has it to work on.
#[test]
fn guard_tripped_feed_is_fetched_again_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let (server, settings) = serve_feed(dir.path(), "feed-1.xml");
    let sync = |extra: &[&str]| {
        let output = crate::support::passerelle()
            .args(["sync", "--no-photos", "--format", "json", "--config"])
            .arg(&settings)
            .args(extra)
            .output()
            .unwrap();
        let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        results[0]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(sync(&[]), "partial");
    let empty = b"<?xml version=\"1.0\"?>\n<root><kyero><feed_version>3</feed_version></kyero></root>\n";
    server.serve(
        "/costa/feed.xml",
        crate::gallery::Served::photo(empty.to_vec(), "application/xml"),
    );
    assert_eq!(sync(&[]), "guard_tripped");

    server.reset_counts();
    assert_eq!(
        sync(&["--force"]),
        "succeeded",
        "the feed is fetched again, not answered 304"
    );
    // The request carries the validators of the last feed that was applied,
    // not those of the refused one, so the server sends the feed again.
    assert!(server.body_bytes() > 0, "{:?}", server.seen());
    assert!(active_source_ids(&dir.path().join("passerelle.db"), AGENCY).is_empty());
}

#[test]
fn text_file_is_not_a_feed() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(dir.path(), "notes.xml", "These are not listings.\n");
    let run = import_as("kyero", &dir.path().join("passerelle.db"), &text, AGENCY, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("contains no XML element, so it is not a Kyero feed"),
        "{}",
        run.stderr
    );
    let other = write(dir.path(), "other.xml", "<openimmo><anbieter/></openimmo>");
    let run = import_as("kyero", &dir.path().join("passerelle.db"), &other, AGENCY, &[]);
    assert!(
        run.stderr
            .contains("is not a Kyero feed: its root element is <openimmo>, not <root>"),
        "{}",
        run.stderr
    );
    let (output, _) = parse(&[dir.path().join("other.xml").to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("looks like XML, which poliris does not read"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
