//! The Apimo adapter against a real HTTP server on 127.0.0.1 standing in for
//! the Apimo API, serving pages written from the documented shape.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tokio::runtime::Runtime;
use wiremock::matchers::{basic_auth, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{SettingsFile, counts, import_as, open_database, passerelle};

pub(crate) const PROVIDER: &str = "8123";
pub(crate) const TOKEN: &str = "tok-3f9c2a7e51d84b06";
const AGENCY: &str = "4242";

fn page(number: usize) -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/apimo/properties-page-{number}.json"));
    std::fs::read_to_string(path).unwrap()
}

/// Starts the stand-in API on a runtime that keeps serving while the
/// binary runs on the test's thread.
pub(crate) fn start_server() -> (Runtime, MockServer) {
    let runtime = Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    (runtime, server)
}

fn page_mock(offset: u64, number: usize) -> Mock {
    Mock::given(method("GET"))
        .and(path(format!("/agencies/{AGENCY}/properties")))
        .and(query_param("offset", offset.to_string()))
        .and(basic_auth(PROVIDER, TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_raw(page(number), "application/json"))
}

pub(crate) fn mount_all_pages(runtime: &Runtime, server: &MockServer) {
    for (offset, number) in [(0, 1), (2, 2), (4, 3)] {
        runtime.block_on(page_mock(offset, number).mount(server));
    }
}

/// Writes a settings file with one Apimo integration pointing at `api_url`.
fn settings_file(dir: &Path, api_url: &str) -> PathBuf {
    SettingsFile::new()
        .integration(
            "azur",
            "apimo",
            AGENCY,
            &format!(
                "api_url = \"{api_url}\"\nrequests_per_second = 50\n\
                 agents = {{ \"claire.martin@agence-azur.example\" = \"claire\" }}"
            ),
        )
        .write(dir)
}

fn fetch(settings: &Path) -> Output {
    passerelle()
        .args(["fetch", "--integration", "azur", "--config"])
        .arg(settings)
        .env("PASSERELLE_APIMO_PROVIDER", PROVIDER)
        .env("PASSERELLE_APIMO_TOKEN", TOKEN)
        .output()
        .unwrap()
}

fn staged_dir(output: &Output) -> PathBuf {
    PathBuf::from(String::from_utf8(output.stdout.clone()).unwrap().trim())
}

fn listing(database: &Path, source_id: &str) -> (Value, Option<String>) {
    let (data, withdrawn_at): (String, Option<String>) = open_database(database)
        .query_row(
            "SELECT data, withdrawn_at FROM listings WHERE source_id = ?1",
            [source_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    (serde_json::from_str(&data).unwrap(), withdrawn_at)
}

#[test]
fn fetched_pages_import_with_mapped_fields() {
    let (runtime, server) = start_server();
    mount_all_pages(&runtime, &server);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &server.uri());

    let fetched = fetch(&settings);
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let staged = staged_dir(&fetched);
    assert!(
        staged.starts_with(dir.path().join("staging/apimo/4242")),
        "{}",
        staged.display()
    );
    for file in [
        "properties-0001.json",
        "properties-0002.json",
        "properties-0003.json",
        "fetch.json",
    ] {
        assert!(
            staged.join(file).is_file(),
            "{file} missing in {}",
            staged.display()
        );
    }

    let database = dir.path().join("passerelle.db");
    let imported = passerelle()
        .args(["import", "--no-photos"])
        .arg(&staged)
        .args(["--integration", "azur", "--format", "json", "--config"])
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let summary: Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(counts(&summary), (5, 0, 0, 0, 0));

    let (flat, withdrawn_at) = listing(&database, "910001");
    assert_eq!(withdrawn_at, None);
    assert_eq!(flat["crm"], "apimo");
    assert_eq!(flat["reference"], "AZ-1001");
    assert_eq!(flat["transaction"]["kind"], "sale");
    assert_eq!(flat["property"]["kind"], "apartment");
    assert_eq!(flat["price"]["amount"], 485_000.0);
    assert_eq!(flat["living_area"], 78.5);
    assert_eq!(flat["rooms"], 3);
    assert_eq!(flat["bedrooms"], 2);
    assert_eq!(flat["bathrooms"], 1, "counted from areas[] of type 8");
    assert_eq!(flat["shower_rooms"], 1);
    assert_eq!(flat["city"], "Nice");
    assert_eq!(flat["postal_code"], "06000");
    assert_eq!(flat["title"], "Appartement 3 pièces avec terrasse – Carré d'Or");
    assert_eq!(flat["translations"][0]["language"], "EN");
    assert_eq!(flat["dpe"]["value"], 142.0);
    assert_eq!(flat["dpe_date"], "2024-02-12");
    assert_eq!(flat["dpe"]["class"]["kind"], "C");
    assert_eq!(flat["ges"]["class"]["kind"], "C");
    assert_eq!(flat["agent"], "claire");
    assert_eq!(flat["photos"].as_array().unwrap().len(), 3);
    assert_eq!(
        flat["photos"][0]["caption"], "Séjour",
        "pictures follow their rank"
    );

    let (rent, _) = listing(&database, "910002");
    assert_eq!(rent["transaction"]["kind"], "rent");
    assert_eq!(rent["price"]["period"], "month");
    assert_eq!(
        rent["title"], "Deux pièces meublé – port",
        "the French comment is chosen"
    );

    let (villa, _) = listing(&database, "910003");
    let area = villa["living_area"].as_f64().unwrap();
    assert!(
        (area - 200.0).abs() < 0.01,
        "2152.78 ft² is about 200 m², not {area}"
    );
    assert_eq!(villa["land_area"], 1500.0);
    assert_eq!(villa["bathrooms"], 3);

    let (holiday, _) = listing(&database, "910004");
    assert_eq!(holiday["transaction"]["kind"], "holiday_rent");
    assert_eq!(holiday["city"], "Antibes");
    assert_eq!(holiday["price"]["amount"], 950.0);
    assert_eq!(holiday["photos"], serde_json::json!([]));
    assert_eq!(holiday["dpe"], Value::Null);

    let (parking, sold_withdrawn_at) = listing(&database, "910005");
    assert_eq!(parking["property"]["kind"], "parking");
    assert!(
        sold_withdrawn_at.is_some(),
        "status 30 (sold) is stored withdrawn"
    );
}

#[test]
fn too_many_requests_then_success() {
    let (runtime, server) = start_server();
    runtime.block_on(
        Mock::given(method("GET"))
            .and(query_param("offset", "0"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server),
    );
    mount_all_pages(&runtime, &server);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &server.uri());

    let started = std::time::Instant::now();
    let fetched = fetch(&settings);
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let requests = runtime.block_on(server.received_requests()).unwrap();
    assert_eq!(requests.len(), 4, "one refused request, then three pages");
}

#[test]
fn server_errors_fail_the_fetch() {
    // A first fetch and import fill the database.
    let (good_runtime, good_server) = start_server();
    mount_all_pages(&good_runtime, &good_server);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let good = staged_dir(&fetch(&settings_file(dir.path(), &good_server.uri())));
    assert_eq!(import_as("apimo", &database, &good, AGENCY, &[]).code, 0);

    let (runtime, server) = start_server();
    runtime.block_on(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(500))
            .expect(3)
            .mount(&server),
    );
    let settings = settings_file(dir.path(), &server.uri());

    let fetched = fetch(&settings);
    assert_eq!(fetched.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&fetched.stderr);
    assert!(stderr.contains("HTTP 500, after 3 attempts"), "{stderr}");
    assert!(fetched.stdout.is_empty(), "no staged folder is printed");
    let active: i64 = open_database(&database)
        .query_row(
            "SELECT count(*) FROM listings WHERE withdrawn_at IS NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(active, 4, "nothing was withdrawn");
    let staging = dir.path().join("staging/apimo/4242");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().path())
                .filter(|path| *path != good)
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "a failed fetch left {left:?}");
    runtime.block_on(server.verify());
}

