//! The refresh-token grant (RFC 6749 §6) of the token endpoint.

use zeroize::Zeroizing;

use super::{LoginError, LoginService, UserStore, granted_scope};
use crate::issue::IssuedToken;
use crate::login::password::PasswordHashing;
use crate::session::{RefreshToken, Rotation, Sessions};
use crate::verify::revocation::BoxError;

impl<U: UserStore, H: PasswordHashing> LoginService<U, H> {
    /// Rotates the presented refresh token and issues an access token in its family.
    ///
    /// The user is read again before anything changes: a store failure there answers 503
    /// with nothing rotated. A disabled or deleted user ends the family.
    pub(super) async fn refresh(
        &self,
        sessions: &Sessions,
        presented: &Zeroizing<String>,
        scope: Option<&str>,
    ) -> Result<(IssuedToken, RefreshToken), LoginError> {
        // Anything that is not the shape of one of ours never reaches the store.
        let presented = RefreshToken::parse(presented).ok_or(LoginError::InvalidRefresh)?;
        let family = sessions
            .family_of(&presented)
            .await
            .map_err(store_failure)?
            .ok_or(LoginError::InvalidRefresh)?;
        if family.revoked_at.is_some() {
            tracing::info!(family = %family.id, "refresh with a token of a revoked family");
            return Err(LoginError::InvalidRefresh);
        }
        let user = self
            .shared
            .users
            .user_by_id(&family.user_id)
            .await
            .map_err(store_failure)?;
        let user = match user {
            Some(user) if !user.disabled => user,
            _ => {
                tracing::info!(user = %family.user_id, family = %family.id, "refresh for a disabled or deleted user: the family is ended");
                sessions
                    .end_session(&family.id)
                    .await
                    .map_err(store_failure)?;
                return Err(LoginError::InvalidRefresh);
            }
        };
        // Narrowed, never widened: every scope asked for must be in the family's grant.
        let granted_at_login: Vec<String> = family
            .scope
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect();
        if let Some(asked) = scope.filter(|s| !s.trim().is_empty())
            && asked
                .split_ascii_whitespace()
                .any(|s| !granted_at_login.iter().any(|g| g == s))
        {
            return Err(LoginError::InvalidScope);
        }
        // And only what the user still holds.
        let held: Vec<String> = granted_at_login
            .into_iter()
            .filter(|s| user.scopes.contains(s))
            .collect();
        let scope = match scope.filter(|s| !s.trim().is_empty()) {
            Some(asked) => granted_scope(Some(asked), &held)?,
            None => held.join(" "),
        };
        // Signed before the rotation, so that nothing can fail once the token is spent.
        let token = self.issue(&user, &scope, Some(&family.id))?;
        match sessions.rotate(&presented).await.map_err(store_failure)? {
            Ok(refreshed) => {
                tracing::info!(user = %user.id, family = %refreshed.family.id, "refresh token rotated");
                Ok((token, refreshed.token))
            }
            Err(outcome) => {
                let reason = match outcome {
                    Rotation::Reused(_) => "reused",
                    Rotation::Revoked => "revoked",
                    Rotation::Expired => "expired",
                    _ => "unknown",
                };
                tracing::info!(family = %family.id, reason, "refresh refused");
                Err(LoginError::InvalidRefresh)
            }
        }
    }
}

fn store_failure(err: BoxError) -> LoginError {
    tracing::error!(error = %err, "session store failed");
    LoginError::Unavailable("the session service is unavailable")
}
