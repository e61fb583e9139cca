//! The conformance suite of session and user stores (feature `testkit`).
//!
//! A store of your own (DynamoDB, MySQL, FoundationDB…) proves it keeps the contract of
//! [`RefreshStore`] and [`RevocationStore`] (the atomic rotation above all), [`UserStore`] or
//! [`ThrottleStore`] (the burst bound), by running these
//! checks in its tests; the crate runs them against its in-memory, SQLite and Postgres stores.
//! Each check panics with a message saying what broke.
//!
//! # Example
//!
//! The crate's own in-memory stores, checked as a store of yours would be:
//!
//! ```
//! use std::time::Duration;
//! use tower_jwt_auth::login::{InMemoryThrottle, InMemoryUserStore, ThrottlePolicy};
//! use tower_jwt_auth::session::InMemorySessionStore;
//! use tower_jwt_auth::testkit;
//!
//! // In your tests: `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]`.
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 4)]
//! # async fn main() {
//! testkit::check_session_store(InMemorySessionStore::new()).await;
//!
//! let users = InMemoryUserStore::new();
//! let insert = users.clone();
//! testkit::check_user_store(users, move |name, user| {
//!     insert.insert(name, user); // however your store adds a user
//!     async {}
//! })
//! .await;
//!
//! // A first delay long enough that no block ends during the checks.
//! let policy = ThrottlePolicy::default()
//!     .free_failures(3)
//!     .delays(Duration::from_secs(60), Duration::from_secs(60));
//! testkit::check_throttle_store(InMemoryThrottle::new(policy), 3).await;
//! # }
//! ```
//!
//! A store that breaks the contract fails its check, with a message saying how:
//!
//! ```
//! use tower_jwt_auth::login::{InMemoryUserStore, User, UserStore};
//! use tower_jwt_auth::testkit;
//! use tower_jwt_auth::verify::BoxError;
//!
//! /// Loses every password change.
//! #[derive(Clone)]
//! struct Forgetful(InMemoryUserStore);
//!
//! impl UserStore for Forgetful {
//!     async fn find_user(&self, username: &str) -> Result<Option<User>, BoxError> {
//!         self.0.find_user(username).await
//!     }
//!     async fn user_by_id(&self, user_id: &str) -> Result<Option<User>, BoxError> {
//!         self.0.user_by_id(user_id).await
//!     }
//!     async fn set_password_hash(&self, _: &str, _: String) -> Result<(), BoxError> {
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let users = InMemoryUserStore::new();
//! let insert = users.clone();
//! let check = testkit::check_user_store(Forgetful(users), move |name, user| {
//!     insert.insert(name, user);
//!     async {}
//! });
//! let panic = tokio::spawn(check).await.expect_err("the check must fail").into_panic();
//! let message = panic.downcast_ref::<String>().expect("a formatted message");
//! assert!(message.contains("set_password_hash lost"), "{message}");
//! # }
//! ```
//!
//! The checks use fresh random ids and hashes, so a store may be shared with other tests, but
//! they move the time they pass in far into the future for expiries: run them on a store no
//! production data lives in. The race spawns tasks on the current tokio runtime: use a
//! multi-threaded one, or the race is only interleaved, not parallel.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::login::{ThrottleStore, User, UserStore};
use crate::session::{
    Family, RefreshStore, RefreshToken, RevocationStore, Revoked, Rotation, RotationRules,
    TokenHash, new_family_id,
};

/// How many tasks race to rotate one token in [`check_session_store`].
pub const RACERS: usize = 50;

/// A time far from any other test's, so expiry checks on a shared store do not meet.
const T0: i64 = 4_000_000_000;
const DAY: i64 = 24 * 60 * 60;

fn token() -> TokenHash {
    RefreshToken::generate()
        .expect("the random number generator failed")
        .hash()
}

