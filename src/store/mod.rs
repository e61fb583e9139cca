//! Users, sessions and revocations in SQL: [`SqliteStore`] (feature `sqlite`) and
//! [`PostgresStore`] (feature `postgres`), or [`SqlStore`], either one chosen by URL.
//!
//! Each store implements [`UserStore`], [`RefreshStore`] and [`RevocationStore`], so one value
//! serves the login service and [`Sessions`](crate::session::Sessions):
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_jwt_auth::verify::BoxError> {
//! use http::{Request, StatusCode, header};
//! use http_body_util::BodyExt as _;
//! use tower::ServiceExt as _;
//! use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy};
//! use tower_jwt_auth::login::{User, UserStore as _, login_handler};
//! use tower_jwt_auth::store::SqlStore;
//! use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};
//!
//! // `sqlite://auth.db`, `sqlite::memory:` or `postgres://user@host/db`; the migrations run here.
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let hasher = Argon2Hasher::new(PasswordPolicy::default())?;
//! let alice = User::new("u-1", hasher.hash_blocking("correct horse")?, ["read"]);
//! store.add_user("alice", &alice).await?;
//! assert_eq!(store.find_user("alice").await?, Some(alice.clone()));
//! assert!(store.add_user("alice", &alice).await.is_err(), "usernames are unique");
//!
//! // The same store serves the login service (and `Sessions`, for refresh tokens).
//! let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32])?);
//! let login = login_handler(store.clone(), issuer, hasher);
//! let request = Request::post("/login")
//!     .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
//!     .body("grant_type=password&username=alice&password=correct%20horse".to_owned())?;
//! let response = login.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
//! assert_eq!(body["scope"], "read");
//! # Ok(()) }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```
//!
//! ## PostgreSQL
//!
//! The same through [`SqlStore`] with a `postgres://` URL, or [`PostgresStore`] itself (feature
//! `postgres`). Not run here: it needs a running server; `tests/store_postgres.rs` runs it.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn run() -> Result<(), tower_jwt_auth::verify::BoxError> {
//! use tower_jwt_auth::login::User;
//! use tower_jwt_auth::store::PostgresStore;
//!
//! // The migrations run here, under an advisory lock, so instances may start together.
//! let store = PostgresStore::connect("postgres://auth@db.internal/app").await?;
//! store.upsert_user("alice", &User::new("u-1", "$argon2id$v=19$…", ["read"])).await?;
//! # Ok(()) }
//! ```
//!
//! Queries are built at run time (no `DATABASE_URL` at build time), through
//! [sqlx](https://docs.rs/sqlx) 0.8 on tokio, without TLS: a Postgres server reached over a
//! network should be reached through TLS, which the application turns on with sqlx's
//! `tls-rustls` (or `tls-native-tls`) feature in its own `Cargo.toml`.
//!
//! # Tables
//!
//! Every table's name starts with `auth_`, so they can live in an application's database.
//!
//! | table | one row per | notes |
//! |---|---|---|
//! | `auth_schema_migrations` | applied migration | `version`, `name`, `applied_at` |
//! | `auth_users` | account | `id` (the `sub`), unique `username`, `password_hash` (PHC string), `scopes` space-separated, `disabled` |
//! | `auth_refresh_families` | login (session) | the SHA-256 of the current refresh token and of its predecessor, idle and absolute expiry, `generation`, `revoked_at` |
//! | `auth_refresh_tokens` | refresh token ever issued | its SHA-256 and family: an old token presented again is detected as reuse |
//! | `auth_revoked_tokens` | revoked access token | (`issuer`, `jwt_id`) and its `exp`; `issuer` is `''` for a token without `iss` |
//!
//! No refresh token is stored, only its SHA-256; no error message carries a token, a hash or a
//! connection URL (which may hold a password).
//!
//! # Migrations
//!
//! [`connect`](SqlStore::connect) applies the missing migrations before it returns; a store
//! built on the application's own pool with `from_pool` runs them with `migrate`. They are
//! versioned in `auth_schema_migrations`, each applied in its own transaction with its row,
//! and serialised across processes (SQLite: `BEGIN IMMEDIATE`; Postgres: an advisory lock), so
//! any number of instances may start at once. A database migrated by a newer build of this
//! crate is refused with an error naming both versions, rather than used with a schema this
//! build cannot read.
//!
//! # Rotation
//!
//! [`RefreshStore::rotate`] is one transaction whose first statement is the conditional write
//! `UPDATE … SET current_hash = next … WHERE current_hash = presented AND revoked_at IS NULL
//! AND <not expired> RETURNING …`: of any number of concurrent rotations of one token, exactly
//! one matches the row. The others, in the same transaction, try the grace period (another
//! conditional `UPDATE`), then classify the token (unknown, revoked, expired) or revoke its
//! family as reused (`UPDATE … SET revoked_at = now WHERE revoked_at IS NULL`).
//!
//! # Operations
//!
//! - **Purging.** Nothing is deleted on its own. Run [`RefreshStore::purge_expired`] (families
//!   past their absolute expiry, and their tokens) and `purge_revoked_tokens` (access tokens
//!   past `exp` plus the verifiers' leeway) from time to time, say hourly; both are single
//!   indexed deletes, safe while serving. A revoked family still seeds the denylists until it
//!   is purged, so purge with `before` at least one access-token lifetime in the past.
//! - **SQLite backups.** The database runs in WAL mode: copying the file alone while the
//!   service runs can miss what is still in `-wal`. Use `VACUUM INTO '/backups/auth.db'` (a
//!   consistent copy, from any connection), or the `sqlite3` shell's `.backup` command; both
//!   are safe while the service writes.
//! - **SQLite and several processes.** They may share the file on one machine (the write lock
//!   serialises rotations; a writer waits up to 5 s for it), never over a network file system,
//!   where SQLite's locks are unreliable. Several machines: use Postgres.
//! - **Postgres.** The default isolation (READ COMMITTED) is enough: the rotation's `UPDATE`
//!   re-checks its `WHERE` on the newest row version after waiting on the row lock, and the
//!   classification reads the family `FOR UPDATE`. The pool's size bounds concurrent
//!   transactions; sqlx's default is 10 connections per store.

mod migrations;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

use crate::login::{User, UserStore};
use crate::session::{
    Family, RefreshStore, RevocationStore, Revoked, Rotation, RotationRules, TokenHash,
};
use crate::verify::revocation::BoxError;

/// The error of a failed database call: what was being done, and the database's own message
/// (which names a constraint or a column, never a bound value).
pub(crate) fn db_error(what: &'static str, e: sqlx::Error) -> BoxError {
    match &e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{what}: {} (code {code})", db.message()).into(),
            None => format!("{what}: {}", db.message()).into(),
        },
        // sqlx's other errors name the failure (I/O, pool, decoding) without any bound value.
        _ => format!("{what}: {e}").into(),
    }
}

