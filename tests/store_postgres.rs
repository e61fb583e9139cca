//! `PostgresStore` and `SqlStore` on a real PostgreSQL server: the conformance suite, a restart,
//! the migrations and the user administration.
//!
//! The server is named by `TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test` (the project's machines run it). Each test works in a schema of its own,
//! `tjwt_<random>`, dropped at its end, so runs and tests never see each other's rows. Without
//! a server, a test says so loudly on stderr and passes, unless `CI=true`, where it fails.
#![cfg(all(feature = "postgres", feature = "testkit"))]

use std::future::Future;
use std::io::Write as _;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tower_jwt_auth::login::{User, UserStore};
use tower_jwt_auth::store::{PostgresStore, SqlStore};
use tower_jwt_auth::testkit;

/// The server's URL, or `None` (after saying why) when these tests cannot run here.
async fn server(test: &str) -> Option<String> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // Unset: the server the project's machines run, so the README's test command runs these
    // there too; a machine without it skips them, loudly.
    let url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let why = match PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
    {
        Ok(pool) => {
            pool.close().await;
            return Some(url);
        }
        // The error of sqlx, not the URL, which may hold a password.
        Err(e) => format!("the PostgreSQL server (TEST_POSTGRES_URL) does not answer: {e}"),
    };
    assert!(!in_ci, "{test}: {why} (CI=true: Postgres tests must run)");
    // Straight to the process's stderr: the test harness captures `eprintln!` of a passing
    // test, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: {why}.\n!!!!!!!! Start PostgreSQL on 127.0.0.1:5432 or set TEST_POSTGRES_URL \
         to run it.\n"
    );
    None
}

fn schema_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "tjwt_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A pool whose connections see only `schema` (and create their tables there).
async fn pool_in(url: &str, schema: &str) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema)]);
    PgPoolOptions::new().connect_with(options).await.unwrap()
}