fn family(user: &str, scope: &str, created_at: i64, lifetime: i64) -> Family {
    let id = new_family_id().expect("the random number generator failed");
    Family::new(id, user, scope, created_at, created_at + lifetime)
}

fn rules(now: i64, idle: i64, grace: i64) -> RotationRules {
    RotationRules::new(now, idle, grace)
}

async fn ok<T, E: Debug>(what: &str, fut: impl Future<Output = Result<T, E>>) -> T {
    match fut.await {
        Ok(value) => value,
        Err(err) => panic!("{what}: the store failed: {err:?}"),
    }
}

async fn started<S: RefreshStore>(store: &S, lifetime: i64, idle: i64) -> (Family, TokenHash) {
    let f = family("user-1", "read write", T0, lifetime);
    let first = token();
    ok(
        "create_family",
        store.create_family(&f, &first, (T0 + idle).min(f.expires_at)),
    )
    .await;
    (f, first)
}

fn rotated(what: &str, outcome: Rotation, expected: &Family) {
    match outcome {
        Rotation::Rotated(family) => {
            assert_eq!(&family.id, &expected.id, "{what}: another family rotated");
            assert_eq!(family.user_id, expected.user_id, "{what}: user changed");
            assert_eq!(family.scope, expected.scope, "{what}: scope changed");
            assert_eq!(
                family.expires_at, expected.expires_at,
                "{what}: the absolute expiry moved"
            );
            assert_eq!(family.revoked_at, None, "{what}: rotated a revoked family");
        }
        other => panic!("{what}: expected Rotated, got {other:?}"),
    }
}

/// Every check of the session contract, on one store: rotation, reuse detection, grace, idle
/// and absolute expiry, revocation, purge, the revocation records, and [`RACERS`] concurrent
/// rotations of one token of which exactly one may succeed.
pub async fn check_session_store<S>(store: S)
where
    S: RefreshStore + RevocationStore + Clone,
{
    rotation_and_reuse(&store).await;
    unknown_tokens(&store).await;
    grace(&store).await;
    idle_expiry(&store).await;
    absolute_expiry(&store).await;
    revocation(&store).await;
    purge(&store).await;
    revocation_records(&store).await;
    race(&store).await;
}

async fn rotation_and_reuse<S: RefreshStore>(store: &S) {
    let (f, t0) = started(store, 30 * DAY, 7 * DAY).await;
    let found = ok("family_of", store.family_of(&t0)).await;
    assert_eq!(found.as_ref(), Some(&f), "family_of the first token");
    let t1 = token();
    rotated(
        "first rotation",
        ok("rotate", store.rotate(&t0, &t1, rules(T0 + 10, 7 * DAY, 0))).await,
        &f,
    );
    assert_eq!(
        ok("family_of", store.family_of(&t1)).await.map(|f| f.id),
        Some(f.id.clone()),
        "family_of the rotated token"
    );
    let t2 = token();
    rotated(
        "second rotation",
        ok("rotate", store.rotate(&t1, &t2, rules(T0 + 20, 7 * DAY, 0))).await,
        &f,
    );
    // t0 again: a reuse. The family is revoked in the same step, the newest token with it.
    match ok(
        "rotate",
        store.rotate(&t0, &token(), rules(T0 + 30, 7 * DAY, 0)),
    )
    .await
    {
        Rotation::Reused(family) => {
            assert_eq!(family.id, f.id, "reuse names another family");
            assert_eq!(family.revoked_at, Some(T0 + 30), "reuse: revoked_at");
        }
        other => panic!("an old generation presented again: expected Reused, got {other:?}"),
    }
    let after = ok(
        "rotate",
        store.rotate(&t2, &token(), rules(T0 + 31, 7 * DAY, 0)),
    )
    .await;
    assert_eq!(
        after,
        Rotation::Revoked,
        "the newest token after a reuse must be refused as revoked"
    );
    let found = ok("family_of", store.family_of(&t2)).await;
    assert_eq!(
        found.and_then(|f| f.revoked_at),
        Some(T0 + 30),
        "family_of a revoked family"
    );
}

