//! The cached paths: a token the verified-token cache knows is answered from its entry (the
//! clock, the kept scope verdict and the revocation hook), and a miss fills an entry.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::rules::validate_time;
use super::{Checked, Outcome, Verifier};
use crate::verify::cache::{Entry, Verdict};
use crate::verify::error::{AuthError, ErrorKind};
use crate::verify::jws;
use crate::verify::revocation::Revocation;

impl Verifier {
    /// [`Verifier::check`], with the claims behind an `Arc` that a cache entry shares.
    ///
    /// The token comes as bytes (ASCII, from the b64token grammar) and is never checked as
    /// UTF-8: a hit compares bytes only, and a miss decodes each part as strict base64url,
    /// which refuses any byte outside its alphabet.
    pub(crate) fn check_shared<C>(
        &self,
        token: &[u8],
        revocation: Option<&dyn Revocation>,
    ) -> Result<Checked<Arc<C>>, AuthError>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let mut out = Outcome::new();
        if !self.caches() {
            self.check_into::<C>(token, revocation, &mut out)?;
            let claims = Arc::new(out.take_claims()?);
            return Ok(out.checked(claims));
        }
        let claims = self.keys.with_current(|keys| {
            let Some(cache) = self.cache_for(keys) else {
                // The keys were replaced by shared secrets since `caches` answered.
                return self.verify_signed(token, keys, |payload| {
                    self.check_claims(payload, revocation, &mut out, false)?;
                    Ok(Arc::new(out.take_claims()?))
                });
            };
            let key_set = keys.id();
            if let Some(hit) = cache.lookup(token, key_set) {
                out.cache_hit = true;
                if let Some(answer) = self.answer_hit(&hit, revocation, &mut out) {
                    return answer;
                }
                // Cached by a check that kept no verdict, or for another claims type.
                let compact = jws::Compact::split(token)?;
                return jws::with_payload(compact.payload, |payload| {
                    let facts = self.check_claims(payload, revocation, &mut out, true)?;
                    let claims = Arc::new(out.take_claims()?);
                    if hit.verdict().is_none()
                        && let Some(facts) = facts
                    {
                        hit.record(Verdict {
                            claims: Arc::clone(&claims) as _,
                            facts,
                        });
                    }
                    Ok(claims)
                });
            }
            self.verify_signed(token, keys, |payload| {
                let facts = self.check_claims(payload, revocation, &mut out, true)?;
                let claims = Arc::new(out.take_claims()?);
                let verdict = facts.map(|facts| Verdict {
                    claims: Arc::clone(&claims) as _,
                    facts,
                });
                cache.insert(token, key_set, verdict);
                Ok(claims)
            })
        })?;
        Ok(out.checked(claims))
    }

    /// The answer for `token` if the cache holds it with a verdict and claims of type `C`: only
    /// the clock, the recorded scope outcome and the revocation hook are checked. `None` when
    /// the cache is off or does not know the token so (the caller then checks it in full, with
    /// [`check_shared`](Self::check_shared), which looks it up once more).
    pub(crate) fn check_hit<C>(
        &self,
        token: &[u8],
        revocation: Option<&dyn Revocation>,
    ) -> Option<Result<Checked<Arc<C>>, AuthError>>
    where
        C: Send + Sync + 'static,
    {
        // No claims are decoded here: an outcome without a claims slot keeps what is moved
        // small (the slot would be as large as `C`).
        let mut out = Outcome::<()>::new();
        // The set's identity and kind are read without loading the set: a hit needs nothing
        // else of it (an entry hits only under the identity it was verified with).
        let hit = self
            .current_cache()?
            .lookup(token, self.keys.current_id())?;
        out.cache_hit = true;
        let answer = self.answer_hit(&hit, revocation, &mut out)?;
        Some(
            answer
                .map(|claims| out.checked(claims))
                .map_err(AuthError::from),
        )
    }

    /// A cache entry's answer, if it kept a verdict with claims of type `C`: the clock, the
    /// recorded scope outcome and the revocation hook, nothing else.
    fn answer_hit<C, O>(
        &self,
        entry: &Entry,
        revocation: Option<&dyn Revocation>,
        out: &mut Outcome<O>,
    ) -> Option<Result<Arc<C>, ErrorKind>>
    where
        C: Send + Sync + 'static,
    {
        let verdict = entry.verdict()?;
        let claims = Arc::clone(&verdict.claims).downcast::<C>().ok()?;
        let facts = &verdict.facts;
        Some(
            validate_time(&self.validation, facts.exp, facts.nbf)
                .and_then(|()| {
                    self.conclude(
                        facts.scope_ok,
                        &facts.info(self.validation.leeway),
                        revocation,
                        out,
                    )
                })
                .map(|()| claims),
        )
    }
}
