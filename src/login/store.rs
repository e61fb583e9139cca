//! Where the login service finds users.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};

use crate::verify::revocation::BoxError;

/// What the login service needs to know about one account.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// A stable id; it becomes the token's `sub`.
    pub id: String,
    /// The argon2 PHC string of the password (or, with the feature `legacy-hashes`, a bcrypt
    /// hash imported from another application, replaced on the next successful login).
    pub password_hash: String,
    /// Every scope the user may be granted.
    pub scopes: Vec<String>,
    /// A disabled account cannot log in (and is not told apart from a wrong password).
    pub disabled: bool,
}

impl User {
    /// An enabled user with these scopes.
    pub fn new(
        id: impl Into<String>,
        password_hash: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            id: id.into(),
            password_hash: password_hash.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            disabled: false,
        }
    }

    /// Marks the account disabled (or enabled again).
    #[must_use]
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A source of users: an in-memory map, a database, a directory.
///
/// Both methods are asynchronous so an implementation can do I/O; an error answers the login
/// with 503 `temporarily_unavailable`, never with a hint about the account.
pub trait UserStore: Send + Sync + 'static {
    /// The user named `username`, if any.
    fn find_user(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<User>, BoxError>> + Send;

    /// The user with this id (the token's `sub`), if any: a refresh reads the account again.
    fn user_by_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<User>, BoxError>> + Send;

    /// Replaces the password hash of the user with this id (rehash on login).
    fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: String,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// A [`UserStore`] in memory, keyed by username. Clones share the same map.
#[derive(Clone, Default)]
pub struct InMemoryUserStore {
    users: Arc<RwLock<HashMap<String, User>>>,
}

impl InMemoryUserStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the user named `username`.
    pub fn insert(&self, username: impl Into<String>, user: User) {
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(username.into(), user);
    }

    /// The user named `username`, if any.
    #[must_use]
    pub fn get(&self, username: &str) -> Option<User> {
        self.users
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(username)
            .cloned()
    }
}

impl UserStore for InMemoryUserStore {
    async fn find_user(&self, username: &str) -> Result<Option<User>, BoxError> {
        Ok(self.get(username))
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<User>, BoxError> {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        Ok(users.values().find(|user| user.id == user_id).cloned())
    }

    async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: String,
    ) -> Result<(), BoxError> {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        match users.values_mut().find(|user| user.id == user_id) {
            Some(user) => {
                user.password_hash = password_hash;
                Ok(())
            }
            None => Err(format!("no user with id {user_id:?}").into()),
        }
    }
}

impl fmt::Debug for InMemoryUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("InMemoryUserStore")
            .field("users", &users.len())
            .finish()
    }
}