async fn unknown_tokens<S: RefreshStore>(store: &S) {
    let unknown = token();
    assert_eq!(ok("family_of", store.family_of(&unknown)).await, None);
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&unknown, &token(), rules(T0, DAY, 0))
        )
        .await,
        Rotation::Unknown,
        "a token no family holds"
    );
    assert_eq!(
        ok("revoke_family", store.revoke_family("no-such-family", T0)).await,
        None
    );
}

async fn grace<S: RefreshStore>(store: &S) {
    // The immediate predecessor, within the grace: rotated again.
    let (f, t0) = started(store, 30 * DAY, 7 * DAY).await;
    let (t1, t2) = (token(), token());
    rotated(
        "grace: first",
        ok(
            "rotate",
            store.rotate(&t0, &t1, rules(T0 + 100, 7 * DAY, 30)),
        )
        .await,
        &f,
    );
    rotated(
        "grace: the predecessor within the grace",
        ok(
            "rotate",
            store.rotate(&t0, &t2, rules(T0 + 129, 7 * DAY, 30)),
        )
        .await,
        &f,
    );
    // t1 was replaced by t2 and is no predecessor: a reuse.
    assert!(
        matches!(
            ok(
                "rotate",
                store.rotate(&t1, &token(), rules(T0 + 130, 7 * DAY, 30))
            )
            .await,
            Rotation::Reused(_)
        ),
        "grace: a token replaced within the grace, presented again, is a reuse"
    );

    // The predecessor once the grace has passed (measured from the first use): a reuse.
    let (f, t0) = started(store, 30 * DAY, 7 * DAY).await;
    rotated(
        "grace: first",
        ok(
            "rotate",
            store.rotate(&t0, &token(), rules(T0 + 100, 7 * DAY, 30)),
        )
        .await,
        &f,
    );
    assert!(
        matches!(
            ok(
                "rotate",
                store.rotate(&t0, &token(), rules(T0 + 130, 7 * DAY, 30))
            )
            .await,
            Rotation::Reused(_)
        ),
        "grace: the predecessor at the end of the grace is a reuse"
    );

    // Two generations back, within the grace of the last rotation: a reuse.
    let (f, t0) = started(store, 30 * DAY, 7 * DAY).await;
    let t1 = token();
    rotated(
        "grace: first",
        ok(
            "rotate",
            store.rotate(&t0, &t1, rules(T0 + 100, 7 * DAY, 30)),
        )
        .await,
        &f,
    );
    rotated(
        "grace: second",
        ok(
            "rotate",
            store.rotate(&t1, &token(), rules(T0 + 101, 7 * DAY, 30)),
        )
        .await,
        &f,
    );
    assert!(
        matches!(
            ok(
                "rotate",
                store.rotate(&t0, &token(), rules(T0 + 102, 7 * DAY, 30))
            )
            .await,
            Rotation::Reused(_)
        ),
        "grace: only the immediate predecessor has one"
    );

    // No grace at all by default.
    let (f, t0) = started(store, 30 * DAY, 7 * DAY).await;
    rotated(
        "no grace: first",
        ok(
            "rotate",
            store.rotate(&t0, &token(), rules(T0 + 100, 7 * DAY, 0)),
        )
        .await,
        &f,
    );
    assert!(
        matches!(
            ok(
                "rotate",
                store.rotate(&t0, &token(), rules(T0 + 100, 7 * DAY, 0))
            )
            .await,
            Rotation::Reused(_)
        ),
        "no grace: the predecessor is a reuse at once"
    );
}

