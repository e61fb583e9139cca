//! [`SqliteStore`]: users, sessions and revocations in one SQLite file.

use std::fmt;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, Transaction};

use super::{db_error, family_from_row, join_scopes, unix_now, user_from_row};
use crate::login::{User, UserStore};
use crate::session::{
    Family, RefreshStore, RevocationStore, Revoked, Rotation, RotationRules, TokenHash,
};
use crate::verify::revocation::BoxError;

/// How long a connection waits for SQLite's write lock before the operation fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `e` is SQLite's SQLITE_BUSY, in any of its extended forms (`database is locked`).
fn is_busy(e: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    matches!(e, sqlx::Error::Database(db)
        if db.code().and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == SQLITE_BUSY))
}

/// The columns [`family_from_row`] reads.
const FAMILY: &str = "id, user_id, scope, created_at, expires_at, revoked_at";

/// Users, refresh-token families and revocations in SQLite (feature `sqlite`).
///
/// Every write transaction starts with `BEGIN IMMEDIATE`: it takes the database's write lock
/// before its first read, so the transaction that rotates a token sees no write of another
/// connection between its reads and its writes, and never fails half-way on a lock upgrade.
/// Connections run in WAL mode (readers do not wait for the writer), with foreign keys on
/// and a 5 s busy timeout. See the [module docs](super) for the tables and operations.
///
/// Clones share one connection pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it when missing) the database at `url` (`sqlite:auth.db`,
    /// `sqlite://path/to/auth.db`, `sqlite::memory:`) and applies the missing migrations.
    ///
    /// An in-memory database lives as long as its one connection: the pool is then held to a
    /// single connection that never expires.
    ///
    /// # Errors
    ///
    /// When the URL cannot be read, the file cannot be opened or created, or a migration
    /// fails or finds a schema newer than this build knows.
    pub async fn connect(url: &str) -> Result<Self, BoxError> {
        let err = |e| db_error("opening the SQLite database", e);
        let options = SqliteConnectOptions::from_str(url)
            .map_err(err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new()
        };
        // Instances starting at once on a new file race to turn it to WAL. That switch needs the
        // file's exclusive lock, and SQLite answers SQLITE_BUSY at once, without waiting out the
        // busy timeout, to all but one of them. So a busy first connection is tried again, for
        // as long as the busy timeout would have waited. Once the file is in WAL mode, the
        // pragma changes nothing and takes no lock.
        let deadline = tokio::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        let pool = loop {
            match pool_options.clone().connect_with(options.clone()).await {
                Err(e) if is_busy(&e) && tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(error = %e, "the SQLite database is busy; opening it again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                other => break other.map_err(err)?,
            }
        };
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// A store on a pool the application built. Its connections should have foreign keys on
    /// (purging relies on `ON DELETE CASCADE`), a busy timeout, and WAL mode for concurrent
    /// readers; call [`migrate`](Self::migrate) before use.
    #[must_use]
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The pool, for the application's own queries.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies the migrations this database lacks; returns how many. Safe to run at every
    /// start-up, from several processes at once.
    ///
    /// # Errors
    ///
    /// When a migration fails (nothing of it is kept), or when the database was migrated by a
    /// newer build of this crate.
    pub async fn migrate(&self) -> Result<usize, BoxError> {
        super::migrations::run_sqlite(&self.pool).await
    }

    /// A write transaction holding the write lock from its start.
    async fn write(&self, what: &'static str) -> Result<Transaction<'static, Sqlite>, BoxError> {
        // sqlx rolls back a BEGIN whose caller went away before it was acknowledged, and a
        // dropped `Transaction` rolls back: a cancelled request leaves no transaction open.
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| db_error(what, e))
    }

    /// Adds a user.
    ///
    /// # Errors
    ///
    /// When the username or the id is taken, a scope holds whitespace, or the database fails.
    pub async fn add_user(&self, username: &str, user: &User) -> Result<(), BoxError> {
        let what = "adding a user";
        let mut tx = self.write(what).await?;
        insert_user(&mut tx, username, user, unix_now()).await?;
        tx.commit().await.map_err(|e| db_error(what, e))
    }

    /// Creates the user named `username`, or replaces its password hash, scopes and disabled
    /// flag; an existing user keeps its id.
    ///
    /// # Errors
    ///
    /// When the id belongs to another user, a scope holds whitespace, or the database fails.
    pub async fn upsert_user(&self, username: &str, user: &User) -> Result<(), BoxError> {
        let what = "saving a user";
        let scopes = join_scopes(&user.scopes)?;
        let now = unix_now();
        sqlx::query(
            "INSERT INTO auth_users \
               (id, username, password_hash, scopes, disabled, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
             ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, \
               scopes = excluded.scopes, disabled = excluded.disabled, \
               updated_at = excluded.updated_at",
        )
        .bind(&user.id)
        .bind(username)
        .bind(&user.password_hash)
        .bind(scopes)
        .bind(user.disabled)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            super::insert_error(
                e,
                || format!("a user other than {username:?} has the id {:?}", user.id),
                what,
            )
        })?;
        Ok(())
    }

    /// Disables (or enables) the user named `username`: `false` when there is none.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, BoxError> {
        let done =
            sqlx::query("UPDATE auth_users SET disabled = ?1, updated_at = ?2 WHERE username = ?3")
                .bind(disabled)
                .bind(unix_now())
                .bind(username)
                .execute(&self.pool)
                .await
                .map_err(|e| db_error("disabling a user", e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Every user, with its username, ordered by username.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn list_users(&self) -> Result<Vec<(String, User)>, BoxError> {
        let what = "listing users";
        let rows = sqlx::query(
            "SELECT username, id, password_hash, scopes, disabled FROM auth_users \
             ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error(what, e))?;
        rows.iter()
            .map(|row| {
                let username: String = row.try_get("username").map_err(|e| db_error(what, e))?;
                Ok((username, user_from_row(row, what)?))
            })
            .collect()
    }

    /// Adds every user of `rows` in one transaction: all of them, or none when one fails (a
    /// username or id taken, in the database or twice in `rows`). Returns how many.
    ///
    /// # Errors
    ///
    /// As [`add_user`](Self::add_user), for any row; nothing is added then.
    pub async fn import_users(&self, rows: &[(String, User)]) -> Result<usize, BoxError> {
        let what = "importing users";
        let now = unix_now();
        let mut tx = self.write(what).await?;
        for (username, user) in rows {
            insert_user(&mut tx, username, user, now).await?;
        }
        tx.commit().await.map_err(|e| db_error(what, e))?;
        Ok(rows.len())
    }

    /// Deletes the revoked access tokens whose `exp` is before `before`; returns how many.
    /// Pass the current time minus the largest leeway of the verifiers: until `exp` plus the
    /// leeway, a revoked token must still seed the denylists.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn purge_revoked_tokens(&self, before: i64) -> Result<u64, BoxError> {
        let done = sqlx::query("DELETE FROM auth_revoked_tokens WHERE expires_at < ?1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("purging revoked tokens", e))?;
        Ok(done.rows_affected())
    }
}

async fn insert_user(
    tx: &mut Transaction<'static, Sqlite>,
    username: &str,
    user: &User,
    now: i64,
) -> Result<(), BoxError> {
    let scopes = join_scopes(&user.scopes)?;
    sqlx::query(
        "INSERT INTO auth_users \
           (id, username, password_hash, scopes, disabled, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )
    .bind(&user.id)
    .bind(username)
    .bind(&user.password_hash)
    .bind(scopes)
    .bind(user.disabled)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        super::insert_error(
            e,
            || {
                format!(
                    "a user named {username:?} or with id {:?} exists already",
                    user.id
                )
            },
            "adding a user",
        )
    })?;
    Ok(())
}

impl UserStore for SqliteStore {
    async fn find_user(&self, username: &str) -> Result<Option<User>, BoxError> {
        let what = "reading a user";
        let row = sqlx::query(
            "SELECT id, password_hash, scopes, disabled FROM auth_users WHERE username = ?1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error(what, e))?;
        row.map(|row| user_from_row(&row, what)).transpose()
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<User>, BoxError> {
        let what = "reading a user";
        let row =
            sqlx::query("SELECT id, password_hash, scopes, disabled FROM auth_users WHERE id = ?1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| db_error(what, e))?;
        row.map(|row| user_from_row(&row, what)).transpose()
    }

    async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: String,
    ) -> Result<(), BoxError> {
        let done =
            sqlx::query("UPDATE auth_users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3")
                .bind(password_hash)
                .bind(unix_now())
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(|e| db_error("saving a password hash", e))?;
        if done.rows_affected() == 0 {
            return Err(format!("no user with id {user_id:?}").into());
        }
        Ok(())
    }
}

/// The family of a row read with [`FAMILY`]'s columns.
fn family(row: &SqliteRow, what: &'static str) -> Result<Family, BoxError> {
    family_from_row(row, what)
}

impl RefreshStore for SqliteStore {
    async fn create_family(
        &self,
        family: &Family,
        first: &TokenHash,
        first_expires_at: i64,
    ) -> Result<(), BoxError> {
        let what = "starting a session";
        let mut tx = self.write(what).await?;
        sqlx::query(
            "INSERT INTO auth_refresh_families (id, user_id, scope, created_at, expires_at, \
               current_hash, current_expires_at, generation, revoked_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
        )
        .bind(&family.id)
        .bind(&family.user_id)
        .bind(&family.scope)
        .bind(family.created_at)
        .bind(family.expires_at)
        .bind(first.as_bytes().as_slice())
        .bind(first_expires_at)
        .bind(family.revoked_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            super::insert_error(
                e,
                || "the family or its first token exists already".into(),
                what,
            )
        })?;
        sqlx::query(
            "INSERT INTO auth_refresh_tokens (hash, family_id, generation) VALUES (?1, ?2, 0)",
        )
        .bind(first.as_bytes().as_slice())
        .bind(&family.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            super::insert_error(
                e,
                || "the family or its first token exists already".into(),
                what,
            )
        })?;
        tx.commit().await.map_err(|e| db_error(what, e))
    }

    async fn family_of(&self, token: &TokenHash) -> Result<Option<Family>, BoxError> {
        let what = "reading a session";
        let row = sqlx::query(
            "SELECT f.id, f.user_id, f.scope, f.created_at, f.expires_at, f.revoked_at \
             FROM auth_refresh_tokens t JOIN auth_refresh_families f ON f.id = t.family_id \
             WHERE t.hash = ?1",
        )
        .bind(token.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error(what, e))?;
        row.map(|row| family(&row, what)).transpose()
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, BoxError> {
        let what = "rotating a refresh token";
        let err = |e| db_error(what, e);
        let presented = presented.as_bytes().as_slice();
        let next = next.as_bytes().as_slice();
        // Saturated here so that the database never sees an overflow.
        let idle_until = rules.now.saturating_add(rules.idle);
        let grace_since = rules.now.saturating_sub(rules.grace);
        let mut tx = self.write(what).await?;

        // 1. The presented token is current and alive: rotate.
        let rotated = sqlx::query(&format!(
            "UPDATE auth_refresh_families SET previous_hash = current_hash, current_hash = ?1, \
               generation = generation + 1, rotated_at = ?2, \
               current_expires_at = MIN(?3, expires_at) \
             WHERE current_hash = ?4 AND revoked_at IS NULL AND current_expires_at > ?2 \
               AND expires_at > ?2 \
             RETURNING {FAMILY}, generation"
        ))
        .bind(next)
        .bind(rules.now)
        .bind(idle_until)
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;

        // 3. Or it is the predecessor, within the grace period: replace the current token,
        // keeping the rotation time so that the grace does not extend itself.
        let rotated = match rotated {
            Some(row) => Some(row),
            None if rules.grace > 0 => sqlx::query(&format!(
                "UPDATE auth_refresh_families SET current_hash = ?1, \
                   generation = generation + 1, current_expires_at = MIN(?2, expires_at) \
                 WHERE id = (SELECT family_id FROM auth_refresh_tokens WHERE hash = ?3) \
                   AND previous_hash = ?3 AND revoked_at IS NULL AND expires_at > ?4 \
                   AND rotated_at > ?5 \
                 RETURNING {FAMILY}, generation"
            ))
            .bind(next)
            .bind(idle_until)
            .bind(presented)
            .bind(rules.now)
            .bind(grace_since)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?,
            None => None,
        };
        if let Some(row) = rotated {
            let family = family(&row, what)?;
            let generation: i64 = row.try_get("generation").map_err(err)?;
            sqlx::query(
                "INSERT INTO auth_refresh_tokens (hash, family_id, generation) VALUES (?1, ?2, ?3)",
            )
            .bind(next)
            .bind(&family.id)
            .bind(generation)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)?;
            return Ok(Rotation::Rotated(family));
        }

        // 2. Classified, under the same write lock: nothing can change between this read and
        // the revocation below.
        let row = sqlx::query(
            "SELECT f.id, f.user_id, f.scope, f.created_at, f.expires_at, f.revoked_at, \
               f.current_hash = ?1 AS is_current \
             FROM auth_refresh_tokens t JOIN auth_refresh_families f ON f.id = t.family_id \
             WHERE t.hash = ?1",
        )
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(err)?;
            return Ok(Rotation::Unknown);
        };
        let found = family(&row, what)?;
        let is_current: bool = row.try_get("is_current").map_err(err)?;
        if found.revoked_at.is_some() {
            tx.rollback().await.map_err(err)?;
            return Ok(Rotation::Revoked);
        }
        if is_current || found.expires_at <= rules.now {
            tx.rollback().await.map_err(err)?;
            return Ok(Rotation::Expired);
        }

        // 4. An older token: the chain is in two hands. Revoke the family.
        let row = sqlx::query(&format!(
            "UPDATE auth_refresh_families SET revoked_at = ?1 \
             WHERE id = ?2 AND revoked_at IS NULL RETURNING {FAMILY}"
        ))
        .bind(rules.now)
        .bind(&found.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let Some(row) = row else {
            return Err("rotating a refresh token: the session changed during the rotation".into());
        };
        let revoked = family(&row, what)?;
        tx.commit().await.map_err(err)?;
        Ok(Rotation::Reused(revoked))
    }

    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<Option<Family>, BoxError> {
        let what = "revoking a session";
        // One statement: atomic on its own, and an earlier revocation time is kept.
        let row = sqlx::query(&format!(
            "UPDATE auth_refresh_families SET revoked_at = COALESCE(revoked_at, ?1) \
             WHERE id = ?2 RETURNING {FAMILY}"
        ))
        .bind(now)
        .bind(family_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error(what, e))?;
        row.map(|row| family(&row, what)).transpose()
    }

    async fn purge_expired(&self, before: i64) -> Result<u64, BoxError> {
        let what = "purging expired sessions";
        let mut tx = self.write(what).await?;
        // The tokens go first, explicitly: a pool built by the application may lack
        // `foreign_keys`, and then `ON DELETE CASCADE` would not run.
        sqlx::query(
            "DELETE FROM auth_refresh_tokens WHERE family_id IN \
               (SELECT id FROM auth_refresh_families WHERE expires_at < ?1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error(what, e))?;
        let done = sqlx::query("DELETE FROM auth_refresh_families WHERE expires_at < ?1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(what, e))?;
        tx.commit().await.map_err(|e| db_error(what, e))?;
        Ok(done.rows_affected())
    }
}

impl RevocationStore for SqliteStore {
    async fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> Result<(), BoxError> {
        sqlx::query(
            "INSERT INTO auth_revoked_tokens (issuer, jwt_id, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (issuer, jwt_id) DO UPDATE \
               SET expires_at = MAX(auth_revoked_tokens.expires_at, excluded.expires_at)",
        )
        .bind(issuer.unwrap_or(""))
        .bind(jwt_id)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("revoking an access token", e))?;
        Ok(())
    }

    async fn revocations(
        &self,
        tokens_after: i64,
        sessions_after: i64,
    ) -> Result<Vec<Revoked>, BoxError> {
        let what = "reading revocations";
        let tokens = sqlx::query(
            "SELECT issuer, jwt_id, expires_at FROM auth_revoked_tokens WHERE expires_at >= ?1",
        )
        .bind(tokens_after)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error(what, e))?;
        let sessions =
            sqlx::query("SELECT id, revoked_at FROM auth_refresh_families WHERE revoked_at >= ?1")
                .bind(sessions_after)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| db_error(what, e))?;
        super::revocations_from_rows(&tokens, &sessions, what)
    }
}
