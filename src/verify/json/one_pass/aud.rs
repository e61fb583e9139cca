//! `aud`: passed through to the application, compared as it goes by.

use super::*;

/// `aud`: passed through to the application, each string compared as it goes by; anything
/// but a string or an array of strings is refused.
pub(super) struct AudDe<'r, D> {
    pub(super) de: D,
    pub(super) aud: &'r mut AudienceMatch,
    pub(super) audiences: &'r [std::sync::Arc<str>],
}

macro_rules! forward_aud {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.de.$method(AudVisitor {
                    inner: visitor,
                    aud: self.aud,
                    audiences: self.audiences,
                })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for AudDe<'_, D> {
    type Error = D::Error;

    forward_aud! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // serde_json would skip it unread: read it, so it is checked and compared.
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if is_private(name) {
            return Err(unmirrored());
        }
        let aud = AudVisitor {
            inner: visitor,
            aud: self.aud,
            audiences: self.audiences,
        };
        self.de.deserialize_newtype_struct(name, aud)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let aud = AudVisitor {
            inner: visitor,
            aud: self.aud,
            audiences: self.audiences,
        };
        self.de.deserialize_tuple(len, aud)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, D::Error> {
        Err(unmirrored())
    }
}

pub(super) struct AudVisitor<'r, V> {
    inner: V,
    aud: &'r mut AudienceMatch,
    audiences: &'r [std::sync::Arc<str>],
}

impl<V> AudVisitor<'_, V> {
    fn saw(&mut self, aud: &str) {
        if self.audiences.iter().any(|ours| **ours == *aud) {
            *self.aud = AudienceMatch::Matched;
        } else if *self.aud == AudienceMatch::Absent {
            *self.aud = AudienceMatch::Unmatched;
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for AudVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<V::Value, E> {
        self.saw(v);
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<V::Value, E> {
        self.saw(v);
        self.inner.visit_str(v)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(AudDe {
            de: d,
            aud: self.aud,
            audiences: self.audiences,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(AudDe {
            de: d,
            aud: self.aud,
            audiences: self.audiences,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if *self.aud == AudienceMatch::Absent {
            *self.aud = AudienceMatch::Unmatched;
        }
        self.inner.visit_seq(AudSeq {
            seq,
            aud: self.aud,
            audiences: self.audiences,
        })
    }
}

pub(super) struct AudSeq<'r, A> {
    seq: A,
    aud: &'r mut AudienceMatch,
    audiences: &'r [std::sync::Arc<str>],
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for AudSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.seq.next_element_seed(AudElement {
            inner: seed,
            aud: &mut *self.aud,
            audiences: self.audiences,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// One element of an `aud` array: a string, compared, and handed on.
pub(super) struct AudElement<'r, T> {
    inner: T,
    aud: &'r mut AudienceMatch,
    audiences: &'r [std::sync::Arc<str>],
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for AudElement<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        let value = d.deserialize_str(StrVisitor("aud"))?.0;
        if self.audiences.iter().any(|ours| **ours == *value) {
            *self.aud = AudienceMatch::Matched;
        }
        self.inner.deserialize(StrDe(&value, PhantomData))
    }
}