/// [`db_error`], or `conflict()` for a unique-key violation.
pub(crate) fn insert_error(
    e: sqlx::Error,
    conflict: impl FnOnce() -> String,
    what: &'static str,
) -> BoxError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => conflict().into(),
        _ => db_error(what, e),
    }
}

/// The time for `created_at` and `updated_at`: user administration takes no clock.
pub(crate) fn unix_now() -> i64 {
    crate::session::secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// The `scopes` column: space-separated, so no scope may hold whitespace or be empty.
pub(crate) fn join_scopes(scopes: &[String]) -> Result<String, BoxError> {
    if let Some(bad) = scopes
        .iter()
        .find(|s| s.is_empty() || s.chars().any(char::is_whitespace))
    {
        return Err(format!("scope {bad:?} is empty or holds whitespace").into());
    }
    Ok(scopes.join(" "))
}

/// The scopes of a `scopes` column.
pub(crate) fn split_scopes(scopes: &str) -> Vec<String> {
    scopes.split_whitespace().map(str::to_owned).collect()
}

/// A user from a row with the columns `id, password_hash, scopes, disabled`.
pub(crate) fn user_from_row<R>(row: &R, what: &'static str) -> Result<User, BoxError>
where
    R: sqlx::Row,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    let err = |e| db_error(what, e);
    let scopes: String = row.try_get("scopes").map_err(err)?;
    Ok(User::new(
        row.try_get::<String, _>("id").map_err(err)?,
        row.try_get::<String, _>("password_hash").map_err(err)?,
        split_scopes(&scopes),
    )
    .disabled(row.try_get("disabled").map_err(err)?))
}

/// A family from a row with the columns `id, user_id, scope, created_at, expires_at,
/// revoked_at`.
pub(crate) fn family_from_row<R>(row: &R, what: &'static str) -> Result<Family, BoxError>
where
    R: sqlx::Row,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    let err = |e| db_error(what, e);
    Ok(Family::new(
        row.try_get::<String, _>("id").map_err(err)?,
        row.try_get::<String, _>("user_id").map_err(err)?,
        row.try_get::<String, _>("scope").map_err(err)?,
        row.try_get::<i64, _>("created_at").map_err(err)?,
        row.try_get::<i64, _>("expires_at").map_err(err)?,
    )
    .revoked(row.try_get("revoked_at").map_err(err)?))
}

/// The answer of [`RevocationStore::revocations`] from its two queries: token rows
/// (`issuer, jwt_id, expires_at`) and family rows (`id, revoked_at`).
pub(crate) fn revocations_from_rows<R>(
    tokens: &[R],
    sessions: &[R],
    what: &'static str,
) -> Result<Vec<Revoked>, BoxError>
where
    R: sqlx::Row,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    let err = |e| db_error(what, e);
    let mut out = Vec::with_capacity(tokens.len() + sessions.len());
    for row in tokens {
        let issuer: String = row.try_get("issuer").map_err(err)?;
        out.push(Revoked::Token {
            issuer: (!issuer.is_empty()).then_some(issuer),
            jwt_id: row.try_get("jwt_id").map_err(err)?,
            expires_at: row.try_get("expires_at").map_err(err)?,
        });
    }
    for row in sessions {
        out.push(Revoked::Session {
            family_id: row.try_get("id").map_err(err)?,
            revoked_at: row.try_get("revoked_at").map_err(err)?,
        });
    }
    Ok(out)
}