#[test]
fn refused_credentials_fail_at_once() {
    let (runtime, server) = start_server();
    runtime.block_on(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401))
            .expect(1)
            .mount(&server),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &server.uri());

    let fetched = fetch(&settings);
    assert_eq!(fetched.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&fetched.stderr);
    assert!(
        stderr.contains("authentication failed for integration azur")
            && stderr.contains("PASSERELLE_APIMO_PROVIDER and PASSERELLE_APIMO_TOKEN"),
        "{stderr}"
    );
    runtime.block_on(server.verify());
}

#[test]
fn missing_token_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), "http://127.0.0.1:9");
    let output = passerelle()
        .args(["fetch", "--integration", "azur", "--config"])
        .arg(&settings)
        .env("PASSERELLE_APIMO_PROVIDER", PROVIDER)
        .env_remove("PASSERELLE_APIMO_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("set the environment variable PASSERELLE_APIMO_TOKEN"),
        "{stderr}"
    );
}

#[test]
fn token_never_appears_anywhere() {
    let (runtime, server) = start_server();
    mount_all_pages(&runtime, &server);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &server.uri());
    let fetched = fetch(&settings);
    let staged = staged_dir(&fetched);
    let database = dir.path().join("passerelle.db");
    let imported = import_as("apimo", &database, &staged, AGENCY, &[]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);

    let mut seen = String::new();
    seen.push_str(&String::from_utf8_lossy(&fetched.stdout));
    seen.push_str(&String::from_utf8_lossy(&fetched.stderr));
    seen.push_str(&imported.summary.to_string());
    seen.push_str(&imported.stderr);
    for entry in std::fs::read_dir(&staged).unwrap() {
        seen.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let stored: Vec<String> = open_database(&database)
        .prepare("SELECT data || coalesce(raw, '') FROM listings")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    seen.push_str(&stored.concat());
    assert!(!seen.is_empty());
    assert!(!seen.contains(TOKEN), "the token leaked");
    assert!(
        !stored.concat().contains("ne pas diffuser"),
        "a private comment was stored"
    );
}

