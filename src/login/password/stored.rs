//! A stored PHC string, parsed and checked against the policy's limits.

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Params, Version};

use super::*;

/// A stored PHC string, parsed and checked against the policy's limits.
pub(super) struct StoredHash {
    /// With `version` filled in (0x10 when the string has no `v=`).
    pub(super) hash: PasswordHash,
    pub(super) algorithm: Algorithm,
    pub(super) version: Version,
    pub(super) params: Params,
    pub(super) salt_len: usize,
    pub(super) output_len: usize,
}

impl StoredHash {
    pub(super) fn parse(stored: &str, policy: &PasswordPolicy) -> Result<Self, PasswordError> {
        // Name another scheme (`$2b$`, `$scrypt$`, …) before its fields fail to parse as argon2's.
        let ident = stored
            .strip_prefix('$')
            .and_then(|rest| rest.split('$').next())
            .unwrap_or_default();
        let Ok(algorithm) = Algorithm::new(ident) else {
            let plausible = (1..=32).contains(&ident.len())
                && ident
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            return Err(if plausible {
                PasswordError::UnsupportedHash(format!("algorithm `{ident}` is not argon2"))
            } else {
                PasswordError::MalformedHash("not a PHC string".into())
            });
        };
        let mut hash =
            PasswordHash::new(stored).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
        // The reference implementation reads a missing `v=` as version 0x10 (argon2 ≤ 1.2).
        let version = match hash.version {
            None => Version::V0x10,
            Some(v) => Version::try_from(v).map_err(|_| {
                PasswordError::UnsupportedHash(format!("argon2 version {v} is unknown"))
            })?,
        };
        hash.version = Some(version.into());
        let salt_len = hash.salt.as_ref().map(|salt| salt.len()).ok_or_else(|| {
            PasswordError::MalformedHash("the salt and the hash are missing".into())
        })?;
        let output_len = hash
            .hash
            .as_ref()
            .map(Output::len)
            .ok_or_else(|| PasswordError::MalformedHash("the hash is missing".into()))?;
        // The phc parser keeps a repeated name, whose first value `get` reads and whose last
        // value argon2's `Params` keeps: one string, two meanings. Refuse it (as the reference
        // implementation does).
        let mut names: Vec<String> = Vec::new();
        for (name, _) in hash.params.iter() {
            let name = name.as_str().to_owned();
            if names.contains(&name) {
                return Err(PasswordError::MalformedHash(
                    "a parameter is named twice".into(),
                ));
            }
            names.push(name);
        }
        let params =
            Params::try_from(&hash).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
        if params.m_cost() > policy.max_stored_m_cost_kib {
            return Err(PasswordError::UnsupportedHash(format!(
                "m={} KiB is above the limit of {} KiB",
                params.m_cost(),
                policy.max_stored_m_cost_kib
            )));
        }
        if params.t_cost() > policy.max_stored_t_cost {
            return Err(PasswordError::UnsupportedHash(format!(
                "t={} is above the limit of {}",
                params.t_cost(),
                policy.max_stored_t_cost
            )));
        }
        Ok(Self {
            hash,
            algorithm,
            version,
            params,
            salt_len,
            output_len,
        })
    }

    /// Any difference from the policy, stronger parameters included, as passlib's
    /// `deprecated="auto"` and Django's `must_update` decide: after one successful login every
    /// account costs exactly the policy's verification (timing no longer tells imported or
    /// older accounts apart), and a policy lowered on purpose applies to everyone.
    pub(super) fn needs_rehash(&self, policy: &PasswordPolicy) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Version::V0x13
            || self.params.m_cost() != policy.m_cost_kib
            || self.params.t_cost() != policy.t_cost
            || self.params.p_cost() != policy.p_cost
            || self.salt_len < SALT_LEN
            || self.output_len != OUTPUT_LEN
    }
}
