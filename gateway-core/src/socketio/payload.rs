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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    json: String,
    attachments: Vec<Bytes>,
}

impl Payload {
    /// Serializes `value` (binary values become attachments).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        let (json, attachments) = collect_attachments(|| serde_json::to_string(value));
        Ok(Self {
            json: json?,
            attachments,
        })
    }

    /// The JSON text (binary values appear as placeholders).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The binary attachments the placeholders refer to.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Whether the value is JSON `null` (`()` and `None` serialize to it).
    pub fn is_null(&self) -> bool {
        self.json == "null"
    }

    /// The value as an [`AnyValue`] (to inspect or change it).
    pub fn to_any(&self) -> AnyValue {
        let Ok(mut args) = Args::parse_ack(format!("[{}]", self.json).into_bytes().into()) else {
            return AnyValue::Null;
        };
        args.set_attachments(self.attachments.clone());
        args.get(0).unwrap_or_default()
    }
}

impl ArgList for Payload {
    fn size_hint(&self) -> usize {
        self.json.len() + 1
    }

    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.push(b',');
        let offset = push_attachments(&self.attachments);
        if offset == 0 || self.attachments.is_empty() {
            out.extend_from_slice(self.json.as_bytes());
            return Ok(());
        }
        // Placeholders must be renumbered after earlier attachments.
        let mut value: serde_json::Value = serde_json::from_str(&self.json)?;
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