async fn idle_expiry<S: RefreshStore>(store: &S) {
    // The first token, unused past its idle lifetime.
    let (_, t0) = started(store, 30 * DAY, 100).await;
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&t0, &token(), rules(T0 + 100, 100, 0))
        )
        .await,
        Rotation::Expired,
        "idle: the first token at its idle expiry"
    );
    // Expiry is no revocation: the family is not revoked by it.
    let family = ok("family_of", store.family_of(&t0)).await;
    assert_eq!(
        family.and_then(|f| f.revoked_at),
        None,
        "idle expiry revoked"
    );

    // A rotated token gets its idle lifetime from its rotation.
    let (f, t0) = started(store, 30 * DAY, 100).await;
    let t1 = token();
    rotated(
        "idle: within",
        ok("rotate", store.rotate(&t0, &t1, rules(T0 + 99, 100, 0))).await,
        &f,
    );
    let t2 = token();
    rotated(
        "idle: the next one lives from its rotation",
        ok("rotate", store.rotate(&t1, &t2, rules(T0 + 198, 100, 0))).await,
        &f,
    );
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&t2, &token(), rules(T0 + 298, 100, 0))
        )
        .await,
        Rotation::Expired,
        "idle: a rotated token past its idle lifetime"
    );
}

async fn absolute_expiry<S: RefreshStore>(store: &S) {
    // Rotations do not re-anchor the absolute expiry.
    let (f, t0) = started(store, 200, 150).await;
    let t1 = token();
    rotated(
        "absolute: first",
        ok("rotate", store.rotate(&t0, &t1, rules(T0 + 100, 150, 0))).await,
        &f,
    );
    let t2 = token();
    rotated(
        "absolute: just before",
        ok("rotate", store.rotate(&t1, &t2, rules(T0 + 199, 150, 0))).await,
        &f,
    );
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&t2, &token(), rules(T0 + 200, 150, 0))
        )
        .await,
        Rotation::Expired,
        "absolute: a rotated token never outlives its family"
    );
    // An old token of an expired family is no reuse worth revoking: expired.
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&t0, &token(), rules(T0 + 300, 150, 0))
        )
        .await,
        Rotation::Expired,
        "absolute: an old generation after the family's end"
    );
}

async fn revocation<S: RefreshStore>(store: &S) {
    let (f, t0) = started(store, 30 * DAY, 7 * DAY).await;
    let revoked = ok("revoke_family", store.revoke_family(&f.id, T0 + 5)).await;
    assert_eq!(revoked.and_then(|f| f.revoked_at), Some(T0 + 5));
    // Idempotent: the first revocation time stays.
    let again = ok("revoke_family", store.revoke_family(&f.id, T0 + 50)).await;
    assert_eq!(
        again.and_then(|f| f.revoked_at),
        Some(T0 + 5),
        "revoked_at moved"
    );
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&t0, &token(), rules(T0 + 6, 7 * DAY, 0))
        )
        .await,
        Rotation::Revoked,
        "the current token of a revoked family"
    );
}

async fn purge<S: RefreshStore>(store: &S) {
    let (_, old_token) = started(store, 100, 100).await;
    let (young, young_token) = started(store, 30 * DAY, 7 * DAY).await;
    let purged = ok("purge_expired", store.purge_expired(T0 + 101)).await;
    assert!(purged >= 1, "purge_expired removed nothing");
    assert_eq!(
        ok("family_of", store.family_of(&old_token)).await,
        None,
        "a purged family's token"
    );
    assert_eq!(
        ok("family_of", store.family_of(&young_token))
            .await
            .map(|f| f.id),
        Some(young.id),
        "purge removed a live family"
    );
}