/// Runs `body` with a fresh schema's name and the server's URL, then drops the schema, whether
/// `body` passed or panicked (its panic is then raised again).
async fn in_schema<F, Fut>(test: &str, body: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = server(test).await else {
        return;
    };
    let schema = schema_name();
    let admin = PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let outcome = tokio::spawn(body(url, schema.clone())).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn store_in(url: &str, schema: &str) -> PostgresStore {
    let store = PostgresStore::from_pool(pool_in(url, schema).await);
    store.migrate().await.unwrap();
    store
}

fn log_to_test_output() {
    // The race reports its outcome counts at info level.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("tower_jwt_auth=info")
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_keeps_the_session_contract_races_included() {
    log_to_test_output();
    in_schema("postgres conformance", |url, schema| async move {
        let store = store_in(&url, &schema).await;
        testkit::check_session_store(store.clone()).await;
        let users = store.clone();
        testkit::check_user_store(store, move |name, user| {
            let users = users.clone();
            async move { users.add_user(&name, &user).await.unwrap() }
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_store_on_postgres_keeps_the_session_contract() {
    log_to_test_output();
    in_schema("SqlStore on postgres", |url, schema| async move {
        let store = SqlStore::Postgres(store_in(&url, &schema).await);
        testkit::check_session_store(store.clone()).await;
        let users = store.clone();
        testkit::check_user_store(store, move |name, user| {
            let users = users.clone();
            async move { users.upsert_user(&name, &user).await.unwrap() }
        })
        .await;
    })
    .await;
}

/// `url` with the schema set through the URL itself, as `SqlStore::connect` takes it.
fn url_in(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options[search_path]={schema}")
}

#[tokio::test]
async fn sql_store_connects_to_a_postgres_url_and_migrates() {
    in_schema("SqlStore::connect on postgres", |url, schema| async move {
        let store = SqlStore::connect(&url_in(&url, &schema)).await.unwrap();
        assert!(matches!(store, SqlStore::Postgres(_)), "{store:?}");
        assert_eq!(store.migrate().await.unwrap(), 0, "connect did not migrate");
        let alt = url_in(&url.replacen("postgres://", "postgresql://", 1), &schema);
        let store = SqlStore::connect(&alt).await.unwrap();
        assert!(matches!(store, SqlStore::Postgres(_)), "{store:?}");
        store
            .add_user("zoe", &user("u-zoe", "$argon2id$z", &["read"]))
            .await
            .unwrap();
        // In the test's schema, not in the server's default one.
        let pool = pool_in(&url, &schema).await;
        let found: String = sqlx::query_scalar("SELECT id FROM auth_users WHERE username = 'zoe'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(found, "u-zoe");
    })
    .await;
}

#[tokio::test]
async fn sessions_and_reuse_detection_survive_a_restart() {
    in_schema("postgres restart", |url, schema| async move {
        let store = store_in(&url, &schema).await;
        let state = testkit::before_restart(&store).await;
        store.pool().close().await;
        drop(store);

        let store = store_in(&url, &schema).await;
        testkit::after_restart(&store, state).await;
    })
    .await;
}

#[tokio::test]
async fn migrations_run_twice_are_a_no_op() {
    in_schema("postgres migrations twice", |url, schema| async move {
        let pool = pool_in(&url, &schema).await;
        let store = PostgresStore::from_pool(pool.clone());
        assert_eq!(store.migrate().await.unwrap(), 2);
        assert_eq!(
            store.migrate().await.unwrap(),
            0,
            "a second run applied something"
        );
        let versions: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, name FROM auth_schema_migrations ORDER BY version")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            versions,
            [(1, "users".to_owned()), (2, "sessions".to_owned())]
        );
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name LIKE 'auth\\_%'",
        )
        .bind(&schema)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            tables, 5,
            "the tables were not created in the test's schema"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_at_once_migrate_the_schema_once() {
    in_schema("postgres concurrent migrations", |url, schema| async move {
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let (url, schema) = (url.clone(), schema.clone());
                tokio::spawn(async move {
                    let store = PostgresStore::from_pool(pool_in(&url, &schema).await);
                    store.migrate().await
                })
            })
            .collect();
        let mut applied = 0;
        for start in starts {
            applied += start.await.unwrap().expect("a concurrent start-up failed");
        }
        assert_eq!(applied, 2, "the migrations were applied {applied} times");
    })
    .await;
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_build_is_refused() {
    in_schema("postgres newer schema", |url, schema| async move {
        let store = store_in(&url, &schema).await;
        sqlx::query(
            "INSERT INTO auth_schema_migrations (version, name, applied_at) \
             VALUES (9999, 'from the future', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let err = store.migrate().await.unwrap_err().to_string();
        assert!(
            err.contains("version 9999") && err.contains("newer"),
            "unclear error: {err}"
        );
    })
    .await;
}

fn user(id: &str, hash: &str, scopes: &[&str]) -> User {
    User::new(id, hash, scopes.iter().copied())
}

#[tokio::test]
async fn users_are_added_upserted_disabled_listed_and_imported() {
    in_schema("postgres users", |url, schema| async move {
        let store = SqlStore::Postgres(store_in(&url, &schema).await);
        store
            .add_user("bob", &user("u-bob", "$argon2id$bob", &["read"]))
            .await
            .unwrap();
        let err = store
            .add_user("bob", &user("u-bob-2", "$argon2id$secret-hash", &["read"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("exists already"), "{err}");
        assert!(
            !err.contains("secret-hash"),
            "the error shows the hash: {err}"
        );

        store
            .upsert_user(
                "bob",
                &user("ignored", "$argon2id$bob2", &["read", "admin"]).disabled(true),
            )
            .await
            .unwrap();
        let bob = store.find_user("bob").await.unwrap().unwrap();
        assert_eq!(
            (bob.id.as_str(), bob.password_hash.as_str()),
            ("u-bob", "$argon2id$bob2")
        );
        assert_eq!(bob.scopes, ["read", "admin"]);
        assert!(bob.disabled);
        store
            .upsert_user("alice", &user("u-alice", "$argon2id$alice", &[]))
            .await
            .unwrap();

        assert!(store.set_disabled("bob", false).await.unwrap());
        assert!(!store.find_user("bob").await.unwrap().unwrap().disabled);
        assert!(!store.set_disabled("nobody", true).await.unwrap());
        let names: Vec<String> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["alice", "bob"]);

        let batch = vec![
            (
                "carol".to_owned(),
                user("u-carol", "$argon2id$c", &["read"]),
            ),
            ("bob".to_owned(), user("u-bob-3", "$argon2id$b", &["read"])),
        ];
        assert!(store.import_users(&batch).await.is_err());
        assert_eq!(
            store.find_user("carol").await.unwrap(),
            None,
            "not all or nothing"
        );
        let batch = vec![
            (
                "carol".to_owned(),
                user("u-carol", "$argon2id$c", &["read"]),
            ),
            ("dave".to_owned(), user("u-dave", "$argon2id$d", &[])),
        ];
        assert_eq!(store.import_users(&batch).await.unwrap(), 2);
        assert_eq!(store.list_users().await.unwrap().len(), 4);
    })
    .await;
}
