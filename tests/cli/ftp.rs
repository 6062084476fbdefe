//! Fetching FTP drops from a real FTP server (libunftp) that the tests run
//! on 127.0.0.1, with a login check and a folder per CRM.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use async_trait::async_trait;
use libunftp::ServerBuilder;
use libunftp::options::FtpsRequired;
use tokio::runtime::Runtime;
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};
use unftp_sbe_fs::Filesystem;

use crate::support::{SettingsFile, counts, fixture, import_as, passerelle};

const USER: &str = "passerelle";
pub(crate) const PASSWORD: &str = "ftp-s3cret-71";

/// Accepts one user and password.
#[derive(Debug)]
struct OneUser;

#[async_trait]
impl Authenticator for OneUser {
    async fn authenticate(
        &self,
        username: &str,
        credentials: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        if username != USER {
            return Err(AuthenticationError::BadUser);
        }
        if credentials.password.as_deref() != Some(PASSWORD) {
            return Err(AuthenticationError::BadPassword);
        }
        Ok(Principal {
            username: username.to_string(),
        })
    }
}

/// An FTP server serving `root` on a free port of 127.0.0.1, with passive
/// ports of its own range.
pub(crate) struct FtpServer {
    _runtime: Runtime,
    pub(crate) port: u16,
}

pub(crate) fn start_server(root: &Path, passive_ports: std::ops::RangeInclusive<u16>) -> FtpServer {
    start_server_with(root, passive_ports, None)
}

/// Starts the server; with `tls` (certificate and key PEM files), FTPS is
/// required on the control and data connections.
fn start_server_with(
    root: &Path,
    passive_ports: std::ops::RangeInclusive<u16>,
    tls: Option<(PathBuf, PathBuf)>,
) -> FtpServer {
    let runtime = Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = root.to_path_buf();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let root = root.clone();
            let mut builder = ServerBuilder::with_authenticator(
                Box::new(move || Filesystem::new(root.clone()).unwrap()),
                Arc::new(OneUser),
            )
            .passive_host([127, 0, 0, 1])
            .passive_ports(passive_ports.clone());
            if let Some((certificate, key)) = &tls {
                builder = builder
                    .ftps(certificate.clone(), key.clone())
                    .ftps_required(FtpsRequired::All, FtpsRequired::All);
            }
            let server = builder.build().unwrap();
            tokio::spawn(async move {
                let _ = server.service(stream).await;
            });
        }
    });
    FtpServer {
        _runtime: runtime,
        port,
    }
}

fn settings_file(dir: &Path, port: u16, min_age_seconds: u64) -> PathBuf {
    SettingsFile::new()
        .section(&format!(
            "[ftp]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{USER}\"\nstable_seconds = 1\n\
             min_age_seconds = {min_age_seconds}\ntimeout_seconds = 10"
        ))
        .write(dir)
}

fn fetch(settings: &Path, crm: &str, agency: &str, password: &str) -> Output {
    passerelle()
        .args(["fetch", "--crm", crm, "--agency", agency, "--config"])
        .arg(settings)
        .env("PASSERELLE_FTP_PASSWORD", password)
        .output()
        .unwrap()
}

fn staged(output: &Output) -> PathBuf {
    PathBuf::from(String::from_utf8(output.stdout.clone()).unwrap().trim())
}