async fn revocation_records<S: RefreshStore + RevocationStore>(store: &S) {
    let jti = new_family_id().expect("random");
    let stale = new_family_id().expect("random");
    ok(
        "revoke_token",
        store.revoke_token(Some("https://issuer.test"), &jti, T0 + 1_000),
    )
    .await;
    ok("revoke_token", store.revoke_token(None, &stale, T0 - 1_000)).await;
    let (f, _) = started(store, 30 * DAY, 7 * DAY).await;
    ok("revoke_family", store.revoke_family(&f.id, T0 + 7)).await;
    let (old_family, _) = started(store, 30 * DAY, 7 * DAY).await;
    ok(
        "revoke_family",
        store.revoke_family(&old_family.id, T0 - 500),
    )
    .await;

    let listed = ok("revocations", store.revocations(T0, T0)).await;
    assert!(
        listed.contains(&Revoked::Token {
            issuer: Some("https://issuer.test".into()),
            jwt_id: jti.clone(),
            expires_at: T0 + 1_000,
        }),
        "a revoked token is missing from {listed:?}"
    );
    assert!(
        listed.contains(&Revoked::Session {
            family_id: f.id.clone(),
            revoked_at: T0 + 7,
        }),
        "a revoked family is missing"
    );
    let named = |id: &str| {
        listed.iter().any(|r| match r {
            Revoked::Token { jwt_id, .. } => jwt_id == id,
            Revoked::Session { family_id, .. } => family_id == id,
        })
    };
    assert!(!named(&stale), "an expired token revocation was listed");
    assert!(
        !named(&old_family.id),
        "an old family revocation was listed"
    );
    // Revoking a token twice keeps the later expiry, once.
    ok(
        "revoke_token",
        store.revoke_token(Some("https://issuer.test"), &jti, T0 + 2_000),
    )
    .await;
    let listed = ok("revocations", store.revocations(T0, T0)).await;
    let entries: Vec<_> = listed
        .iter()
        .filter(|r| matches!(r, Revoked::Token { jwt_id, .. } if *jwt_id == jti))
        .collect();
    assert_eq!(
        entries,
        [&Revoked::Token {
            issuer: Some("https://issuer.test".into()),
            jwt_id: jti.clone(),
            expires_at: T0 + 2_000,
        }],
        "a token revoked twice"
    );
}

/// [`RACERS`] tasks rotate the same token at once: exactly one may succeed; every other one
/// sees a spent token (a reuse, which revokes the family, or the family already revoked).
async fn race<S: RefreshStore + Clone>(store: &S) {
    let (f, t0) = started(store, 30 * DAY, 7 * DAY).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let next = token();
            barrier.wait().await;
            let outcome = store.rotate(&t0, &next, rules(T0 + 60, 7 * DAY, 0)).await;
            (next, outcome.map_err(|e| e.to_string()))
        }));
    }
    let mut winners = Vec::new();
    let mut reused = 0;
    let mut revoked = 0;
    for task in tasks {
        let (next, outcome) = task.await.expect("a racer panicked");
        match outcome {
            Ok(Rotation::Rotated(family)) => {
                assert_eq!(family.id, f.id);
                winners.push(next);
            }
            Ok(Rotation::Reused(_)) => reused += 1,
            Ok(Rotation::Revoked) => revoked += 1,
            Ok(other) => panic!("race: unexpected outcome {other:?}"),
            Err(err) => panic!("race: the store failed under contention: {err}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "race: {} of {RACERS} concurrent rotations of one token succeeded ({reused} reuses, \
         {revoked} revoked)",
        winners.len()
    );
    assert!(reused >= 1, "race: no loser was detected as a reuse");
    // The losers revoked the family: the winner's token is refused too.
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&winners[0], &token(), rules(T0 + 61, 7 * DAY, 0))
        )
        .await,
        Rotation::Revoked,
        "race: the winner's token after the losers' reuse"
    );
    tracing::info!(
        winners = winners.len(),
        reused,
        revoked,
        "rotation race finished"
    );
}

/// What [`before_restart`] left in a store, for [`after_restart`] to find.
#[derive(Debug)]
pub struct BeforeRestart {
    family: Family,
    spent: TokenHash,
    current: TokenHash,
    other_family: Family,
    other_current: TokenHash,
}