#[test]
fn empty_answer_withdraws_nothing() {
    let (runtime, server) = start_server();
    mount_all_pages(&runtime, &server);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &server.uri());
    let database = dir.path().join("passerelle.db");
    let first = staged_dir(&fetch(&settings));
    assert_eq!(import_as("apimo", &database, &first, AGENCY, &[]).code, 0);

    let empty = Path::new(&first).with_file_name("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(
        empty.join("properties-0001.json"),
        r#"{"total_items":0,"properties":[]}"#,
    )
    .unwrap();
    let second = import_as("apimo", &database, &empty, AGENCY, &[]);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert_eq!(counts(&second.summary).3, 0, "nothing withdrawn");

    let forced = import_as("apimo", &database, &empty, AGENCY, &["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(counts(&forced.summary).3 > 0, "{}", forced.summary);
    assert!(crate::support::active_source_ids(&database, AGENCY).is_empty());
}

#[test]
fn requests_respect_the_rate_limit() {
    let (runtime, server) = start_server();
    mount_all_pages(&runtime, &server);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &server.uri());
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("requests_per_second = 50", "requests_per_second = 2"),
    )
    .unwrap();

    let started = std::time::Instant::now();
    let fetched = fetch(&settings);
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(1_000),
        "three requests at two per second took {elapsed:?}"
    );
}

#[test]
fn invalid_json_fails_the_fetch() {
    let (runtime, server) = start_server();
    runtime.block_on(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
            .mount(&server),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &server.uri());
    let fetched = fetch(&settings);
    assert_eq!(fetched.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&fetched.stderr);
    assert!(stderr.contains("did not answer valid Apimo JSON"), "{stderr}");
}

#[test]
fn partial_fetches_withdraw_nothing() {
    let (runtime, server) = start_server();
    mount_all_pages(&runtime, &server);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("passerelle.db");
    let staged = staged_dir(&fetch(&settings_file(dir.path(), &server.uri())));
    assert_eq!(import_as("apimo", &database, &staged, AGENCY, &[]).code, 0);

    // An unfinished fetch keeps its .partial name and is refused.
    let unfinished = staged.with_extension("partial");
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::copy(
        staged.join("properties-0001.json"),
        unfinished.join("properties-0001.json"),
    )
    .unwrap();
    let refused = import_as("apimo", &database, &unfinished, AGENCY, &[]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is an unfinished fetch"),
        "{}",
        refused.stderr
    );

    // One page on its own is read, but withdraws nothing.
    let one_page = import_as(
        "apimo",
        &database,
        &staged.join("properties-0001.json"),
        AGENCY,
        &[],
    );
    assert_eq!(one_page.code, 0, "{}", one_page.stderr);
    assert_eq!(counts(&one_page.summary), (0, 0, 2, 0, 0));
    assert!(
        one_page.stderr.contains("is not the agency's whole portfolio"),
        "{}",
        one_page.stderr
    );
}
