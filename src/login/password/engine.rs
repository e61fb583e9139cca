//! The argon2 engine: one evaluation in a reusable block buffer, zeroed after each job.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroize as _;

use zeroize::Zeroizing;

use super::*;

/// The hashing itself, shared by the workers and the blocking entry points.
pub(super) struct Engine {
    pub(super) policy: PasswordPolicy,
    argon2: Argon2<'static>,
    /// A hash of a random password with the policy's parameters, for unknown users.
    pub(super) dummy: OnceLock<String>,
    #[cfg(test)]
    pub(super) probe: test_probe::Probe,
}

impl Engine {
    pub(super) fn new(policy: PasswordPolicy, params: Params) -> Self {
        Self {
            policy,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: OnceLock::new(),
            #[cfg(test)]
            probe: test_probe::Probe::default(),
        }
    }

    /// A new PHC string: a random 16-byte salt, the policy's parameters, argon2id v=19;
    /// byte for byte what `argon2`'s `hash_password` writes, computed in `scratch`.
    pub(super) fn hash(
        &self,
        password: &str,
        scratch: &mut Scratch,
    ) -> Result<String, PasswordError> {
        #[cfg(test)]
        self.probe.record();
        let internal = |e: argon2::password_hash::Error| PasswordError::Internal(e.to_string());
        let salt = argon2::password_hash::try_generate_salt().map_err(|e| internal(e.into()))?;
        let mut output = [0u8; OUTPUT_LEN];
        let params = self.argon2.params();
        scratch
            .with_blocks(params.block_count(), |blocks| {
                self.argon2.hash_password_into_with_memory(
                    password.as_bytes(),
                    &salt,
                    &mut output,
                    blocks,
                )
            })?
            .map_err(|e| internal(e.into()))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(internal)?,
            salt: Some(Salt::new(&salt).map_err(|e| internal(e.into()))?),
            hash: Some(Output::new(&output).map_err(|e| internal(e.into()))?),
        };
        Ok(hash.to_string())
    }

    pub(super) fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
        scratch: &mut Scratch,
    ) -> Result<Verification, PasswordError> {
        let Some(stored) = stored else {
            return self.verify_unknown_user(password, scratch);
        };
        #[cfg(feature = "legacy-hashes")]
        if is_bcrypt(stored) {
            return match BcryptHash::parse(stored, &self.policy) {
                Ok(parsed) => {
                    #[cfg(test)]
                    self.probe.record();
                    // Never the scheme of new hashes: a match is always replaced.
                    Ok(Verification::new(parsed.check(password)?, true))
                }
                Err(err) => self.refuse(password, err, scratch),
            };
        }
        let parsed = match StoredHash::parse(stored, &self.policy) {
            Ok(parsed) => parsed,
            Err(err) => return self.refuse(password, err, scratch),
        };
        let matches = self.check(password, &parsed, scratch)?;
        Ok(Verification {
            matches,
            needs_rehash: matches && parsed.needs_rehash(&self.policy),
        })
    }

    /// A hash this hasher cannot use (an SSO-only account stored as "" or "!", a foreign
    /// scheme) costs what an unknown user costs, in the same job, before the error: its answer
    /// must not come sooner.
    fn refuse(
        &self,
        password: &str,
        err: PasswordError,
        scratch: &mut Scratch,
    ) -> Result<Verification, PasswordError> {
        let _unknown = self.verify_unknown_user(password, scratch)?;
        Err(err)
    }

    /// One argon2 evaluation at the policy's parameters, whose answer is always "no".
    fn verify_unknown_user(
        &self,
        password: &str,
        scratch: &mut Scratch,
    ) -> Result<Verification, PasswordError> {
        match self.dummy.get() {
            Some(dummy) => {
                let parsed = StoredHash::parse(dummy, &self.policy)?;
                let _ = self.check(password, &parsed, scratch)?;
            }
            None => {
                // The first unknown user pays for the dummy hash instead: the same cost.
                let mut random = argon2::password_hash::try_generate_salt()
                    .map_err(|e| PasswordError::Internal(e.to_string()))?;
                let password = Zeroizing::new(hex(&random));
                zeroize::Zeroize::zeroize(&mut random);
                let _ = self.dummy.set(self.hash(&password, scratch)?);
            }
        }
        Ok(Verification {
            matches: false,
            needs_rehash: false,
        })
    }

    /// Recomputes the hash with the stored salt, algorithm, version and parameters (output
    /// length included), in `scratch`; compares in constant time. The errors are classified as
    /// `argon2`'s `verify_password` would have them.
    fn check(
        &self,
        password: &str,
        stored: &StoredHash,
        scratch: &mut Scratch,
    ) -> Result<bool, PasswordError> {
        use argon2::password_hash::Error;
        #[cfg(test)]
        self.probe.record();
        // `StoredHash::parse` makes sure both are there; `verify_password` says "no" otherwise.
        let (Some(salt), Some(expected)) = (&stored.hash.salt, &stored.hash.hash) else {
            return Ok(false);
        };
        let argon2 = Argon2::new(stored.algorithm, stored.version, stored.params.clone());
        // An `Output` is at most 64 bytes long.
        let mut computed = [0u8; Output::MAX_LENGTH];
        let computed = computed
            .get_mut(..expected.len())
            .ok_or_else(|| PasswordError::MalformedHash(Error::OutputSize.to_string()))?;
        let result = scratch
            .with_blocks(stored.params.block_count(), |blocks| {
                argon2.hash_password_into_with_memory(password.as_bytes(), salt, computed, blocks)
            })?
            .map_err(Error::from)
            .and_then(|()| Output::new(computed).map_err(Error::from));
        match result {
            // `Output`'s equality is constant-time (and false for another length).
            Ok(computed) => Ok(computed == *expected),
            Err(Error::PasswordInvalid) => Ok(false),
            Err(e @ (Error::OutOfMemory | Error::RngFailure | Error::Crypto | Error::Internal)) => {
                Err(PasswordError::Internal(e.to_string()))
            }
            Err(e) => Err(PasswordError::MalformedHash(e.to_string())),
        }
    }
}

