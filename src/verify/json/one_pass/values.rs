//! Registered claims: read and checked here, then handed on as serde_json would hand them.

use super::*;

pub(super) struct ClaimSeed<'r, 'de, T> {
    pub(super) inner: T,
    pub(super) member: Member,
    pub(super) registered: &'r mut RegisteredClaims<'de>,
    pub(super) audiences: &'r [std::sync::Arc<str>],
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for ClaimSeed<'_, 'de, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        let r = self.registered;
        match self.member {
            Member::Exp | Member::Nbf | Member::Iat => {
                let number = d.deserialize_any(NumberVisitor)?;
                let slot = match self.member {
                    Member::Exp => &mut r.exp,
                    Member::Nbf => &mut r.nbf,
                    _ => &mut r.iat,
                };
                *slot = Some(number.numeric_date());
                self.inner.deserialize(NumberDe(number, PhantomData))
            }
            Member::Iss | Member::Sub | Member::Jti | Member::Sid | Member::Scope => {
                let value = d.deserialize_str(StrVisitor("string claim"))?.0;
                let claims = self.inner.deserialize(StrDe(&value, PhantomData));
                let slot = match self.member {
                    Member::Iss => &mut r.iss,
                    Member::Sub => &mut r.sub,
                    Member::Jti => &mut r.jti,
                    Member::Sid => &mut r.sid,
                    _ => &mut r.scope,
                };
                *slot = Some(value);
                claims
            }
            Member::Aud => self.inner.deserialize(AudDe {
                de: d,
                aud: &mut r.aud,
                audiences: self.audiences,
            }),
            Member::Other => Err(unmirrored()),
        }
    }
}

pub(super) struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NumericDate")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number::U(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number::I(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        Ok(Number::F(v))
    }

    /// serde_json's `arbitrary_precision` map: a number the one pass cannot hand on exactly
    /// as serde_json would (its digits, not a re-encoding), so the two-pass reader, which
    /// reads it, takes over.
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Number, A::Error> {
        Err(unmirrored())
    }
}

/// A number already read, handed on as serde_json hands on a number: numeric requests get
/// it, `Option` gets `Some`, anything else is a type error.
pub(super) struct NumberDe<E>(Number, PhantomData<E>);

impl<E> NumberDe<E> {
    fn unexpected(&self) -> de::Unexpected<'static> {
        match self.0 {
            Number::U(v) => de::Unexpected::Unsigned(v),
            Number::I(v) => de::Unexpected::Signed(v),
            Number::F(v) => de::Unexpected::Float(v),
        }
    }
}

macro_rules! refuse {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
                Err(E::invalid_type(self.unexpected(), &visitor))
            }
        )*
    };
}

/// The compound `deserialize_*` methods, refused as [`refuse!`] does the simple ones.
macro_rules! refuse_compound {
    () => {
        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }

        fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: usize,
            visitor: V,
        ) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, E> {
            Err(E::invalid_type(self.unexpected(), &visitor))
        }
    };
}

impl<'de, E: de::Error> Deserializer<'de> for NumberDe<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Number::U(v) => visitor.visit_u64(v),
            Number::I(v) => visitor.visit_i64(v),
            Number::F(v) => visitor.visit_f64(v),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64
    }

    refuse! {
        deserialize_bool deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    refuse_compound!();

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        Err(E::invalid_type(self.unexpected(), &visitor))
    }
}

/// A string already read, handed on as serde_json hands on a string: borrowed when it had no
/// escapes, as bytes when bytes are asked for, as a unit variant to an enum.
pub(super) struct StrDe<'s, 'de, E>(
    pub(in crate::verify::json) &'s Cow<'de, str>,
    pub(in crate::verify::json) PhantomData<E>,
);

impl<'de, E: de::Error> StrDe<'_, 'de, E> {
    fn unexpected(&self) -> de::Unexpected<'_> {
        de::Unexpected::Str(self.0)
    }
}

impl<'de, E: de::Error> Deserializer<'de> for StrDe<'_, 'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(v) => visitor.visit_borrowed_str(v),
            Cow::Owned(v) => visitor.visit_str(v),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(v) => visitor.visit_borrowed_bytes((*v).as_bytes()),
            Cow::Owned(v) => visitor.visit_bytes(v.as_bytes()),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(v) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(v)),
            Cow::Owned(v) => visitor.visit_enum(de::value::StrDeserializer::new(v)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        char str string identifier
    }

    refuse! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_unit deserialize_seq
        deserialize_map
    }

    refuse_compound!();
}
