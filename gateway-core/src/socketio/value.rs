use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::{AnyMap, Binary};

/// Any payload value, binary included: what a JavaScript client can send as an event
/// argument. Use it where the shape is not known in advance; received binary
/// placeholders become [`AnyValue::Binary`] and are sent back as attachments.
///
/// ```
/// use gateway_core::socketio::{AnyValue, Args};
/// let mut args = Args::parse_event(r#"["up",{"file":{"_placeholder":true,"num":0}}]"#.into()).unwrap();
/// args.set_attachments(vec![bytes::Bytes::from_static(b"\x01\x02")]);
/// let value: AnyValue = args.get(0).unwrap();
/// assert_eq!(value.get("file"), Some(&AnyValue::Binary(bytes::Bytes::from_static(b"\x01\x02"))));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AnyValue {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// Binary data (a `Buffer`/`ArrayBuffer` on the JavaScript side).
    Binary(Bytes),
    /// An array.
    Array(Vec<AnyValue>),
    /// An object, its keys in the order they were written.
    Object(AnyMap),
}

impl AnyValue {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        match self {
            AnyValue::Object(map) => map.get(key),
            _ => None,
        }
    }
}

impl AnyValue {
    /// Converts any serializable value, keeping [`Binary`] values as binary.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        let (json, attachments) =
            super::binary::collect_attachments(|| serde_json::to_value(value));
        let json = json?;
        if attachments.is_empty() {
            return Ok(json.into());
        }
        Ok(Self::resolve(json, &attachments))
    }

    fn resolve(value: serde_json::Value, attachments: &[Bytes]) -> Self {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                if map.len() == 2 && map.get("_placeholder") == Some(&Value::Bool(true)) {
                    if let Some(b) = map
                        .get("num")
                        .and_then(Value::as_u64)
                        .and_then(|n| attachments.get(n as usize))
                    {
                        return AnyValue::Binary(b.clone());
                    }
                }
                AnyValue::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, Self::resolve(v, attachments)))
                        .collect(),
                )
            }
            Value::Array(items) => AnyValue::Array(
                items
                    .into_iter()
                    .map(|v| Self::resolve(v, attachments))
                    .collect(),
            ),
            other => other.into(),
        }
    }
}

impl From<serde_json::Value> for AnyValue {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => AnyValue::Null,
            Value::Bool(b) => AnyValue::Bool(b),
            Value::Number(n) => AnyValue::Number(n),
            Value::String(s) => AnyValue::String(s),
            Value::Array(a) => AnyValue::Array(a.into_iter().map(Into::into).collect()),
            Value::Object(o) => {
                AnyValue::Object(o.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

impl Serialize for AnyValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AnyValue::Null => serializer.serialize_unit(),
            AnyValue::Bool(b) => serializer.serialize_bool(*b),
            AnyValue::Number(n) => n.serialize(serializer),
            AnyValue::String(s) => serializer.serialize_str(s),
            AnyValue::Binary(b) => Binary(b.clone()).serialize(serializer),
            AnyValue::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            AnyValue::Object(map) => map.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue::Null)
    }
    fn visit_none<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AnyValue, D::Error> {
        AnyValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<AnyValue, E> {
        Ok(AnyValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<AnyValue, E> {
        Ok(AnyValue::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<AnyValue, E> {
        Ok(AnyValue::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<AnyValue, E> {
        Ok(serde_json::Number::from_f64(v).map_or(AnyValue::Null, AnyValue::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<AnyValue, E> {
        Ok(AnyValue::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<AnyValue, E> {
        Ok(AnyValue::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<AnyValue, E> {
        Ok(AnyValue::Binary(Bytes::copy_from_slice(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(AnyValue::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<AnyValue, A::Error> {
        let mut map = AnyMap::new();
        while let Some((k, v)) = access.next_entry::<String, AnyValue>()? {
            map.insert(k, v);
        }
        AnyValue::from_object(map, super::binary::attachment)
            .map_err(|InvalidPlaceholder| de::Error::custom("invalid placeholder"))
    }
}

/// A binary placeholder whose `num` is not an attachment index.
pub(crate) struct InvalidPlaceholder;

impl AnyValue {
    /// An object just read: a binary placeholder (`{"_placeholder":true,"num":n}`) whose
    /// attachment `n` exists becomes that attachment; without one (outside a binary packet)
    /// it stays a plain object, as socket.io reads it.
    pub(crate) fn from_object(
        map: AnyMap,
        attachment: impl FnOnce(usize) -> Option<Bytes>,
    ) -> Result<AnyValue, InvalidPlaceholder> {
        if map.len() == 2 && map.get("_placeholder") == Some(&AnyValue::Bool(true)) {
            if let Some(AnyValue::Number(n)) = map.get("num") {
                let num = n.as_u64().ok_or(InvalidPlaceholder)?;
                if let Some(bytes) = usize::try_from(num).ok().and_then(attachment) {
                    return Ok(AnyValue::Binary(bytes));
                }
            }
        }
        Ok(AnyValue::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::Encoder;

    #[test]
    fn from_serialize_keeps_binary() {
        #[derive(Serialize)]
        struct S {
            name: &'static str,
            data: Binary,
        }
        let v = AnyValue::from_serialize(&S {
            name: "x",
            data: Binary::from(vec![1, 2]),
        })
        .unwrap();
        assert_eq!(
            v.get("data"),
            Some(&AnyValue::Binary(Bytes::from_static(&[1, 2])))
        );
        let p = Encoder::event("/", None, "e", &(v,)).unwrap();
        assert_eq!(
            &p.text[..],
            br#"451-["e",{"name":"x","data":{"_placeholder":true,"num":0}}]"#
        );
        assert_eq!(AnyValue::from_serialize(&()).unwrap(), AnyValue::Null);
        assert_eq!(
            AnyValue::from_serialize(&Option::<u8>::None).unwrap(),
            AnyValue::Null
        );
    }
}