/// Starts two families and rotates them, before the store is closed and opened again.
pub async fn before_restart<S: RefreshStore + RevocationStore>(store: &S) -> BeforeRestart {
    let (family, spent) = started(store, 30 * DAY, 7 * DAY).await;
    let current = token();
    rotated(
        "before restart",
        ok(
            "rotate",
            store.rotate(&spent, &current, rules(T0 + 10, 7 * DAY, 0)),
        )
        .await,
        &family,
    );
    let (other_family, other_current) = started(store, 30 * DAY, 7 * DAY).await;
    BeforeRestart {
        family,
        spent,
        current,
        other_family,
        other_current,
    }
}

/// After a restart: the sessions are still there, the current tokens rotate, and a token spent
/// before the restart is still detected as a reuse.
pub async fn after_restart<S: RefreshStore + RevocationStore>(store: &S, state: BeforeRestart) {
    let found = ok("family_of", store.family_of(&state.current)).await;
    assert_eq!(
        found.as_ref().map(|f| &f.id),
        Some(&state.family.id),
        "after restart: the session is gone"
    );
    rotated(
        "after restart: the other session",
        ok(
            "rotate",
            store.rotate(&state.other_current, &token(), rules(T0 + 20, 7 * DAY, 0)),
        )
        .await,
        &state.other_family,
    );
    assert!(
        matches!(
            ok(
                "rotate",
                store.rotate(&state.spent, &token(), rules(T0 + 30, 7 * DAY, 0))
            )
            .await,
            Rotation::Reused(_)
        ),
        "after restart: a token spent before the restart must be a reuse"
    );
    assert_eq!(
        ok(
            "rotate",
            store.rotate(&state.current, &token(), rules(T0 + 31, 7 * DAY, 0))
        )
        .await,
        Rotation::Revoked,
        "after restart: the family of a reused token is revoked"
    );
}

/// The checks of a [`UserStore`]: `insert` adds a user under a username by whatever means the
/// store has (the trait has no insert).
pub async fn check_user_store<S, F, Fut>(store: S, insert: F)
where
    S: UserStore + Clone,
    F: Fn(String, User) -> Fut,
    Fut: Future<Output = ()>,
{
    let suffix = new_family_id().expect("random");
    let (name, id) = (format!("ada-{suffix}"), format!("id-{suffix}"));
    insert(
        name.clone(),
        User::new(&id, "$argon2id$stored", ["read", "write"]),
    )
    .await;
    let found = ok("find_user", store.find_user(&name)).await;
    let user = found.unwrap_or_else(|| panic!("find_user: {name} not found"));
    assert_eq!(user.id, id);
    assert_eq!(user.scopes, ["read", "write"], "scopes changed on the way");
    assert!(!user.disabled);
    assert_eq!(
        ok("user_by_id", store.user_by_id(&id)).await.map(|u| u.id),
        Some(id.clone()),
        "user_by_id"
    );
    assert_eq!(ok("user_by_id", store.user_by_id("no-such-id")).await, None);
    assert_eq!(
        ok("find_user", store.find_user(&format!("nobody-{suffix}"))).await,
        None
    );
    ok(
        "set_password_hash",
        store.set_password_hash(&id, "$argon2id$new".into()),
    )
    .await;
    let user = ok("find_user", store.find_user(&name)).await.expect("user");
    assert_eq!(
        user.password_hash, "$argon2id$new",
        "set_password_hash lost"
    );
    let disabled_name = format!("off-{suffix}");
    insert(
        disabled_name.clone(),
        User::new(format!("off-{suffix}"), "$argon2id$x", Vec::<String>::new()).disabled(true),
    )
    .await;
    let off = ok("find_user", store.find_user(&disabled_name))
        .await
        .expect("user");
    assert!(off.disabled, "the disabled flag was lost");
    assert!(off.scopes.is_empty(), "no scopes became {:?}", off.scopes);
}

