//! The bytes of an outgoing text packet.

use std::fmt;

use bytes::Bytes;

/// The UTF-8 text of an outgoing packet (its type digit included, e.g. `42["event"]`).
///
/// A packet for one session owns its buffer (no reference count, no copy on the way to the
/// transport); one queued to many sessions is [shared](Text::into_shared), so each clone
/// is a reference count.
///
/// ```
/// use gateway_runtime::engine::Text;
/// let ping = Text::from_static("2");
/// assert_eq!(ping.as_bytes(), b"2");
/// let hello = Text::from(String::from("4hello")).into_shared();
/// assert_eq!(hello.clone().as_bytes(), b"4hello");
/// assert!(Text::try_from(vec![0xff]).is_err());
/// ```
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Shared(Bytes),
    /// The text is `buf[start..]`: a packet written after some reserved room.
    Owned {
        buf: Vec<u8>,
        start: usize,
    },
}

/// The bytes given for a [`Text`] are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8;

impl fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text packet must be UTF-8")
    }
}

impl std::error::Error for NotUtf8 {}

impl Text {
    /// A text known at compile time.
    pub const fn from_static(text: &'static str) -> Self {
        Self(Repr::Shared(Bytes::from_static(text.as_bytes())))
    }

    /// Bytes the Socket.IO encoder wrote (always UTF-8: JSON and ASCII headers), from
    /// `start` on.
    pub(crate) fn encoded(buf: Vec<u8>, start: usize) -> Self {
        debug_assert!(std::str::from_utf8(&buf[start..]).is_ok());
        Self(Repr::Owned { buf, start })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Shared(b) => b,
            Repr::Owned { buf, start } => &buf[*start..],
        }
    }

    /// The same text with a shared buffer: clones no longer copy it.
    pub fn into_shared(self) -> Self {
        match self.0 {
            Repr::Owned { buf, start } => {
                let mut bytes = Bytes::from(buf);
                bytes::Buf::advance(&mut bytes, start);
                Self(Repr::Shared(bytes))
            }
            shared => Self(shared),
        }
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self(Repr::Owned {
            buf: text.into_bytes(),
            start: 0,
        })
    }
}

impl From<&'static str> for Text {
    fn from(text: &'static str) -> Self {
        Self::from_static(text)
    }
}

impl TryFrom<Bytes> for Text {
    type Error = NotUtf8;

    fn try_from(bytes: Bytes) -> Result<Self, NotUtf8> {
        std::str::from_utf8(&bytes).map_err(|_| NotUtf8)?;
        Ok(Self(Repr::Shared(bytes)))
    }
}

impl TryFrom<Vec<u8>> for Text {
    type Error = NotUtf8;

    fn try_from(buf: Vec<u8>) -> Result<Self, NotUtf8> {
        std::str::from_utf8(&buf).map_err(|_| NotUtf8)?;
        Ok(Self(Repr::Owned { buf, start: 0 }))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}
