//! Throw-away Postgres databases for tests and benchmarks.
//!
//! With `PASSERELLE_TEST_DATABASE_URL` set, each database is created on
//! that server (its user needs the CREATEDB right). Otherwise, when Debian's
//! `initdb` and `pg_ctl` are installed, one server per process is started
//! in a temporary directory, on a free port of 127.0.0.1, with trust
//! authentication, and stopped when the process exits. As root, the server
//! runs as the `postgres` user, since Postgres refuses to run as root.
//! When neither is available, [`database`] returns the reason, for the
//! caller to skip with that message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use super::connect::{runtime, wait};

/// Names a server to use instead of starting one.
pub const URL_VARIABLE: &str = "PASSERELLE_TEST_DATABASE_URL";

/// A role of a started server that must give [`PASSWORD_ROLE_PASSWORD`].
pub const PASSWORD_ROLE: &str = "passerelle_password_check";

/// The password of [`PASSWORD_ROLE`].
pub const PASSWORD_ROLE_PASSWORD: &str = "right-password";

/// Returns whether the server was started here, with [`PASSWORD_ROLE`], rather
/// than named by [`URL_VARIABLE`].
pub fn started_here() -> bool {
    started()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_some()
}

/// A server this process started.
struct Server {
    data: PathBuf,
    pg_ctl: PathBuf,
    as_postgres_user: bool,
}

/// Whether a started server flushes its writes to disk as a production
/// server does; tests leave that off to run faster.
static DURABLE: AtomicBool = AtomicBool::new(false);

/// Makes the server this process starts flush to disk like a production
/// server, for benchmarks. Call it before the first [`database`].
pub fn use_durable_server() {
    DURABLE.store(true, Ordering::Relaxed);
}

/// Returns the server databases are created on: its URL without a
/// database name, or the reason there is none.
fn server() -> &'static Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var(URL_VARIABLE)
            && !url.is_empty()
        {
            return Ok(url);
        }
        start_server()
    })
}

/// Creates an empty database and returns its URL, or the reason no
/// Postgres server is available.
///
/// # Errors
/// No server is configured or installed, it cannot start, or the database
/// cannot be created.
pub fn database() -> Result<String, String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let admin = server().clone()?;
    let name = format!(
        "passerelle_scratch_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    execute(&admin, &format!("DROP DATABASE IF EXISTS {name}"))?;
    execute(&admin, &format!("CREATE DATABASE {name}"))?;
    with_database(&admin, &name)
}

/// Variable that turns a missing Postgres server into a test failure, as
/// CI sets it, instead of a skip.
pub const REQUIRE_VARIABLE: &str = "PASSERELLE_REQUIRE_POSTGRES";

/// Creates an empty database for a test and returns its URL; without a
/// server, prints on stderr that the test's Postgres part is skipped and
/// returns `None`.
///
/// # Panics
/// No server is available and [`REQUIRE_VARIABLE`] is set.
pub fn database_or_skip() -> Option<String> {
    match database() {
        Ok(url) => Some(url),
        Err(reason) if std::env::var_os(REQUIRE_VARIABLE).is_some() => {
            panic!("{REQUIRE_VARIABLE} is set, and {reason}")
        }
        Err(reason) => {
            eprintln!("skipping the Postgres part of this test: {reason}");
            None
        }
    }
}

/// Runs SQL on a database with a plain connection of its own.
///
/// # Errors
/// The connection or a statement failed.
pub fn execute(url: &str, sql: &str) -> Result<(), String> {
    let url = url.to_string();
    let sql = sql.to_string();
    let done = wait(runtime().spawn(async move {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client.batch_execute(&sql).await
    }));
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("{error:#}")),
        Err(error) => Err(error.to_string()),
    }
}

/// Returns the URL of database `name` on the server of `url`.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|error| format!("{URL_VARIABLE}: {error}"))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

/// Finds a program of a Postgres installation: in the newest of Debian's
/// `/usr/lib/postgresql/*/bin`, else on the PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    let debian = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|entries| {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin").join(name)))
            })
            .filter(|(_, path)| path.is_file())
            .collect();
        versions.sort();
        versions.pop().map(|(_, path)| path)
    });
    debian.or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// Runs a Postgres program, as the `postgres` user when this process is root.
fn run(program: &Path, args: &[&str], as_postgres_user: bool) -> Result<(), String> {
    let output = if as_postgres_user {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .output()
    } else {
        Command::new(program).args(args).output()
    }
    .map_err(|error| format!("cannot run {}: {error}", program.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn start_server() -> Result<String, String> {
    let (Some(initdb), Some(pg_ctl)) = (find_program("initdb"), find_program("pg_ctl")) else {
        return Err(format!(
            "no Postgres server: set {URL_VARIABLE}, or install Debian's postgresql package for initdb and pg_ctl"
        ));
    };

    let as_postgres_user = is_root();
    let root = std::env::temp_dir().join(format!("passerelle-postgres-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|error| format!("cannot create {}: {error}", root.display()))?;
    if as_postgres_user {
        let owned = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&root)
            .status()
            .is_ok_and(|status| status.success());
        if !owned {
            return Err(format!("cannot give {} to the postgres user", root.display()));
        }
    }

    let data = root.join("data");
    let data_text = data.display().to_string();
    run(
        &initdb,
        &[
            "-D",
            &data_text,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        as_postgres_user,
    )?;

    // One role logs in with a password, so that tests can see a wrong one
    // refused; everybody else is trusted.
    let hba = data.join("pg_hba.conf");
    let rules =
        std::fs::read_to_string(&hba).map_err(|error| format!("cannot read {}: {error}", hba.display()))?;
    std::fs::write(
        &hba,
        format!("host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n{rules}"),
    )
    .map_err(|error| format!("cannot write {}: {error}", hba.display()))?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("cannot find a free port: {error}"))?
        .port();
    let durability = if DURABLE.load(Ordering::Relaxed) {
        ""
    } else {
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    };
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=200 {durability}",
        root.display()
    );

    let log = root.join("server.log").display().to_string();
    run(
        &pg_ctl,
        &["-D", &data_text, "-l", &log, "-w", "-o", &options, "start"],
        as_postgres_user,
    )?;

    *started()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Server {
        data,
        pg_ctl,
        as_postgres_user,
    });

    // SAFETY: `stop_server` is an `extern "C"` function without arguments
    // that never unwinds, which is what atexit requires.
    unsafe {
        libc::atexit(stop_server);
    }
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    execute(
        &url,
        &format!("CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD_ROLE_PASSWORD}'"),
    )?;
    Ok(url)
}

fn started() -> &'static Mutex<Option<Server>> {
    static STARTED: Mutex<Option<Server>> = Mutex::new(None);
    &STARTED
}

/// Stops the server this process started and removes its files.
extern "C" fn stop_server() {
    let server = started()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(server) = server {
        let data = server.data.display().to_string();
        let _ = run(
            &server.pg_ctl,
            &["-D", &data, "-m", "immediate", "-w", "stop"],
            server.as_postgres_user,
        );
        if let Some(root) = server.data.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}