/// The checks of a [`ThrottleStore`] configured with `free_failures` free failures and a first
/// delay of at least a few seconds (so no block ends during the checks): [`RACERS`] parallel
/// attempts on one account get exactly `free_failures + 1` reservations, a success clears the
/// record, a cancelled attempt does not count, and one reservation over several keys is refused
/// while any of them is blocked.
pub async fn check_throttle_store<T>(store: T, free_failures: u32)
where
    T: ThrottleStore + Clone,
{
    let fresh = || format!("id:testkit-{}", new_family_id().expect("random"));
    let allowed = free_failures as usize + 1;

    // The burst.
    let key = fresh();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let (store, key, barrier) = (store.clone(), key.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // A granted ticket is dropped unsettled: a failure, as a wrong password is.
            match store.reserve(&[key]).await {
                Ok(Ok(_ticket)) => Ok(true),
                Ok(Err(wait)) => {
                    assert!(wait > Duration::ZERO, "throttle: blocked for no time");
                    Ok(false)
                }
                Err(err) => Err(err.to_string()),
            }
        }));
    }
    let mut granted = 0;
    for task in tasks {
        match task.await.expect("a racer panicked") {
            Ok(true) => granted += 1,
            Ok(false) => {}
            Err(err) => panic!("throttle: the store failed under contention: {err}"),
        }
    }
    assert_eq!(
        granted, allowed,
        "throttle: {RACERS} parallel attempts on one account were granted {granted} password \
         checks; free_failures + 1 = {allowed}"
    );

    // A success clears the record.
    let key = fresh();
    for _ in 0..free_failures {
        let ticket = ok("reserve", store.reserve(std::slice::from_ref(&key))).await;
        assert!(ticket.is_ok(), "throttle: blocked within the free failures");
    }
    let ticket = ok("reserve", store.reserve(std::slice::from_ref(&key))).await;
    let ticket = ticket.unwrap_or_else(|_| panic!("throttle: blocked within the free failures"));
    ok("succeeded", store.succeeded(ticket)).await;
    for _ in 0..allowed {
        let ticket = ok("reserve", store.reserve(std::slice::from_ref(&key))).await;
        assert!(
            ticket.is_ok(),
            "throttle: a success did not clear the record"
        );
    }
    assert!(
        ok("reserve", store.reserve(std::slice::from_ref(&key)))
            .await
            .is_err(),
        "throttle: no block after free_failures + 1 failures"
    );

    // A cancelled attempt does not count.
    let key = fresh();
    for _ in 0..free_failures {
        drop(ok("reserve", store.reserve(std::slice::from_ref(&key))).await);
    }
    for _ in 0..3 {
        let ticket = ok("reserve", store.reserve(std::slice::from_ref(&key))).await;
        let ticket = ticket.unwrap_or_else(|_| panic!("throttle: a cancelled attempt counted"));
        ok("cancel", store.cancel(ticket)).await;
    }
    assert!(
        ok("reserve", store.reserve(std::slice::from_ref(&key)))
            .await
            .is_ok(),
        "throttle: cancelled attempts counted"
    );
    assert!(
        ok("reserve", store.reserve(std::slice::from_ref(&key)))
            .await
            .is_err(),
        "throttle: the block after the last free failure is missing"
    );

    // Several keys at once: refused while any is blocked, and nothing counted then.
    let (blocked, other) = (fresh(), fresh());
    for _ in 0..allowed {
        drop(ok("reserve", store.reserve(std::slice::from_ref(&blocked))).await);
    }
    assert!(
        ok("reserve", store.reserve(&[other.clone(), blocked.clone()]))
            .await
            .is_err(),
        "throttle: a reservation over a blocked key went through"
    );
    for _ in 0..allowed {
        assert!(
            ok("reserve", store.reserve(std::slice::from_ref(&other)))
                .await
                .is_ok(),
            "throttle: a refused reservation counted on its other keys"
        );
    }
}
