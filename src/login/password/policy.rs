//! [`PasswordPolicy`]: the parameters of new hashes and the limits on passwords and stored hashes.

use argon2::Params;

use super::*;

/// The parameters of new hashes, and the limits applied to passwords and stored hashes.
///
/// Build one from [`PasswordPolicy::default`] and change what you need:
///
/// ```
/// use tower_jwt_auth::login::password::PasswordPolicy;
///
/// // OWASP's second configuration: 46 MiB, 1 pass.
/// let policy = PasswordPolicy::default().m_cost_kib(47_104).t_cost(1);
/// assert_eq!(policy.m_cost_kib, 47_104);
/// ```
///
/// Raising a cost does not invalidate stored hashes: they keep verifying, and report
/// [`Verification::needs_rehash`] until their owner logs in again.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordPolicy {
    /// Memory cost `m` of new hashes, in KiB. Default 19 456 (19 MiB). Each worker holds this
    /// much memory from its first job on (see [Memory](super#memory)).
    pub m_cost_kib: u32,
    /// Number of passes `t` of new hashes. Default 2.
    pub t_cost: u32,
    /// Degree of parallelism `p` (lanes) of new hashes. Default 1. The lanes are computed one
    /// after the other on the worker's thread: a higher `p` does not use more cores.
    pub p_cost: u32,
    /// Longest accepted password, in bytes of UTF-8. Default 1024. Passwords up to the cap are
    /// hashed whole, whatever their characters; longer ones are refused with
    /// [`PasswordError::TooLong`] before any hashing. Must be at least 1.
    pub max_password_len: usize,
    /// Highest memory cost, in KiB, of a stored hash this hasher agrees to verify. Default
    /// 1 048 576 (1 GiB). A stored hash above it is refused with
    /// [`PasswordError::UnsupportedHash`] instead of tying up a worker. Verifying a stored hash
    /// with more memory than [`m_cost_kib`](Self::m_cost_kib) allocates that memory for the
    /// job, on top of the worker's own buffer. Must be at least
    /// [`m_cost_kib`](Self::m_cost_kib).
    pub max_stored_m_cost_kib: u32,
    /// Highest number of passes of a stored hash this hasher agrees to verify. Default 16. Must
    /// be at least [`t_cost`](Self::t_cost).
    pub max_stored_t_cost: u32,
    /// Highest cost factor of a stored bcrypt hash this hasher agrees to verify (feature
    /// `legacy-hashes`). Default 14 ([`DEFAULT_MAX_STORED_BCRYPT_COST`]). A bcrypt hash above
    /// it is refused with [`PasswordError::UnsupportedHash`], so a corrupt or hostile row
    /// (`$2b$31$…`, 2³¹ rounds: days of CPU) cannot pin a worker; each step doubles the work,
    /// and cost 14 takes about four times as long as passlib's default of 12. Must be within
    /// bcrypt's 4..=31.
    #[cfg(feature = "legacy-hashes")]
    #[cfg_attr(docsrs, doc(cfg(feature = "legacy-hashes")))]
    pub max_stored_bcrypt_cost: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            m_cost_kib: DEFAULT_M_COST_KIB,
            t_cost: DEFAULT_T_COST,
            p_cost: DEFAULT_P_COST,
            max_password_len: DEFAULT_MAX_PASSWORD_LEN,
            max_stored_m_cost_kib: DEFAULT_MAX_STORED_M_COST_KIB,
            max_stored_t_cost: DEFAULT_MAX_STORED_T_COST,
            #[cfg(feature = "legacy-hashes")]
            max_stored_bcrypt_cost: DEFAULT_MAX_STORED_BCRYPT_COST,
        }
    }
}

impl PasswordPolicy {
    /// Sets [`m_cost_kib`](Self::m_cost_kib), the memory cost of new hashes in KiB.
    pub const fn m_cost_kib(mut self, kib: u32) -> Self {
        self.m_cost_kib = kib;
        self
    }

    /// Sets [`t_cost`](Self::t_cost), the number of passes of new hashes.
    pub const fn t_cost(mut self, passes: u32) -> Self {
        self.t_cost = passes;
        self
    }

