//! Where the store lives: a SQLite file, or a Postgres database named by a
//! `postgres://` URL.

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

    /// The URL with its password replaced by `***`, fit for messages.
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

    /// Opens the database, creating a SQLite file when missing, and brings
    /// its schema up to date.
    ///
    /// # Errors
    /// The file or server cannot be reached or used; the message says why.
    pub fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        Ok(match self {
            Self::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            Self::Postgres(target) => Box::new(PostgresStore::open(target)?),
        })
    }

    /// The SQLite file, if the database is one and no such file exists.
    pub fn missing_file(&self) -> Option<&Path> {
        self.sqlite_path().filter(|path| !path.is_file())
    }

    /// The SQLite file, if the database is one.
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
            Self::Postgres(target) => target.redacted(),
        }
    }

    /// The media directory used when the settings name none: beside a
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
/// and in a `password` query parameter.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL the url crate reads: keep the scheme and host part only.
        return match url.split_once('@') {
            Some((_, host)) => format!("postgres://***@{host}"),
            None => url.to_string(),
        };
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    if pairs.iter().any(|(key, _)| key == "password") {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (key, value) in &pairs {
            query.append_pair(key, if key == "password" { "***" } else { value });
        }
    }
    parsed.to_string()
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