fn drop_folder(dir: &Path, crm: &str) -> PathBuf {
    let folder = dir.join("ftp-root").join(crm);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

#[test]
fn zip_and_csv_drops_fetch_and_import() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("lowercase-members.zip"),
        drop_folder(dir.path(), "twimmo").join("AGENCE-ZIP.zip"),
    )
    .unwrap();
    std::fs::copy(
        fixture("cp1252-crlf.csv"),
        drop_folder(dir.path(), "hektor").join("AGENCE-SUD.csv"),
    )
    .unwrap();
    let server = start_server(&dir.path().join("ftp-root"), 53100..=53199);
    let settings = settings_file(dir.path(), server.port, 0);

    let zipped = fetch(&settings, "twimmo", "AGENCE-ZIP", PASSWORD);
    assert_eq!(
        zipped.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&zipped.stderr)
    );
    let zip_dir = staged(&zipped);
    let downloaded = std::fs::read(zip_dir.join("AGENCE-ZIP.zip")).unwrap();
    assert_eq!(
        downloaded,
        std::fs::read(fixture("lowercase-members.zip")).unwrap(),
        "byte for byte"
    );

    let bare = fetch(&settings, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(
        bare.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&bare.stderr)
    );
    let csv_dir = staged(&bare);
    assert!(csv_dir.join("AGENCE-SUD.csv").is_file());
    assert!(
        std::fs::read_dir(&csv_dir).unwrap().all(|entry| !entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part")),
        "no partial file is left"
    );

    let database = dir.path().join("passerelle.db");
    let from_zip = import_as("twimmo", &database, &zip_dir, "AGENCE-ZIP", &[]);
    assert_eq!(from_zip.code, 0, "{}", from_zip.stderr);
    assert_eq!(counts(&from_zip.summary), (2, 0, 0, 0, 0));
    let from_csv = import_as("hektor", &database, &csv_dir, "AGENCE-SUD", &[]);
    assert_eq!(from_csv.code, 0, "{}", from_csv.stderr);
    assert_eq!(counts(&from_csv.summary), (4, 0, 0, 0, 0));
}

#[test]
fn growing_file_is_left_for_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let drop = drop_folder(dir.path(), "hektor").join("AGENCE-SUD.csv");
    let text = std::fs::read(fixture("cp1252-crlf.csv")).unwrap();
    let half = text.len() / 2;
    std::fs::write(&drop, &text[..half]).unwrap();
    let server = start_server(&dir.path().join("ftp-root"), 53200..=53299);
    // Every file is recent, so each fetch lists the folder twice, a second apart.
    let settings = settings_file(dir.path(), server.port, 3600);

    let uploader = {
        let drop = drop.clone();
        let rest = text[half..].to_vec();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(400));
            let mut file = std::fs::OpenOptions::new().append(true).open(&drop).unwrap();
            std::io::Write::write_all(&mut file, &rest).unwrap();
        })
    };
    let first = fetch(&settings, "hektor", "AGENCE-SUD", PASSWORD);
    uploader.join().unwrap();
    assert_eq!(first.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("hektor/AGENCE-SUD.csv is still being uploaded"),
        "{stderr}"
    );

    let second = fetch(&settings, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        std::fs::read(staged(&second).join("AGENCE-SUD.csv")).unwrap(),
        text
    );
}

#[test]
fn refused_login_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("cp1252-crlf.csv"),
        drop_folder(dir.path(), "hektor").join("AGENCE-SUD.csv"),
    )
    .unwrap();
    let server = start_server(&dir.path().join("ftp-root"), 53300..=53399);
    let settings = settings_file(dir.path(), server.port, 0);

    let refused = fetch(&settings, "hektor", "AGENCE-SUD", "wrong-password");
    assert_eq!(refused.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused the login of user passerelle\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\nhint: the password is read from the environment variable PASSERELLE_FTP_PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password"), "the password was printed");
}

#[test]
fn missing_drop_lists_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("cp1252-crlf.csv"),
        drop_folder(dir.path(), "hektor").join("AGENCE-NORD.csv"),
    )
    .unwrap();
    let server = start_server(&dir.path().join("ftp-root"), 53400..=53499);
    let settings = settings_file(dir.path(), server.port, 0);

    let missing = fetch(&settings, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(missing.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("no file named AGENCE-SUD.csv in folder hektor"),
        "{stderr}"
    );
    assert!(stderr.contains("found: AGENCE-NORD.csv"), "{stderr}");

    let no_folder = fetch(&settings, "twimmo", "AGENCE-SUD", PASSWORD);
    assert_eq!(no_folder.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&no_folder.stderr).contains("folder twimmo does not exist"),
        "{}",
        String::from_utf8_lossy(&no_folder.stderr)
    );
}

