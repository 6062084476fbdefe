//! The backends every store and pipeline test runs on: a SQLite file, and
//! a throw-away Postgres database when one is available. Without Postgres
//! the tests run on SQLite alone and print a skip message, unless
//! `PASSERELLE_REQUIRE_POSTGRES` is set, as in CI, where that fails them.

use super::location::Database;
use super::postgres::scratch;
use super::{PostgresStore, SqliteStore, Store};
use crate::listing::{Coded, Features, Listing, PropertyKind, TransactionKind};

/// A store under test, with raw SQL for what the store's API does not do.
pub enum TestStore {
    /// A SQLite file in a temporary folder, removed with the store.
    Sqlite(SqliteStore, tempfile::TempDir),
    Postgres(Box<PostgresStore>, Database),
}

impl TestStore {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(..) => "sqlite",
            Self::Postgres(..) => "postgres",
        }
    }

    pub fn store(&mut self) -> &mut dyn Store {
        match self {
            Self::Sqlite(store, _) => store,
            Self::Postgres(store, _) => store.as_mut(),
        }
    }

    /// Opens a second store on the same database, as another process would.
    pub fn reopen(&self) -> Box<dyn Store> {
        match self {
            Self::Sqlite(_, dir) => Box::new(SqliteStore::open(&dir.path().join("test.db")).unwrap()),
            Self::Postgres(_, database) => database.open().unwrap(),
        }
    }

    /// Runs SQL statements without parameters.
    pub fn execute(&self, sql: &str) {
        match self {
            Self::Sqlite(store, _) => store.connection().execute_batch(sql).unwrap(),
            Self::Postgres(store, _) => store.batch_execute(sql).unwrap(),
        }
    }

    /// Returns the number a `SELECT count(*)` query counts.
    pub fn count(&self, sql: &str) -> i64 {
        match self {
            Self::Sqlite(store, _) => store.connection().query_row(sql, [], |row| row.get(0)).unwrap(),
            Self::Postgres(store, _) => store.count(sql).unwrap(),
        }
    }
}

/// Opens a store of each backend available, each on an empty database.
pub fn backends() -> Vec<TestStore> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("test.db")).unwrap();
    let mut stores = vec![TestStore::Sqlite(sqlite, dir)];
    if let Some(database) = postgres_database()
        && let Database::Postgres(target) = &database
    {
        let store = PostgresStore::open(target).unwrap();
        stores.push(TestStore::Postgres(Box::new(store), database));
    }
    stores
}

/// Creates a new Postgres database, or returns `None` when there is no server (see
/// [`scratch::database_or_skip`]).
pub fn postgres_database() -> Option<Database> {
    scratch::database_or_skip().map(|url| Database::parse(&url))
}

/// Builds a listing with a source id and a title, nothing else.
pub fn listing(source_id: &str) -> Listing {
    Listing {
        crm: "fake".to_string(),
        agency_code: "A1".to_string(),
        crm_agency_id: None,
        source_id: source_id.to_string(),
        reference: None,
        organization: None,
        agent: None,
        transaction: Coded::new(TransactionKind::Sale, "sale"),
        property: Coded::new(PropertyKind::House, "house"),
        property_subtype: None,
        price: None,
        charges: None,
        fees: None,
        deposit: None,
        living_area: None,
        land_area: None,
        rooms: None,
        bedrooms: None,
        bathrooms: None,
        shower_rooms: None,
        floor: None,
        floors: None,
        year_built: None,
        available_from: None,
        address: None,
        postal_code: None,
        city: None,
        country: None,
        latitude: None,
        longitude: None,
        title: Some(format!("Listing {source_id}")),
        description: None,
        translations: Vec::new(),
        dpe: None,
        ges: None,
        dpe_date: None,
        features: Features::default(),
        virtual_tour: None,
        photos: Vec::new(),
    }
}
