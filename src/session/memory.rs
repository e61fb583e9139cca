//! Sessions in memory: the reference the SQL stores are checked against.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::store::{
    Family, RefreshStore, RevocationStore, Revoked, Rotation, RotationRules, TokenHash,
};
use crate::verify::revocation::BoxError;

struct FamilyRow {
    family: Family,
    current: TokenHash,
    current_expires_at: i64,
    previous: Option<TokenHash>,
    rotated_at: Option<i64>,
}

#[derive(Default)]
struct State {
    families: HashMap<String, FamilyRow>,
    /// Every token ever issued, to its family: an old one presented again is a reuse.
    tokens: HashMap<TokenHash, String>,
    /// (`iss` or "", `jti`) -> `exp`.
    revoked_tokens: HashMap<(String, String), i64>,
}

/// Refresh-token families and revocations in memory, for tests and single-process services
/// that accept losing every session on a restart. Clones share the same state; each operation
/// holds one lock for its whole duration, which makes [`RefreshStore::rotate`] atomic.
#[derive(Clone, Default)]
pub struct InMemorySessionStore {
    state: Arc<Mutex<State>>,
}

impl InMemorySessionStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many families are held (revoked ones included, until purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().families.len()
    }

    /// Whether no family is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for InMemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemorySessionStore")
            .field("families", &self.len())
            .finish()
    }
}

fn rotate_locked(
    state: &mut State,
    presented: &TokenHash,
    next: &TokenHash,
    r: RotationRules,
) -> Rotation {
    let Some(family_id) = state.tokens.get(presented).cloned() else {
        return Rotation::Unknown;
    };
    let Some(row) = state.families.get_mut(&family_id) else {
        return Rotation::Unknown;
    };
    if row.family.revoked_at.is_some() {
        return Rotation::Revoked;
    }
    let family_live = row.family.expires_at > r.now;
    let is_current = row.current == *presented;
    let in_grace = r.grace > 0
        && row.previous == Some(*presented)
        && row
            .rotated_at
            .is_some_and(|at| r.now < at.saturating_add(r.grace));
    if is_current && family_live && row.current_expires_at > r.now {
        row.previous = Some(row.current);
        row.rotated_at = Some(r.now);
    } else if is_current || !family_live {
        return Rotation::Expired;
    } else if !in_grace {
        row.family.revoked_at = Some(r.now);
        return Rotation::Reused(row.family.clone());
    }
    row.current = *next;
    row.current_expires_at = r.now.saturating_add(r.idle).min(row.family.expires_at);
    let family = row.family.clone();
    state.tokens.insert(*next, family_id);
    Rotation::Rotated(family)
}

impl RefreshStore for InMemorySessionStore {
    async fn create_family(
        &self,
        family: &Family,
        first: &TokenHash,
        first_expires_at: i64,
    ) -> Result<(), BoxError> {
        let mut state = self.lock();
        if state.families.contains_key(&family.id) || state.tokens.contains_key(first) {
            return Err("the family or its first token exists already".into());
        }
        state.tokens.insert(*first, family.id.clone());
        state.families.insert(
            family.id.clone(),
            FamilyRow {
                family: family.clone(),
                current: *first,
                current_expires_at: first_expires_at,
                previous: None,
                rotated_at: None,
            },
        );
        Ok(())
    }

    async fn family_of(&self, token: &TokenHash) -> Result<Option<Family>, BoxError> {
        let state = self.lock();
        Ok(state
            .tokens
            .get(token)
            .and_then(|id| state.families.get(id))
            .map(|row| row.family.clone()))
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, BoxError> {
        Ok(rotate_locked(&mut self.lock(), presented, next, rules))
    }

    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<Option<Family>, BoxError> {
        let mut state = self.lock();
        Ok(state.families.get_mut(family_id).map(|row| {
            row.family.revoked_at.get_or_insert(now);
            row.family.clone()
        }))
    }

    async fn purge_expired(&self, before: i64) -> Result<u64, BoxError> {
        let mut state = self.lock();
        let State {
            families, tokens, ..
        } = &mut *state;
        let old = families.len();
        families.retain(|_, row| row.family.expires_at >= before);
        tokens.retain(|_, id| families.contains_key(id));
        Ok((old - families.len()) as u64)
    }
}

impl RevocationStore for InMemorySessionStore {
    async fn revoke_token(
        &self,
        issuer: Option<&str>,
        jwt_id: &str,
        expires_at: i64,
    ) -> Result<(), BoxError> {
        let mut state = self.lock();
        let key = (issuer.unwrap_or("").to_owned(), jwt_id.to_owned());
        let exp = state.revoked_tokens.entry(key).or_insert(expires_at);
        *exp = (*exp).max(expires_at);
        Ok(())
    }

    async fn revocations(
        &self,
        tokens_after: i64,
        sessions_after: i64,
    ) -> Result<Vec<Revoked>, BoxError> {
        let state = self.lock();
        let tokens = state
            .revoked_tokens
            .iter()
            .filter(|(_, exp)| **exp >= tokens_after)
            .map(|((iss, jti), exp)| Revoked::Token {
                issuer: (!iss.is_empty()).then(|| iss.clone()),
                jwt_id: jti.clone(),
                expires_at: *exp,
            });
        let sessions = state.families.values().filter_map(|row| {
            let at = row.family.revoked_at.filter(|at| *at >= sessions_after)?;
            Some(Revoked::Session {
                family_id: row.family.id.clone(),
                revoked_at: at,
            })
        });
        Ok(tokens.chain(sessions).collect())
    }
}
