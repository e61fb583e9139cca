//! The versioned schema of the SQL stores, applied at start-up.
//!
//! Each migration runs in its own transaction together with the row that records it in
//! `auth_schema_migrations`, so a crash leaves it either applied and recorded or neither. The
//! transaction first takes a lock that serialises every instance starting at once (SQLite:
//! `BEGIN IMMEDIATE`, the database's single write lock; Postgres: a transaction-scoped advisory
//! lock), then reads which versions are applied: the loser of a start-up race finds the
//! winner's rows and skips. A database whose newest version is beyond what this build knows was
//! migrated by a newer build: it is refused rather than used with a schema we cannot read.

use sqlx::Executor as _;

use super::unix_now;
use crate::verify::revocation::BoxError;

/// One step of the schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Migration {
    /// Its order, and its key in `auth_schema_migrations`.
    pub(crate) version: i64,
    /// A short name, recorded beside the version for people reading the table.
    pub(crate) name: &'static str,
    /// The statements, run as one script.
    pub(crate) sql: &'static str,
}

/// The SQLite schema, oldest first.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "users",
        sql: include_str!("migrations/sqlite/0001_users.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("migrations/sqlite/0002_sessions.sql"),
    },
];

/// The Postgres schema, oldest first: the same tables, in Postgres types.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "users",
        sql: include_str!("migrations/postgres/0001_users.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("migrations/postgres/0002_sessions.sql"),
    },
];

/// The bookkeeping table; the same text for both databases.
const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS auth_schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// The newest version in `migrations`.
fn newest_known(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Refuses a database migrated by a newer build.
fn refuse_newer(newest_applied: Option<i64>, migrations: &[Migration]) -> Result<(), BoxError> {
    let known = newest_known(migrations);
    match newest_applied {
        Some(applied) if applied > known => Err(format!(
            "the auth schema of this database is at version {applied}, newer than this build of \
             tower-jwt-auth knows (version {known}): upgrade tower-jwt-auth, or use another \
             database"
        )
        .into()),
        _ => Ok(()),
    }
}

/// Applies the missing SQLite migrations.
#[cfg(feature = "sqlite")]
pub(crate) async fn run_sqlite(pool: &sqlx::SqlitePool) -> Result<usize, BoxError> {
    use super::db_error;

    let err = |e| db_error("migrating the SQLite auth schema", e);
    let mut applied_now = 0;
    // The bookkeeping table itself, under the write lock like the rest.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
    tx.execute(sqlx::raw_sql(CREATE_MIGRATIONS_TABLE))
        .await
        .map_err(err)?;
    tx.commit().await.map_err(err)?;
    for migration in SQLITE {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM auth_schema_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        refuse_newer(newest, SQLITE)?;
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM auth_schema_migrations WHERE version = ?1")
                .bind(migration.version)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        if done > 0 {
            tx.rollback().await.map_err(err)?;
            continue;
        }
        tx.execute(sqlx::raw_sql(migration.sql))
            .await
            .map_err(err)?;
        sqlx::query(
            "INSERT INTO auth_schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(unix_now())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        applied_now += 1;
    }
    Ok(applied_now)
}

/// The advisory lock every instance takes while migrating a Postgres database: one constant,
/// the bytes of "tjwauth1", so that it does not collide with an application's own locks.
#[cfg(feature = "postgres")]
const PG_MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"tjwauth1");

/// Applies the missing Postgres migrations.
#[cfg(feature = "postgres")]
pub(crate) async fn run_postgres(pool: &sqlx::PgPool) -> Result<usize, BoxError> {
    use super::db_error;

    let err = |e| db_error("migrating the Postgres auth schema", e);
    let mut applied_now = 0;
    // Two concurrent `CREATE TABLE IF NOT EXISTS` can both miss the table and one then fails on
    // the catalog's unique index: take the lock first.
    let mut tx = pool.begin().await.map_err(err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    tx.execute(sqlx::raw_sql(CREATE_MIGRATIONS_TABLE))
        .await
        .map_err(err)?;
    tx.commit().await.map_err(err)?;
    for migration in POSTGRES {
        let mut tx = pool.begin().await.map_err(err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM auth_schema_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        refuse_newer(newest, POSTGRES)?;
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM auth_schema_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        if done > 0 {
            tx.rollback().await.map_err(err)?;
            continue;
        }
        tx.execute(sqlx::raw_sql(migration.sql))
            .await
            .map_err(err)?;
        sqlx::query(
            "INSERT INTO auth_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(unix_now())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        applied_now += 1;
    }
    Ok(applied_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &[Migration] = &[
        Migration {
            version: 1,
            name: "a",
            sql: "",
        },
        Migration {
            version: 2,
            name: "b",
            sql: "",
        },
    ];

    #[test]
    fn a_database_at_or_below_the_newest_known_version_is_accepted() {
        assert!(refuse_newer(None, TWO).is_ok());
        assert!(refuse_newer(Some(1), TWO).is_ok());
        assert!(refuse_newer(Some(2), TWO).is_ok());
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused_with_both_versions_named() {
        let err = refuse_newer(Some(3), TWO).unwrap_err().to_string();
        assert!(
            err.contains("version 3") && err.contains("version 2"),
            "{err}"
        );
    }

    #[test]
    fn versions_count_up_from_one_and_no_script_is_empty() {
        #[allow(unused_mut)]
        let mut lists: Vec<&[Migration]> = Vec::new();
        #[cfg(feature = "sqlite")]
        lists.push(SQLITE);
        #[cfg(feature = "postgres")]
        lists.push(POSTGRES);
        for list in lists {
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{m:?}");
                assert!(!m.sql.trim().is_empty(), "{m:?}");
            }
        }
    }
}
