//! Duplicate member tracking: every object, at any depth, names each member once.

use std::collections::HashSet;

use super::*;

/// A member name's fingerprint: its first seven bytes and its length (saturated at 255).
///
/// Different fingerprints mean different names; equal ones mean equal names when the names are
/// at most [`EXACT`] bytes long (as every registered claim name is), and otherwise call for a
/// full comparison. Comparing fingerprints first keeps duplicate detection to one integer
/// comparison per pair of names, and lets short names go unstored.
pub(super) const fn fingerprint(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut print = 0;
    let mut i = 0;
    while i < EXACT && i < bytes.len() {
        print |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    let len = if bytes.len() > 255 {
        255
    } else {
        bytes.len() as u64
    };
    print | len << 56
}

/// Names up to this long are told apart by their fingerprint alone.
pub(super) const EXACT: usize = 7;

/// Member names seen in one object: the first sixteen without allocating, and without storing
/// short names at all (their fingerprint is the name).
///
/// Small and zero-initialized, so that making one costs a few vector stores; it lives in the
/// frame of the visitor that reads the object and is lent to what needs it, never moved.
pub(super) struct Seen<'de> {
    prints: [u64; INLINE],
    /// Long names that borrow from the input; `None` for short ones.
    names: [Option<&'de str>; INLINE],
    len: usize,
    /// Names beyond the sixteenth, and long names that had escapes.
    spill: Vec<(u64, Cow<'de, str>)>,
    /// Once `spill` passes [`SPILL_SCAN`] names, every spilled name, hashed: an object with
    /// thousands of members costs a hash per name, not a scan of all the others.
    spill_set: Option<HashSet<Cow<'de, str>>>,
}

/// How many spilled names are scanned before they move to a hash set.
const SPILL_SCAN: usize = 16;

pub(super) const INLINE: usize = 16;

impl<'de> Seen<'de> {
    pub(in crate::verify::json) fn new() -> Self {
        Self {
            prints: [0; INLINE],
            names: [None; INLINE],
            len: 0,
            spill: Vec::new(),
            spill_set: None,
        }
    }

    /// Records `name`; an error if it was already there.
    pub(in crate::verify::json) fn insert<E: de::Error>(
        &mut self,
        name: Cow<'de, str>,
    ) -> Result<(), E> {
        self.insert_printed(fingerprint(&name), name)
    }

    /// Records `name`, whose fingerprint is `print`; an error if it was already there.
    #[inline]
    pub(in crate::verify::json) fn insert_printed<E: de::Error>(
        &mut self,
        print: u64,
        name: Cow<'de, str>,
    ) -> Result<(), E> {
        // The usual case: a borrowed name, room inline, no fingerprint seen before.
        if self.len < INLINE
            && self.spill.is_empty()
            && self.spill_set.is_none()
            && !self.prints[..self.len].contains(&print)
            && let Cow::Borrowed(borrowed) = name
        {
            self.prints[self.len] = print;
            self.names[self.len] = (borrowed.len() > EXACT).then_some(borrowed);
            self.len += 1;
            return Ok(());
        }
        self.insert_slow(print, name)
    }

    #[cold]
    fn insert_slow<E: de::Error>(&mut self, print: u64, name: Cow<'de, str>) -> Result<(), E> {
        let short = name.len() <= EXACT;
        let inline = self.prints[..self.len]
            .iter()
            .zip(&self.names[..self.len])
            .any(|(p, n)| *p == print && (short || n.is_some_and(|n| n == name)));
        let spilled = match &self.spill_set {
            Some(set) => set.contains(&name),
            None => self
                .spill
                .iter()
                .any(|(p, n)| *p == print && (short || *n == name)),
        };
        if inline || spilled {
            return Err(E::custom(DUPLICATE));
        }
        match name {
            Cow::Borrowed(name) if self.len < INLINE => {
                self.prints[self.len] = print;
                self.names[self.len] = (!short).then_some(name);
                self.len += 1;
            }
            Cow::Owned(_) if short && self.len < INLINE => {
                self.prints[self.len] = print;
                self.len += 1;
            }
            name => match &mut self.spill_set {
                Some(set) => {
                    set.insert(name);
                }
                None if self.spill.len() >= SPILL_SCAN => {
                    let mut set: HashSet<Cow<'de, str>> =
                        self.spill.drain(..).map(|(_, n)| n).collect();
                    set.insert(name);
                    self.spill_set = Some(set);
                }
                None => self.spill.push((print, name)),
            },
        }
        Ok(())
    }
}

pub(super) fn next_name<'de, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map.next_key_seed(StrSeed("member name"))?.map(|s| s.0))
}

/// Any JSON value, read only to check that no object inside it repeats a member name.
pub(crate) struct Strict;

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

pub(super) struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut seen = Seen::new();
        while let Some(name) = next_name(&mut map)? {
            seen.insert(name)?;
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}
