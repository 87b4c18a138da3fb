use bytes::Bytes;
use serde::Serialize;

use super::binary::{collect_attachments, push_attachments};
use super::{AnyValue, ArgList, Args};

/// One value already serialized to JSON, with its binary attachments: what a handler's
/// return value becomes, written into the acknowledgement without another pass.
///
/// ```
/// use gateway_core::socketio::{Encoder, Payload};
/// let p = Payload::from_serialize(&serde_json::json!({"ok": true})).unwrap();
/// assert_eq!(p.json(), r#"{"ok":true}"#);
/// let ack = Encoder::ack("/", 1, &p).unwrap();
/// assert_eq!(&ack.text[..], br#"431[{"ok":true}]"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Payload {
    /// [`HEADROOM`] reserved bytes, then the JSON.
    buf: Vec<u8>,
    attachments: Vec<Bytes>,
}

/// Room kept in front of the JSON for an acknowledgement's header (`43<id>[`), so that
/// the packet can be written around the value where it lies
/// ([`Encoder::ack_in_place`](super::Encoder::ack_in_place)).
pub(crate) const HEADROOM: usize = 24;

impl Payload {
    /// Serializes `value` (binary values become attachments).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        let mut buf = Self::headroom();
        let (written, attachments) = collect_attachments(|| serde_json::to_writer(&mut buf, value));
        written?;
        Ok(Self { buf, attachments })
    }

    /// Writes an [`AnyValue`] (binary values become attachments): the same payload as
    /// `from_serialize`, written without serde's serializer, and infallible.
    ///
    /// ```
    /// use gateway_core::socketio::{AnyValue, Payload};
    /// let value = AnyValue::String("hé\"llo".into());
    /// assert_eq!(Payload::from_any(&value), Payload::from_serialize(&value).unwrap());
    /// ```
    pub fn from_any(value: &AnyValue) -> Self {
        let mut buf = Self::headroom();
        let mut attachments = Vec::new();
        super::value_json::write(value, &mut buf, &mut attachments);
        Self { buf, attachments }
    }

    /// An empty buffer with the reserved room in front, and room for a small value.
    fn headroom() -> Vec<u8> {
        let mut buf = Vec::with_capacity(128);
        buf.resize(HEADROOM, b' ');
        buf
    }

    /// The JSON text (binary values appear as placeholders).
    pub fn json(&self) -> &str {
        // Always UTF-8: serde_json or the direct writer wrote it.
        std::str::from_utf8(self.json_bytes()).unwrap_or("null")
    }

    fn json_bytes(&self) -> &[u8] {
        &self.buf[HEADROOM..]
    }

    /// The binary attachments the placeholders refer to.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Whether the value is JSON `null` (`()` and `None` serialize to it).
    pub fn is_null(&self) -> bool {
        self.json_bytes() == b"null"
    }

    /// The value as an [`AnyValue`] (to inspect or change it).
    pub fn to_any(&self) -> AnyValue {
        let mut array = Vec::with_capacity(self.json_bytes().len() + 2);
        array.push(b'[');
        array.extend_from_slice(self.json_bytes());
        array.push(b']');
        let Ok(mut args) = Args::parse_ack(array.into()) else {
            return AnyValue::Null;
        };
        args.set_attachments(self.attachments.clone());
        args.get_any(0).unwrap_or_default()
    }

    /// The buffer (with its reserved room) and the attachments.
    pub(crate) fn into_parts(self) -> (Vec<u8>, Vec<Bytes>) {
        (self.buf, self.attachments)
    }

    pub(crate) fn from_parts(buf: Vec<u8>, attachments: Vec<Bytes>) -> Self {
        Self { buf, attachments }
    }
}

/// A payload holding a JSON array (or `null`), written as one argument per element (none
/// for `null` and `[]`): several arguments serialized at once.
///
/// ```
/// use gateway_core::socketio::{Encoder, Payload, Spread};
/// let p = Payload::from_serialize(&(1, "a")).unwrap();
/// assert_eq!(&Encoder::ack("/", 2, &Spread(&p)).unwrap().text[..], br#"432[1,"a"]"#);
/// let none = Payload::from_serialize(&()).unwrap();
/// assert_eq!(&Encoder::ack("/", 2, &Spread(&none)).unwrap().text[..], b"432[]");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Spread<'a>(pub &'a Payload);

impl ArgList for Spread<'_> {
    fn size_hint(&self) -> usize {
        self.0.json_bytes().len()
    }

    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let payload = self.0;
        let json = payload.json_bytes();
        if json == b"null" {
            return Ok(());
        }
        let offset = push_attachments(&payload.attachments);
        if offset == 0 || payload.attachments.is_empty() {
            // serde_json's compact output: the elements are what lies between the brackets.
            if let Some(inner) = json.strip_prefix(b"[").and_then(|j| j.strip_suffix(b"]")) {
                if !inner.is_empty() {
                    out.push(b',');
                    out.extend_from_slice(inner);
                }
                return Ok(());
            }
            out.push(b',');
            out.extend_from_slice(json);
            return Ok(());
        }
        let mut value: serde_json::Value = serde_json::from_slice(json)?;
        super::encode::shift_placeholders(&mut value, offset);
        match value {
            serde_json::Value::Array(items) => {
                for item in &items {
                    out.push(b',');
                    serde_json::to_writer(&mut *out, item)?;
                }
                Ok(())
            }
            other => {
                out.push(b',');
                serde_json::to_writer(&mut *out, &other)
            }
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("json", &self.json())
            .field("attachments", &self.attachments.len())
            .finish()
    }
}

impl ArgList for Payload {
    fn size_hint(&self) -> usize {
        self.json_bytes().len() + 1
    }

    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.push(b',');
        let offset = push_attachments(&self.attachments);
        if offset == 0 || self.attachments.is_empty() {
            out.extend_from_slice(self.json_bytes());
            return Ok(());
        }
        // Placeholders must be renumbered after earlier attachments.
        let mut value: serde_json::Value = serde_json::from_slice(self.json_bytes())?;
        super::encode::shift_placeholders(&mut value, offset);
        serde_json::to_writer(&mut *out, &value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::{Binary, Encoder};

    #[test]
    fn payloads_keep_binary_and_null() {
        let p = Payload::from_serialize(&(1, Binary::from(vec![7]))).unwrap();
        assert_eq!(p.json(), r#"[1,{"_placeholder":true,"num":0}]"#);
        assert_eq!(p.attachments(), &[Bytes::from_static(&[7])]);
        let ack = Encoder::ack("/", 3, &p).unwrap();
        assert_eq!(
            &ack.text[..],
            br#"461-3[[1,{"_placeholder":true,"num":0}]]"#
        );
        assert_eq!(ack.attachments.len(), 1);
        assert!(Payload::from_serialize(&()).unwrap().is_null());
        assert!(Payload::from_serialize(&Option::<u8>::None)
            .unwrap()
            .is_null());
        assert!(!Payload::from_serialize(&0).unwrap().is_null());
        // After another attachment, placeholders are renumbered.
        let mut out = Vec::new();
        let (res, all) = collect_attachments(|| {
            push_attachments(&[Bytes::from_static(&[1])]);
            p.write_args(&mut out)
        });
        res.unwrap();
        assert_eq!(out, br#",[1,{"_placeholder":true,"num":1}]"#.to_vec());
        assert_eq!(all.len(), 2);
        assert_eq!(
            p.to_any(),
            AnyValue::Array(vec![
                AnyValue::Number(1.into()),
                AnyValue::Binary(Bytes::from_static(&[7]))
            ])
        );
    }
}