/// A SQL store, its backend chosen at run time by the URL's scheme: one type for a service
/// that lets its configuration pick SQLite or Postgres. Clones share the pool.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SqlStore {
    /// `sqlite:` URLs.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    Sqlite(SqliteStore),
    /// `postgres://` and `postgresql://` URLs.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres(PostgresStore),
}

/// The backend a URL names, by its scheme (case-insensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn backend_of(url: &str) -> Result<Backend, BoxError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        // The scheme only: the rest of a URL may hold a password.
        _ if scheme.len() <= 16 && scheme.bytes().all(|b| b.is_ascii_alphanumeric()) => Err(
            format!("unsupported database URL scheme {scheme:?}: expected sqlite: or postgres://")
                .into(),
        ),
        _ => Err("unsupported database URL: expected sqlite: or postgres://".into()),
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite:path`, `sqlite://path`, `sqlite::memory:`, `postgres://…`,
    /// `postgresql://…`) and applies the missing migrations; a SQLite file is created when
    /// missing.
    ///
    /// # Errors
    ///
    /// When the scheme is neither, its backend's feature is off in this build, the database
    /// cannot be reached, or a migration fails (a database migrated by a newer build
    /// included).
    pub async fn connect(url: &str) -> Result<Self, BoxError> {
        match backend_of(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Ok(Self::Sqlite(SqliteStore::connect(url).await?)),
            #[cfg(not(feature = "sqlite"))]
            Backend::Sqlite => Err("a sqlite: URL, but this build of tower-jwt-auth has no \
                                    SQLite support: enable its `sqlite` feature"
                .into()),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(Self::Postgres(PostgresStore::connect(url).await?)),
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => Err("a postgres:// URL, but this build of tower-jwt-auth has \
                                      no Postgres support: enable its `postgres` feature"
                .into()),
        }
    }
}

/// Calls the same method on whichever backend `self` holds.
macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite($store) => $call,
            #[cfg(feature = "postgres")]
            SqlStore::Postgres($store) => $call,
        }
    };
}

impl SqlStore {
    /// Applies the migrations the database lacks; returns how many.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::migrate`] or [`PostgresStore::migrate`].
    pub async fn migrate(&self) -> Result<usize, BoxError> {
        each!(self, s => s.migrate().await)
    }

    /// Adds a user.
    ///
    /// # Errors
    ///
    /// When the username or the id is taken, a scope holds whitespace, or the database fails.
    pub async fn add_user(&self, username: &str, user: &User) -> Result<(), BoxError> {
        each!(self, s => s.add_user(username, user).await)
    }

    /// Creates the user named `username`, or replaces its password hash, scopes and disabled
    /// flag; an existing user keeps its id.
    ///
    /// # Errors
    ///
    /// When the id belongs to another user, a scope holds whitespace, or the database fails.
    pub async fn upsert_user(&self, username: &str, user: &User) -> Result<(), BoxError> {
        each!(self, s => s.upsert_user(username, user).await)
    }