#[test]
fn imported_drop_moves_to_processed() {
    let dir = tempfile::tempdir().unwrap();
    let folder = drop_folder(dir.path(), "hektor");
    std::fs::copy(fixture("cp1252-crlf.csv"), folder.join("AGENCE-SUD.csv")).unwrap();
    let server = start_server(&dir.path().join("ftp-root"), 53500..=53599);
    let settings = settings_file(dir.path(), server.port, 0);
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, format!("{text}processed_folder = \"processed\"\n")).unwrap();

    let fetched = fetch(&settings, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let imported = passerelle()
        .args(["import", "--no-photos"])
        .arg(staged(&fetched))
        .args(["--crm", "hektor", "--agency", "AGENCE-SUD", "--config"])
        .arg(&settings)
        .env("PASSERELLE_FTP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        String::from_utf8_lossy(&imported.stderr)
            .contains("moved the FTP drop to hektor/processed/AGENCE-SUD.csv"),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(!folder.join("AGENCE-SUD.csv").exists());
    assert!(folder.join("processed/AGENCE-SUD.csv").is_file());
}

#[test]
fn unreachable_server_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) is closed on the test machines' loopback.
    let settings = settings_file(dir.path(), 9, 0);
    let output = fetch(&settings, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to FTP server 127.0.0.1:9"),
        "{stderr}"
    );
}

#[test]
fn ftps_drop_fetches_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("cp1252-crlf.csv"),
        drop_folder(dir.path(), "hektor").join("AGENCE-SUD.csv"),
    )
    .unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let certificate = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::write(&certificate, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let server = start_server_with(
        &dir.path().join("ftp-root"),
        53600..=53699,
        Some((certificate, key)),
    );

    let plain = settings_file(dir.path(), server.port, 0);
    let refused = fetch(&plain, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(refused.status.code(), Some(3), "the server requires FTPS");

    let text = std::fs::read_to_string(&plain).unwrap();
    let secure = dir.path().join("secure.toml");
    std::fs::write(
        &secure,
        format!("{text}tls = true\ntls_ca_file = \"server.pem\"\n"),
    )
    .unwrap();
    let fetched = fetch(&secure, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert_eq!(
        std::fs::read(staged(&fetched).join("AGENCE-SUD.csv")).unwrap(),
        std::fs::read(fixture("cp1252-crlf.csv")).unwrap()
    );

    let untrusted = dir.path().join("untrusted.toml");
    std::fs::write(&untrusted, format!("{text}tls = true\n")).unwrap();
    let rejected = fetch(&untrusted, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(
        rejected.status.code(),
        Some(3),
        "a self-signed certificate is not trusted by default"
    );
}

#[test]
fn newer_drop_is_not_moved() {
    let dir = tempfile::tempdir().unwrap();
    let folder = drop_folder(dir.path(), "hektor");
    std::fs::copy(fixture("cp1252-crlf.csv"), folder.join("AGENCE-SUD.csv")).unwrap();
    let server = start_server(&dir.path().join("ftp-root"), 53700..=53799);
    let settings = settings_file(dir.path(), server.port, 0);
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, format!("{text}processed_folder = \"processed\"\n")).unwrap();

    let fetched = fetch(&settings, "hektor", "AGENCE-SUD", PASSWORD);
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    // The CRM drops a newer export before the import of the fetched one.
    let mut newer = std::fs::read(fixture("cp1252-crlf.csv")).unwrap();
    newer.extend_from_slice(b"\r\n");
    std::fs::write(folder.join("AGENCE-SUD.csv"), &newer).unwrap();

    let imported = passerelle()
        .args(["import", "--no-photos"])
        .arg(staged(&fetched))
        .args(["--crm", "hektor", "--agency", "AGENCE-SUD", "--config"])
        .arg(&settings)
        .env("PASSERELLE_FTP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert!(
        stderr.contains("a newer hektor/AGENCE-SUD.csv was dropped since the fetch; it is left in place"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(folder.join("AGENCE-SUD.csv")).unwrap(),
        newer,
        "the newer drop stays"
    );
    assert!(!folder.join("processed").join("AGENCE-SUD.csv").exists());
}
