//! The location of the store: a SQLite file, or a Postgres database named
//! by a `postgres://` URL.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{PostgresStore, SqliteStore, Store};

/// A database passerelle can open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(PostgresTarget),
}

/// A Postgres database and how passerelle talks to it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// The URL as given, password included; never printed.
    url: String,
    /// Shortest time between two progress events of one run.
    pub progress_interval: Duration,
}

/// Progress events of a run are published at most this often by default.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

impl PostgresTarget {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Names the database by user, server and database name alone, so that
    /// the same database reached through a URL with another scheme
    /// spelling, password or options keeps its media directory.
    pub fn owner(&self) -> String {
        let Ok(config) = self.url.parse::<tokio_postgres::Config>() else {
            return self.redacted();
        };
        let user = config.get_user().unwrap_or_default();
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
        let database = config.get_dbname().unwrap_or(user);
        format!(
            "postgres://{user}@{}:{}/{database}",
            hosts.join(","),
            if ports.is_empty() {
                "5432".to_string()
            } else {
                ports.join(",")
            }
        )
    }

    /// Returns the URL with its password replaced by `***`, for messages.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

impl fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("url", &self.redacted())
            .field("progress_interval", &self.progress_interval)
            .finish()
    }
}

impl Database {
    /// Reads a `--database` value: a `postgres://` or `postgresql://` URL
    /// names a Postgres database, anything else a SQLite file.
    pub fn parse(text: &str) -> Self {
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Self::Postgres(PostgresTarget {
                url: text.to_string(),
                progress_interval: DEFAULT_PROGRESS_INTERVAL,
            })
        } else {
            Self::Sqlite(PathBuf::from(text))
        }
    }

    /// Returns whether `text`, read as a SQLite path by [`parse`](Self::parse), looks
    /// like a connection string instead: a URL of another scheme (a typo
    /// such as `postgre://`) or libpq's `host=… dbname=…` form. Taking it
    /// for a file name would create a file named after it, password and all.
    pub fn looks_like_connection(text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        lower.contains("://")
            || ["host=", "dbname=", "user=", "password=", "port="]
                .iter()
                .any(|key| lower.contains(key))
    }

    /// Opens the database, creating a SQLite file when missing, and brings
    /// its schema up to date.
    ///
    /// # Errors
    /// The file or server cannot be reached or used; the message gives the cause.
    pub fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        tracing::info!(database = %self, "opening the database");
        Ok(match self {
            Self::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            Self::Postgres(target) => Box::new(PostgresStore::open(target)?),
        })
    }

    /// Returns the SQLite file, if the database is one and no such file exists.
    pub fn missing_file(&self) -> Option<&Path> {
        self.sqlite_path().filter(|path| !path.is_file())
    }

    /// Returns the SQLite file, if the database is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(path) => Some(path),
            Self::Postgres(_) => None,
        }
    }

    /// Names the database in the owner file of a media directory: the
    /// absolute path of a SQLite file, links resolved when it exists, or
    /// the URL without its password.
    pub fn media_owner(&self) -> String {
        match self {
            Self::Sqlite(path) => std::fs::canonicalize(path)
                .or_else(|_| std::path::absolute(path))
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
            Self::Postgres(target) => target.owner(),
        }
    }

    /// Returns the media directory used when the settings name none: beside a
    /// SQLite file, named after it, or `passerelle.media` in the working
    /// directory for Postgres.
    pub fn default_media_dir(&self) -> PathBuf {
        match self {
            Self::Sqlite(path) => path.with_extension("media"),
            Self::Postgres(_) => PathBuf::from("passerelle.media"),
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(target) => f.write_str(&target.redacted()),
        }
    }
}

/// Replaces the password of a connection URL with `***`, in the user part
/// and in a `password` query parameter. It reads the URL by hand, not with
/// a URL parser, so that a password with an unencoded `@` or `/`, which a
/// parser splits elsewhere, is hidden whole too.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a database URL that cannot be read)".to_string();
    };
    // Host names never hold `@`, so the last one ends the user part.
    let (user, location) = match rest.rsplit_once('@') {
        Some((user, location)) => match user.split_once(':') {
            Some((name, _)) => (format!("{name}:***@"), location),
            None => (format!("{user}@"), location),
        },
        None => (String::new(), rest),
    };
    let location = match location.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => location.to_string(),
    };
    format!("{scheme}://{user}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_postgres_and_paths_sqlite() {
        assert!(matches!(
            Database::parse("postgres://u@h/db"),
            Database::Postgres(_)
        ));
        assert!(matches!(
            Database::parse("PostgreSQL://u@h/db"),
            Database::Postgres(_)
        ));
        assert_eq!(
            Database::parse("data/postgres.db"),
            Database::Sqlite(PathBuf::from("data/postgres.db"))
        );
        assert!(Database::looks_like_connection(
            "postgre://importer:pw@db/listings"
        ));
        assert!(Database::looks_like_connection(
            "host=127.0.0.1 dbname=imp password=pw"
        ));
        assert!(!Database::looks_like_connection("data/listings.db"));
    }

    #[test]
    fn passwords_never_show_even_in_unreadable_urls() {
        for url in [
            "postgres://importer@127.0.0.1:notaport/imp?password=TopSecret1",
            "postgres://importer:Wr@ng/Pass@127.0.0.1:55777/imp?foo=bar",
            "postgres://importer:TopSecret1@127.0.0.1:5432/imp?sslmode=disable&PASSWORD=TopSecret1",
        ] {
            let shown = redact(url);
            assert!(!shown.contains("TopSecret1"), "{shown}");
            assert!(!shown.contains("Pass"), "{shown}");
            assert!(shown.contains("127.0.0.1"), "{shown}");
        }
    }

    #[test]
    fn one_database_has_one_owner_name() {
        let owner = |url: &str| match Database::parse(url) {
            Database::Postgres(target) => target.owner(),
            Database::Sqlite(_) => unreachable!(),
        };
        let plain = owner("postgres://importer@127.0.0.1:5432/listings");
        assert_eq!(
            owner("postgresql://importer:pw@127.0.0.1/listings?sslmode=disable"),
            plain
        );
        assert_ne!(owner("postgres://importer@127.0.0.1:5432/other"), plain);
    }

    #[test]
    fn passwords_never_show() {
        let database = Database::parse("postgres://importer:s3cr%40t@db.local:5432/listings?password=other");
        let shown = format!("{database} {database:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(!shown.contains("other"), "{shown}");
        assert!(shown.contains("importer:***@db.local:5432/listings"), "{shown}");
    }
}