    /// Disables (or enables) the user named `username`: `false` when there is none.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, BoxError> {
        each!(self, s => s.set_disabled(username, disabled).await)
    }

    /// Every user, with its username, ordered by username.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn list_users(&self) -> Result<Vec<(String, User)>, BoxError> {
        each!(self, s => s.list_users().await)
    }

    /// Adds every user of `rows` in one transaction, all or none; returns how many.
    ///
    /// # Errors
    ///
    /// When a username or id is taken (in the database or twice in `rows`), a scope holds
    /// whitespace, or the database fails; nothing is added then.
    pub async fn import_users(&self, rows: &[(String, User)]) -> Result<usize, BoxError> {
        each!(self, s => s.import_users(rows).await)
    }

    /// Deletes the revoked access tokens whose `exp` is before `before`; returns how many.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn purge_revoked_tokens(&self, before: i64) -> Result<u64, BoxError> {
        each!(self, s => s.purge_revoked_tokens(before).await)
    }
}

impl UserStore for SqlStore {
    async fn find_user(&self, username: &str) -> Result<Option<User>, BoxError> {
        each!(self, s => s.find_user(username).await)
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<User>, BoxError> {
        each!(self, s => s.user_by_id(user_id).await)
    }

    async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: String,
    ) -> Result<(), BoxError> {
        each!(self, s => s.set_password_hash(user_id, password_hash).await)
    }
}

impl RefreshStore for SqlStore {
    async fn create_family(
        &self,
        family: &Family,
        first: &TokenHash,
        first_expires_at: i64,
    ) -> Result<(), BoxError> {
        each!(self, s => s.create_family(family, first, first_expires_at).await)
    }

    async fn family_of(&self, token: &TokenHash) -> Result<Option<Family>, BoxError> {
        each!(self, s => s.family_of(token).await)
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, BoxError> {
        each!(self, s => s.rotate(presented, next, rules).await)
    }

    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<Option<Family>, BoxError> {
        each!(self, s => s.revoke_family(family_id, now).await)
    }

    async fn purge_expired(&self, before: i64) -> Result<u64, BoxError> {
        each!(self, s => s.purge_expired(before).await)
    }
}

impl RevocationStore for SqlStore {
    async fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> Result<(), BoxError> {
        each!(self, s => s.revoke_token(issuer, jwt_id, expires_at).await)
    }

    async fn revocations(
        &self,
        tokens_after: i64,
        sessions_after: i64,
    ) -> Result<Vec<Revoked>, BoxError> {
        each!(self, s => s.revocations(tokens_after, sessions_after).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if the futures are `Send`, so that an application can spawn them: an
    /// `async fn` calling sqlx's generic executors can lose `Send` to a lifetime inference
    /// limit.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn futures_are_send(
        store: &'static SqlStore,
        user: &'static User,
        rows: &'static [(String, User)],
    ) {
        fn send<T: Send>(_: T) {}
        send(SqlStore::connect("sqlite::memory:"));
        send(store.migrate());
        send(store.add_user("a", user));
        send(store.upsert_user("a", user));
        send(store.set_disabled("a", true));
        send(store.list_users());
        send(store.import_users(rows));
        send(store.purge_revoked_tokens(0));
    }

    #[cfg(not(feature = "sqlite"))]
    #[tokio::test]
    async fn a_sqlite_url_in_a_build_without_sqlite_names_the_feature_to_enable() {
        let err = SqlStore::connect("sqlite::memory:").await.unwrap_err();
        assert!(err.to_string().contains("`sqlite` feature"), "{err}");
    }

    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn a_postgres_url_in_a_build_without_postgres_names_the_feature_to_enable() {
        let err = SqlStore::connect("postgres://u:hunter2@localhost/db")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("`postgres` feature"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn the_backend_is_chosen_by_the_scheme_whatever_its_case() {
        assert_eq!(backend_of("sqlite:auth.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("SQLite://auth.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(
            backend_of("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
    }

    #[test]
    fn an_unknown_scheme_is_named_but_the_rest_of_the_url_never_is() {
        let err = backend_of("mysql://root:hunter2@db/auth")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = backend_of("no scheme at all, hunter2")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn scopes_round_trip_and_one_holding_a_space_is_refused() {
        let scopes = vec!["read".to_owned(), "write:all".to_owned()];
        let joined = join_scopes(&scopes).unwrap();
        assert_eq!(split_scopes(&joined), scopes);
        assert!(join_scopes(&["read write".to_owned()]).is_err());
        assert!(join_scopes(&[String::new()]).is_err());
        assert_eq!(split_scopes(""), Vec::<String>::new());
    }
}
