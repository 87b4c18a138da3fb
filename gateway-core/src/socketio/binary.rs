use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

thread_local! {
    static ENCODE: RefCell<Option<Vec<Bytes>>> = const { RefCell::new(None) };
    static DECODE: RefCell<Vec<Bytes>> = const { RefCell::new(Vec::new()) };
}

/// Binary data inside an event payload, sent as a Socket.IO binary attachment.
///
/// Put it anywhere in a value you emit (a field, a vector element…): the encoder writes a
/// placeholder in the JSON and sends the bytes as a binary message, which the JavaScript
/// client turns back into a `Buffer`/`ArrayBuffer`. Received binary values deserialize into
/// it the same way.
///
/// ```
/// use gateway_core::socketio::{Binary, Encoder};
/// #[derive(serde::Serialize)]
/// struct Avatar { name: &'static str, image: Binary }
/// let avatar = Avatar { name: "me", image: Binary::from(vec![1, 2, 3]) };
/// let packet = Encoder::event("/", None, "avatar", &(avatar,)).unwrap();
/// assert_eq!(packet.attachments.len(), 1);
/// assert!(packet.text.starts_with(b"451-[\"avatar\""));
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Binary(pub Bytes);

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binary({} bytes)", self.0.len())
    }
}

impl Deref for Binary {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Binary {
    fn from(v: Vec<u8>) -> Self {
        Binary(v.into())
    }
}

impl From<Bytes> for Binary {
    fn from(b: Bytes) -> Self {
        Binary(b)
    }
}

impl From<&'static [u8]> for Binary {
    fn from(b: &'static [u8]) -> Self {
        Binary(Bytes::from_static(b))
    }
}

/// Runs `f` with binary values collected as attachments; returns them with `f`'s result.
pub(crate) fn collect_attachments<R>(f: impl FnOnce() -> R) -> (R, Vec<Bytes>) {
    let previous = ENCODE.with(|c| c.borrow_mut().replace(Vec::new()));
    let out = f();
    let collected = ENCODE.with(|c| std::mem::replace(&mut *c.borrow_mut(), previous));
    (out, collected.unwrap_or_default())
}

/// Appends attachments during a [`collect_attachments`] run; returns the index of the first.
pub(crate) fn push_attachments(parts: &[Bytes]) -> usize {
    ENCODE.with(|c| match c.borrow_mut().as_mut() {
        Some(v) => {
            let first = v.len();
            v.extend_from_slice(parts);
            first
        }
        None => 0,
    })
}

/// Runs `f` with `attachments` available to [`Binary`]'s `Deserialize`.
pub(crate) fn with_decode_attachments<R>(attachments: &[Bytes], f: impl FnOnce() -> R) -> R {
    if attachments.is_empty() {
        return f();
    }
    /// Restores the previous attachments even if `f` panics, so they never leak into an
    /// unrelated packet decoded later on this thread.
    struct Restore(Vec<Bytes>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = std::mem::take(&mut self.0);
            DECODE.with(|d| *d.borrow_mut() = previous);
        }
    }
    let previous = DECODE.with(|d| std::mem::replace(&mut *d.borrow_mut(), attachments.to_vec()));
    let _restore = Restore(previous);
    f()
}

/// Attachment `num` of the packet being deserialized.
pub(crate) fn attachment(num: usize) -> Option<Bytes> {
    DECODE.with(|d| d.borrow().get(num).cloned())
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let num = ENCODE.with(|c| {
            c.borrow_mut().as_mut().map(|v| {
                v.push(self.0.clone());
                v.len() - 1
            })
        });
        match num {
            Some(num) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("_placeholder", &true)?;
                map.serialize_entry("num", &num)?;
                map.end()
            }
            None => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BinaryVisitor)
    }
}

struct BinaryVisitor;

impl<'de> Visitor<'de> for BinaryVisitor {
    type Value = Binary;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("binary data (a Buffer, ArrayBuffer or typed array)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Binary, A::Error> {
        let mut num = None;
        let mut placeholder = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "_placeholder" => placeholder = map.next_value()?,
                "num" => num = Some(map.next_value::<usize>()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let num = num
            .filter(|_| placeholder)
            .ok_or_else(|| de::Error::custom("expected a binary placeholder"))?;
        DECODE
            .with(|d| d.borrow().get(num).cloned())
            .map(Binary)
            .ok_or_else(|| de::Error::custom(format!("binary attachment {num} is missing")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Binary, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(Binary(out.into()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Binary, E> {
        Ok(Binary(Bytes::copy_from_slice(v)))
    }
}
