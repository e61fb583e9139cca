//! bcrypt hashes migrated from another application (feature `legacy-hashes`), read and
//! verified as passlib's bcrypt handler does.
//!
//! A stored string is `$2b$12$` + 22 characters of salt + 31 of checksum, in bcrypt's own
//! base64 alphabet (`./A-Za-z0-9`): 60 ASCII characters. passlib and the Python `bcrypt`
//! package compute `$2a$`, `$2b$` and `$2y$` alike (the idents mark bugs of old C
//! implementations, OpenBSD's length wrap-around past 255 bytes and crypt_blowfish's sign
//! extension, which neither reproduces), so the three are verified alike, by the `bcrypt`
//! crate.

use super::*;

/// bcrypt's base64 alphabet.
const BCRYPT64: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The length of every bcrypt string: `$2b$12$`, 22 characters of salt, 31 of checksum.
const BCRYPT_LEN: usize = 60;
/// The lowest and highest cost factors bcrypt defines (16 to 2³¹ rounds of key expansion).
const COST_RANGE: std::ops::RangeInclusive<u32> = 4..=31;

/// Whether `stored` names a bcrypt variant: `$2$`, `$2a$`, `$2b$`, `$2x$` or `$2y$`. Such a
/// string is read by [`BcryptHash::parse`], never as a PHC string.
pub(super) fn is_bcrypt(stored: &str) -> bool {
    matches!(ident(stored), Some("2" | "2a" | "2b" | "2x" | "2y"))
}

fn ident(stored: &str) -> Option<&str> {
    stored.strip_prefix('$')?.split('$').next()
}

/// A stored bcrypt string, checked against the policy's cost cap.
pub(super) struct BcryptHash {
    /// The stored string with the unused bits of the salt's and the checksum's last
    /// characters cleared, as passlib repairs them before verifying.
    canonical: String,
}

impl BcryptHash {
    pub(super) fn parse(stored: &str, policy: &PasswordPolicy) -> Result<Self, PasswordError> {
        let malformed = |why: &str| PasswordError::MalformedHash(format!("bcrypt: {why}"));
        let ident = match ident(stored) {
            Some(ident @ ("2a" | "2b" | "2y")) => ident,
            Some("2x") => {
                // crypt_blowfish's hashes made with its sign-extension bug; passlib refuses
                // them too.
                return Err(PasswordError::UnsupportedHash(
                    "bcrypt `$2x$` (crypt_blowfish's sign-extension bug) is not supported".into(),
                ));
            }
            Some("2") => {
                return Err(PasswordError::UnsupportedHash(
                    "the original bcrypt `$2$` is not supported".into(),
                ));
            }
            _ => return Err(malformed("not a bcrypt string")),
        };
        // From here on, bytes: a non-ASCII character anywhere is a malformed hash, never a
        // slice through the middle of one.
        let bytes = stored.as_bytes();
        if bytes.len() != BCRYPT_LEN {
            return Err(malformed("not 60 characters long"));
        }
        let (cost, rest) = match bytes.get(4..) {
            Some([tens, units, b'$', rest @ ..])
                if tens.is_ascii_digit() && units.is_ascii_digit() =>
            {
                (u32::from(tens - b'0') * 10 + u32::from(units - b'0'), rest)
            }
            _ => return Err(malformed("the cost is not two digits followed by `$`")),
        };
        if !COST_RANGE.contains(&cost) {
            return Err(malformed(&format!("cost {cost} is outside 4..=31")));
        }
        if cost > policy.max_stored_bcrypt_cost {
            return Err(PasswordError::UnsupportedHash(format!(
                "bcrypt cost {cost} is above the limit of {}",
                policy.max_stored_bcrypt_cost
            )));
        }
        let mut sextets = [0u8; BCRYPT_LEN - 7];
        for (sextet, &c) in sextets.iter_mut().zip(rest) {
            *sextet = BCRYPT64
                .iter()
                .position(|&a| a == c)
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| malformed("the salt or the checksum is not bcrypt base64"))?;
        }
        // 22 characters carry 132 bits for a 128-bit salt, 31 carry 186 for a 184-bit
        // checksum: the low 4 and 2 bits of the last characters are unused. OpenBSD's decoder
        // ignores them, passlib clears them (with a warning) and the `bcrypt` crate refuses
        // them: clear them, as passlib does.
        sextets[21] &= 0b11_0000;
        sextets[52] &= 0b11_1100;
        let mut canonical = format!("${ident}${cost:02}$");
        canonical.extend(
            sextets
                .iter()
                .map(|&v| char::from(BCRYPT64[usize::from(v)])),
        );
        Ok(Self { canonical })
    }

    /// Recomputes the checksum with the stored salt and cost (on the worker's thread, it
    /// blocks for as long as the cost asks) and compares it in constant time.
    ///
    /// As passlib's bcrypt handler (`truncate_error=False`, its default), only the first 72
    /// bytes of the UTF-8 password count: a longer password matches whatever follows them. A
    /// password holding a NUL byte never matches: passlib refuses it, and bcrypt's key
    /// schedule, which repeats `password + NUL` over 72 bytes, would let `"x\0x"` open the
    /// account of `"x"`.
    pub(super) fn check(&self, password: &str) -> Result<bool, PasswordError> {
        let matches =
            bcrypt::verify(password.as_bytes(), &self.canonical).map_err(|e| match e {
                bcrypt::BcryptError::InvalidHash(_) | bcrypt::BcryptError::CostNotAllowed(_) => {
                    PasswordError::MalformedHash(format!("bcrypt: {e}"))
                }
                other => PasswordError::Internal(format!("bcrypt: {other}")),
            })?;
        Ok(matches && !password.contains('\0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bcrypt.hashpw(b"pw", bcrypt.gensalt(4))` (Python bcrypt 4.0.1). The salt ends in `u`
    /// (48, `0b110000`), the checksum in `a` (28, `0b011100`): no unused bit set.
    const PW: &str = "$2b$04$R.WWgUHJMjx0u6jGLP/uWubg/qMHlnjHk58gejH.mTMxN/GN5YTia";

    #[test]
    fn the_unused_bits_of_the_last_characters_are_cleared_like_passlib() {
        let policy = PasswordPolicy::default();
        let clean = BcryptHash::parse(PW, &policy).unwrap();
        assert_eq!(clean.canonical, PW);
        let mut dirty = PW.to_owned();
        dirty.replace_range(28..29, "z"); // 53, `0b110101`: the low 4 bits set
        dirty.replace_range(59..60, "d"); // 31, `0b011111`: the low 2 bits set
        assert_ne!(dirty, PW);
        let repaired = BcryptHash::parse(&dirty, &policy).unwrap();
        assert_eq!(repaired.canonical, PW);
        assert!(repaired.check("pw").unwrap());
        assert!(!repaired.check("pW").unwrap());
        // The `bcrypt` crate alone refuses the dirty string.
        assert!(bcrypt::verify("pw", &dirty).is_err());
    }
}