/// The argon2 working memory of one thread: the 1 KiB blocks an evaluation fills, `m` of them
/// (see the module's "Memory" section for the design).
///
/// A worker's scratch keeps the policy's `m` blocks from its first job until it exits, and
/// runs every evaluation that fits (new hashes, stored hashes with `m` up to the policy's) in a
/// prefix of them: `argon2` fills exactly `Params::block_count` blocks from the front of the
/// slice it is given, and writes each block before reading it, so a used buffer needs no
/// clearing for correctness. An evaluation that does not fit gets blocks of its own, freed when
/// it ends. Whatever an evaluation used is zeroed when it ends, panics included, so the kept
/// blocks are all zero between jobs.
pub(super) struct Scratch {
    /// Empty until the first evaluation that fits; then `keep` blocks.
    pub(super) kept: Vec<Block>,
    /// Blocks to keep between evaluations: 0 for a one-off scratch.
    keep: usize,
}

impl Scratch {
    /// A worker's scratch: keeps `m_cost_kib` blocks once it has needed them.
    pub(super) fn keeping(m_cost_kib: u32) -> Self {
        Self {
            kept: Vec::new(),
            keep: usize::try_from(m_cost_kib).unwrap_or(usize::MAX),
        }
    }

    /// A scratch for one evaluation on the caller's thread (the blocking entry points): its
    /// memory is freed with the evaluation. A thread-local buffer would pin `m` on every
    /// thread that ever called them.
    pub(super) fn one_off() -> Self {
        Self {
            kept: Vec::new(),
            keep: 0,
        }
    }

    /// Runs `f` on `count` zeroed blocks, and zeroes them again once `f` returns or panics.
    pub(super) fn with_blocks<T>(
        &mut self,
        count: usize,
        f: impl FnOnce(&mut [Block]) -> T,
    ) -> Result<T, PasswordError> {
        let mut own;
        let blocks = if count <= self.keep {
            if self.kept.len() < self.keep {
                self.kept = zeroed_blocks(self.keep)?;
            }
            &mut self.kept[..count]
        } else {
            own = zeroed_blocks(count)?;
            &mut own[..]
        };
        let wiped = Wiped(blocks);
        Ok(f(&mut *wiped.0))
    }
}

/// `count` zeroed blocks, or [`PasswordError::Internal`] when they cannot be allocated.
pub(super) fn zeroed_blocks(count: usize) -> Result<Vec<Block>, PasswordError> {
    let mut blocks = Vec::new();
    blocks.try_reserve_exact(count).map_err(|_| {
        PasswordError::Internal(argon2::password_hash::Error::OutOfMemory.to_string())
    })?;
    blocks.resize(count, Block::new());
    Ok(blocks)
}

/// Zeroes the blocks when dropped.
pub(super) struct Wiped<'a>(&'a mut [Block]);

impl Drop for Wiped<'_> {
    fn drop(&mut self) {
        // `Block::zeroize` (volatile writes, not optimized away) is compiled in `argon2`, at
        // its optimization level: this loop calls it once per KiB.
        for block in self.0.iter_mut() {
            block.zeroize();
        }
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
