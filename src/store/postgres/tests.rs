//! What only the Postgres store does: reconnecting, several connections
//! creating the schema at once, and its connection errors.

use super::PostgresStore;
use super::scratch;
use crate::store::location::{Database, PostgresTarget};
use crate::store::testing::postgres_database;
use crate::store::{ListingStore, LockStore, RunCounts, RunStatus};

fn target_of(database: &Database) -> &PostgresTarget {
    match database {
        Database::Postgres(target) => target,
        Database::Sqlite(_) => unreachable!("a Postgres database"),
    }
}

fn with_url(database: &Database, edit: impl FnOnce(&mut url::Url)) -> PostgresTarget {
    let mut url = url::Url::parse(target_of(database).url()).unwrap();
    edit(&mut url);
    match Database::parse(url.as_str()) {
        Database::Postgres(target) => target,
        Database::Sqlite(_) => unreachable!(),
    }
}

#[test]
fn dropped_connection_replaced_between_batches() {
    let Some(database) = postgres_database() else {
        return;
    };
    let store = PostgresStore::open(target_of(&database)).unwrap();
    store.begin().unwrap();
    let lock = store.acquire_lock("poliris", "AG").unwrap();
    let integration = store.integration("poliris", "AG", None).unwrap();
    store.commit().unwrap();
    let first_backend = store.backend_pid().unwrap();

    let killer = PostgresStore::open(target_of(&database)).unwrap();
    killer
        .batch_execute(&format!("SELECT pg_terminate_backend({first_backend})"))
        .unwrap();

    store.begin().unwrap();
    let run = store.begin_run(integration, "feed.csv", "import", false).unwrap();
    store.commit().unwrap();
    assert!(run > 0);
    assert_ne!(store.backend_pid().unwrap(), first_backend, "a new connection");
    killer.begin().unwrap();
    let error = killer.acquire_lock("poliris", "AG").unwrap_err();
    killer.rollback().unwrap();
    assert!(
        error.to_string().contains("another run of poliris AG"),
        "the lock was taken again: {error}"
    );
    store.release_lock(&lock).unwrap();
}

#[test]
fn concurrent_opens_create_schema_once() {
    let Some(database) = postgres_database() else {
        return;
    };
    let openers: Vec<_> = (0..6)
        .map(|_| {
            let target = target_of(&database).clone();
            std::thread::spawn(move || {
                PostgresStore::open(&target)
                    .map(|_| ())
                    .map_err(|error| format!("{error:#}"))
            })
        })
        .collect();
    let results: Vec<_> = openers.into_iter().map(|opener| opener.join().unwrap()).collect();
    for result in &results {
        assert_eq!(result, &Ok(()), "{results:#?}");
    }
}

#[test]
fn connection_errors_hide_password() {
    let Some(database) = postgres_database() else {
        return;
    };
    let missing = with_url(&database, |url| url.set_path("/no_such_database"));
    let error = format!("{:#}", PostgresStore::open(&missing).err().unwrap());
    assert!(
        error.contains("database \"no_such_database\" does not exist"),
        "{error}"
    );

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = with_url(&database, |url| {
        url.set_port(Some(closed_port)).unwrap();
        url.set_password(Some("hunter2")).unwrap();
    });
    let error = format!("{:#}", PostgresStore::open(&refused).err().unwrap());
    assert!(error.contains("connection refused"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");

    if scratch::started_here() {
        let wrong = with_url(&database, |url| {
            url.set_username(scratch::PASSWORD_ROLE).unwrap();
            url.set_password(Some("wrong-password")).unwrap();
        });
        let error = format!("{:#}", PostgresStore::open(&wrong).err().unwrap());
        assert!(error.contains("refused the login of user"), "{error}");
        assert!(!error.contains("wrong-password"), "{error}");
    }
}

#[test]
fn mid_batch_drop_records_failed_run() {
    let Some(database) = postgres_database() else {
        return;
    };
    let store = PostgresStore::open(target_of(&database)).unwrap();
    let integration = store.integration("poliris", "AG", None).unwrap();
    let run = store.begin_run(integration, "feed.csv", "import", false).unwrap();
    let backend = store.backend_pid().unwrap();
    store.begin().unwrap();
    store.active_count(integration).unwrap();
    let killer = PostgresStore::open(target_of(&database)).unwrap();
    killer
        .batch_execute(&format!("SELECT pg_terminate_backend({backend})"))
        .unwrap();

    let error = format!("{:#}", store.active_count(integration).unwrap_err());
    assert!(error.contains("dropped during a batch"), "{error}");
    store
        .finish_run(run, RunStatus::Failed, &RunCounts::default(), None, Some(&error))
        .unwrap();
    store.commit().unwrap();
    let status = killer.count(&format!(
        "SELECT count(*) FROM runs WHERE id = {run} AND status = 'failed'"
    ));
    assert_eq!(status.unwrap(), 1, "the failure is recorded on a new connection");
}
