//! Password hashers for the login tests.

use tower_jwt_auth::login::password::{
    Argon2Hasher, PasswordError, PasswordHashing, PasswordPolicy, Verification, Zeroizing,
};
use tower_jwt_auth::login::{InMemoryUserStore, User};

/// A fast argon2id hasher (256 KiB, one pass), and a store holding the user `ada` with the
/// password `correct horse` and the scope `read`.
pub async fn ada() -> (Argon2Hasher, InMemoryUserStore) {
    let hasher = Argon2Hasher::new(PasswordPolicy::default().m_cost_kib(256).t_cost(1)).unwrap();
    let users = InMemoryUserStore::new();
    let hash = hasher
        .hash(Zeroizing::new("correct horse".to_owned()))
        .await
        .unwrap();
    users.insert("ada", User::new("ada", hash, ["read"]));
    (hasher, users)
}

/// A hashing pool that is always saturated: every hash and every check fails with
/// [`PasswordError::Busy`], so a login answers 503 with `Retry-After` (outcome `busy`).
#[derive(Clone)]
pub struct Saturated;

impl PasswordHashing for Saturated {
    async fn hash(&self, _: Zeroizing<String>) -> Result<String, PasswordError> {
        Err(PasswordError::Busy)
    }

    async fn verify(
        &self,
        _: Zeroizing<String>,
        _: Option<String>,
    ) -> Result<Verification, PasswordError> {
        Err(PasswordError::Busy)
    }
}
