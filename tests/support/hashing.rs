//! Password hashers for the login tests.

use tower_jwt_auth::login::password::{PasswordError, PasswordHashing, Verification, Zeroizing};

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
