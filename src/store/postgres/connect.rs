//! Connections to Postgres: one pool per database URL in the process, a
//! background runtime that drives the connections, and error messages
//! that name the cause without ever showing the password.
//!
//! The rest of passerelle is synchronous, and the photo step calls the
//! store from inside a runtime of its own. So the connections run on a
//! dedicated runtime thread, and a caller waits for a query's answer with a
//! plain executor, which works from any thread, inside a runtime or not.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime};
use rustls_platform_verifier::ConfigVerifierExt;
use tokio_postgres::error::SqlState;

use crate::store::location::PostgresTarget;

/// Connections one process keeps open to one database at most. A `sync`
/// job takes two (its lock and its import), so 32 jobs fit.
const POOL_SIZE: usize = 64;

/// How long opening a connection may take, unless the URL sets another limit.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long opening a connection may take in all, the server's start-up
/// and login included: a port that accepts connections but never replies
/// as Postgres would otherwise keep a cron job waiting for ever.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a caller waits for a free connection of the pool.
const WAIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Returns the runtime the connections of every pool run on.
pub(super) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("passerelle-postgres")
            .enable_all()
            .build()
            .expect("the Postgres runtime thread cannot start")
    })
}

/// Waits for a future that needs no runtime of its own, such as a query on
/// a connection that the background runtime drives.
pub(super) fn wait<F: Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

/// Returns the process's pool for a database, creating it on first use.
///
/// # Errors
/// The URL is not one tokio-postgres can read.
pub(super) fn pool(target: &PostgresTarget) -> anyhow::Result<Pool> {
    static POOLS: OnceLock<Mutex<HashMap<String, Pool>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pool) = pools.get(target.url()) {
        return Ok(pool.clone());
    }

    let mut config: tokio_postgres::Config = target.url().parse().map_err(|error| {
        crate::exit::UsageError(format!(
            "invalid Postgres URL {}: {error}; the form is postgres://user:password@host:port/database",
            target.redacted()
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("passerelle");
    }

    crate::transport::install_crypto_provider();
    let tls = rustls::ClientConfig::with_platform_verifier()
        .map_err(|error| anyhow::anyhow!("cannot set up TLS for Postgres: {error}"))?;

    let manager = Manager::from_config(
        config,
        tokio_postgres_rustls::MakeRustlsConnect::new(tls),
        ManagerConfig {
            // Resets a connection before another store reuses it, advisory
            // locks included.
            recycling_method: RecyclingMethod::Clean,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CREATE_TIMEOUT))
        .build()?;

    pools.insert(target.url().to_string(), pool.clone());
    Ok(pool)
}

/// Takes a connection from the pool, opening one when none is free.
///
/// # Errors
/// The server cannot be reached, refuses the login, or has no such
/// database; the message names the URL without its password.
pub(super) fn connect(pool: &Pool, target: &PostgresTarget) -> anyhow::Result<Object> {
    let pool = pool.clone();
    let taken = wait(runtime().spawn(async move { pool.get().await }))
        .map_err(|error| anyhow::anyhow!("the Postgres runtime stopped: {error}"))?;
    taken.map_err(|error| connect_error(target, error))
}

fn connect_error(target: &PostgresTarget, error: PoolError) -> anyhow::Error {
    let url = target.redacted();
    let config: Option<tokio_postgres::Config> = target.url().parse().ok();
    let user = config
        .as_ref()
        .and_then(|config| config.get_user().map(str::to_string))
        .unwrap_or_default();
    let database = config
        .as_ref()
        .and_then(|config| config.get_dbname().map(str::to_string))
        .unwrap_or_else(|| user.clone());
    let error = match error {
        PoolError::Backend(error) => error,
        PoolError::Timeout(_) => {
            return anyhow::anyhow!(
                "cannot connect to Postgres at {url}: no answer within {} s; is a Postgres server listening \
                 on that host and port?",
                CREATE_TIMEOUT.as_secs()
            );
        }
        error => return anyhow::anyhow!("cannot connect to Postgres at {url}: {error}"),
    };
    if let Some(db_error) = error.as_db_error() {
        let code = db_error.code();
        let message = db_error.message();
        if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            return anyhow::anyhow!(
                "Postgres at {url} refused the login of user {user:?} ({message}); check the user and password \
                 of the URL, and pg_hba.conf on the server"
            );
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            return anyhow::anyhow!(
                "database {database:?} does not exist on the Postgres server at {url}; create it first, \
                 for example with `createdb {database}`"
            );
        }
        return anyhow::anyhow!("Postgres at {url} refused the connection: {message}");
    }
    let io_kind = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    match io_kind {
        Some(io::ErrorKind::ConnectionRefused) => anyhow::anyhow!(
            "cannot connect to Postgres at {url}: connection refused; is the server running and listening \
             on that host and port?"
        ),
        _ => anyhow::anyhow!("cannot connect to Postgres at {url}: {error}"),
    }
}