    /// Sets [`p_cost`](Self::p_cost), the lanes of new hashes.
    pub const fn p_cost(mut self, lanes: u32) -> Self {
        self.p_cost = lanes;
        self
    }

    /// Sets [`max_password_len`](Self::max_password_len), in bytes of UTF-8.
    pub const fn max_password_len(mut self, bytes: usize) -> Self {
        self.max_password_len = bytes;
        self
    }

    /// Sets [`max_stored_m_cost_kib`](Self::max_stored_m_cost_kib) and
    /// [`max_stored_t_cost`](Self::max_stored_t_cost), the costs of the strongest stored hash
    /// this hasher agrees to verify.
    pub const fn max_stored(mut self, m_cost_kib: u32, t_cost: u32) -> Self {
        self.max_stored_m_cost_kib = m_cost_kib;
        self.max_stored_t_cost = t_cost;
        self
    }

    /// Sets [`max_stored_bcrypt_cost`](Self::max_stored_bcrypt_cost), the cost factor of the
    /// strongest stored bcrypt hash this hasher agrees to verify (feature `legacy-hashes`).
    #[cfg(feature = "legacy-hashes")]
    #[cfg_attr(docsrs, doc(cfg(feature = "legacy-hashes")))]
    pub const fn max_stored_bcrypt_cost(mut self, cost: u32) -> Self {
        self.max_stored_bcrypt_cost = cost;
        self
    }

    /// Whether a stored hash differs from this policy and should be replaced by a fresh hash
    /// the next time its owner logs in. Cheap: parses the string, computes nothing.
    ///
    /// A hash needs a rehash when any of these holds: its algorithm is not argon2id; its version
    /// is not 0x13 (19), a missing `v=` counting as 0x10; its `m`, `t` or `p` differs from this
    /// policy's, higher ones included; its salt is shorter than 16 bytes; its output is not 32
    /// bytes. Replacing stronger hashes too is what passlib's `deprecated="auto"` and Django's
    /// `must_update` do: after one login each account costs exactly the policy's verification,
    /// so timing no longer tells imported accounts apart. With the feature `legacy-hashes`, a
    /// bcrypt hash (`$2a$`, `$2b$`, `$2y$`) always needs one.
    ///
    /// # Errors
    ///
    /// [`PasswordError::MalformedHash`] or [`PasswordError::UnsupportedHash`] when the string is
    /// not one this policy would verify (see the [module documentation](super)).
    pub fn needs_rehash(&self, stored: &str) -> Result<bool, PasswordError> {
        #[cfg(feature = "legacy-hashes")]
        if is_bcrypt(stored) {
            return BcryptHash::parse(stored, self).map(|_| true);
        }
        Ok(StoredHash::parse(stored, self)?.needs_rehash(self))
    }

    pub(super) fn params(&self) -> Result<Params, PasswordError> {
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(OUTPUT_LEN))
            .map_err(|e| PasswordError::InvalidPolicy(format!("argon2 parameters: {e}")))
    }

    pub(super) fn validate(&self) -> Result<Params, PasswordError> {
        let params = self.params()?;
        if self.max_password_len == 0 {
            return Err(PasswordError::InvalidPolicy(
                "max_password_len must be at least 1".into(),
            ));
        }
        if self.max_stored_m_cost_kib < self.m_cost_kib {
            return Err(PasswordError::InvalidPolicy(
                "max_stored_m_cost_kib is below m_cost_kib: new hashes would not verify".into(),
            ));
        }
        if self.max_stored_t_cost < self.t_cost {
            return Err(PasswordError::InvalidPolicy(
                "max_stored_t_cost is below t_cost: new hashes would not verify".into(),
            ));
        }
        #[cfg(feature = "legacy-hashes")]
        if !(4..=31).contains(&self.max_stored_bcrypt_cost) {
            return Err(PasswordError::InvalidPolicy(
                "max_stored_bcrypt_cost must be within bcrypt's 4..=31".into(),
            ));
        }
        Ok(params)
    }

    pub(super) fn check_len(&self, password: &str) -> Result<(), PasswordError> {
        if password.len() > self.max_password_len {
            Err(PasswordError::TooLong {
                max: self.max_password_len,
            })
        } else {
            Ok(())
        }
    }
}
