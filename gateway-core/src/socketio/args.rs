use std::ops::Range;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::binary;
use super::AnyValue;
use super::ParseError;

const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The arguments of a received event or acknowledgement, kept as JSON text.
///
/// Parsing only finds where each argument starts and ends; nothing is copied. Each argument
/// can then be deserialized straight into the type a handler wants with [`Args::get`], or
/// forwarded untouched (re-emitting `Args` writes the original JSON and attachments).
///
/// ```
/// use gateway_core::socketio::Args;
/// let args = Args::parse_event(r#"["move",{"x":1},"fast"]"#.into()).unwrap();
/// assert_eq!(args.event(), "move");
/// assert_eq!(args.len(), 2);
/// #[derive(serde::Deserialize)] struct Pos { x: i32 }
/// assert_eq!(args.get::<Pos>(0).unwrap().x, 1);
/// assert_eq!(args.get::<String>(1).unwrap(), "fast");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Args {
    buf: Bytes,
    event: Option<EventName>,
    items: Spans,
    attachments: Vec<Bytes>,
}

/// Where each argument lies in the buffer (start, end): inline for up to four arguments,
/// so parsing and cloning the usual event allocate nothing; on the heap beyond.
#[derive(Debug, Clone, Default)]
struct Spans {
    inline: [(u32, u32); 4],
    inline_len: u8,
    heap: Vec<(u32, u32)>,
}

impl Spans {
    fn push(&mut self, span: (u32, u32)) {
        if !self.heap.is_empty() {
            self.heap.push(span);
        } else if usize::from(self.inline_len) < self.inline.len() {
            self.inline[usize::from(self.inline_len)] = span;
            self.inline_len += 1;
        } else {
            self.heap.reserve(self.inline.len() * 2);
            self.heap.extend_from_slice(&self.inline);
            self.heap.push(span);
        }
    }

    fn as_slice(&self) -> &[(u32, u32)] {
        if self.heap.is_empty() {
            &self.inline[..usize::from(self.inline_len)]
        } else {
            &self.heap
        }
    }

    fn remove_first(&mut self) -> Option<(u32, u32)> {
        if !self.heap.is_empty() {
            return Some(self.heap.remove(0));
        }
        if self.inline_len == 0 {
            return None;
        }
        let first = self.inline[0];
        self.inline.copy_within(1.., 0);
        self.inline_len -= 1;
        Some(first)
    }
}

#[derive(Debug, Clone)]
enum EventName {
    Slice(Range<u32>),
    Owned(String),
}

impl Args {
    /// Splits the JSON array of an EVENT packet: the first element is the event name.
    pub fn parse_event(buf: Bytes) -> Result<Self, ParseError> {
        let mut args = Self::parse_array(buf)?;
        let Some((start, end)) = args.items.remove_first() else {
            return Err(ParseError::InvalidPayload);
        };
        let raw = &args.buf[start as usize..end as usize];
        let name = match raw.first() {
            Some(b'"') if !raw.contains(&b'\\') => EventName::Slice(start + 1..end - 1),
            Some(b'"') => EventName::Owned(
                serde_json::from_slice(raw).map_err(|_| ParseError::InvalidPayload)?,
            ),
            Some(b'0'..=b'9') | Some(b'-') => {
                EventName::Owned(String::from_utf8_lossy(raw).into_owned())
            }
            _ => return Err(ParseError::InvalidPayload),
        };
        let reserved = match &name {
            EventName::Slice(r) => {
                let bytes = &args.buf[r.start as usize..r.end as usize];
                RESERVED.iter().any(|n| n.as_bytes() == bytes)
            }
            EventName::Owned(s) => RESERVED.contains(&s.as_str()),
        };
        if reserved {
            return Err(ParseError::ReservedEvent);
        }
        args.event = Some(name);
        Ok(args)
    }

    /// Splits the JSON array of an ACK packet.
    pub fn parse_ack(buf: Bytes) -> Result<Self, ParseError> {
        Self::parse_array(buf)
    }

    fn parse_array(buf: Bytes) -> Result<Self, ParseError> {
        if buf.len() > u32::MAX as usize {
            return Err(ParseError::InvalidPayload);
        }
        let mut items = Spans::default();
        super::scan::array_elements(&buf, |start, end| items.push((start as u32, end as u32)))
            .map_err(|_| ParseError::InvalidPayload)?;
        Ok(Args {
            buf,
            event: None,
            items,
            attachments: Vec::new(),
        })
    }

    /// Builds arguments from JSON values (used by tests and by code that makes packets).
    pub fn from_values(values: &[serde_json::Value]) -> Self {
        let json = serde_json::to_vec(values).unwrap_or_else(|_| b"[]".to_vec());
        Self::parse_array(json.into()).unwrap_or_default()
    }

    /// The event name (empty for acknowledgements).
    pub fn event(&self) -> &str {
        match &self.event {
            Some(EventName::Slice(r)) => {
                std::str::from_utf8(&self.buf[r.start as usize..r.end as usize]).unwrap_or("")
            }
            Some(EventName::Owned(s)) => s,
            None => "",
        }
    }

    /// Number of arguments (the event name excluded).
    pub fn len(&self) -> usize {
        self.items.as_slice().len()
    }

    /// Whether there is no argument.
    pub fn is_empty(&self) -> bool {
        self.items.as_slice().is_empty()
    }

    /// The JSON text of argument `i`.
    pub fn raw(&self, i: usize) -> Option<&str> {
        let &(start, end) = self.items.as_slice().get(i)?;
        std::str::from_utf8(&self.buf[start as usize..end as usize]).ok()
    }

    /// Deserializes argument `i` (a missing argument reads as JSON `null`). Binary
    /// placeholders resolve to the packet's attachments through [`super::Binary`]. For an
    /// [`AnyValue`], [`get_any`](Self::get_any) builds the same value faster.
    pub fn get<T: DeserializeOwned>(&self, i: usize) -> Result<T, serde_json::Error> {
        let raw = self.raw(i).unwrap_or("null");
        binary::with_decode_attachments(&self.attachments, || serde_json::from_str(raw))
    }

    /// Argument `i` as an [`AnyValue`] (a missing argument reads as `Null`): the value
    /// `get::<AnyValue>(i)` gives, read straight from the JSON text without serde's visitor
    /// (floats correctly rounded by both: this crate enables serde_json's `float_roundtrip`).
    ///
    /// ```
    /// use gateway_core::socketio::{AnyValue, Args};
    /// let args = Args::parse_event(r#"["move",{"x":1}]"#.into()).unwrap();
    /// let value = args.get_any(0).unwrap();
    /// assert_eq!(value.get("x"), Some(&AnyValue::Number(1.into())));
    /// assert_eq!(value, args.get::<AnyValue>(0).unwrap());
    /// assert_eq!(args.get_any(1).unwrap(), AnyValue::Null);
    /// ```
    pub fn get_any(&self, i: usize) -> Result<AnyValue, serde_json::Error> {
        self.any_at(i, 0)
    }

    /// All arguments as one [`AnyValue::Array`]: the value `get_all::<AnyValue>()` gives
    /// (floats as in [`get_any`](Self::get_any)).
    pub fn get_all_any(&self) -> Result<AnyValue, serde_json::Error> {
        // One level deeper: inside the array of them.
        (0..self.len())
            .map(|i| self.any_at(i, 1))
            .collect::<Result<_, _>>()
            .map(AnyValue::Array)
    }

    /// Argument `i` read directly, as a value `depth` levels deep in its document.
    fn any_at(&self, i: usize, depth: u32) -> Result<AnyValue, serde_json::Error> {
        match self.raw(i) {
            Some(raw) => super::value_json::parse(raw, &self.attachments, depth),
            None => Ok(AnyValue::Null),
        }
    }

    /// Deserializes all arguments as one JSON array into `T` (a tuple or a `Vec`).
    pub fn get_all<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let mut json = Vec::with_capacity(self.buf.len());
        json.push(b'[');
        for (n, raw) in self.raw_items().enumerate() {
            if n > 0 {
                json.push(b',');
            }
            json.extend_from_slice(raw);
        }
        json.push(b']');
        binary::with_decode_attachments(&self.attachments, || serde_json::from_slice(&json))
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Attaches the binary parts received after a binary packet.
    pub fn set_attachments(&mut self, attachments: Vec<Bytes>) {
        self.attachments = attachments;
    }

    /// Whether every binary placeholder in the arguments names one of `count` attachments
    /// (and each attachment is named).
    pub fn placeholders_within(&self, count: usize) -> bool {
        fn walk(v: &serde_json::Value, count: usize, seen: &mut Vec<bool>) -> bool {
            use serde_json::Value;
            match v {
                Value::Object(map) => {
                    if map.get("_placeholder") == Some(&Value::Bool(true)) {
                        return match map.get("num").and_then(Value::as_u64) {
                            Some(n) if (n as usize) < count => {
                                seen[n as usize] = true;
                                true
                            }
                            _ => false,
                        };
                    }
                    map.values().all(|v| walk(v, count, seen))
                }
                Value::Array(items) => items.iter().all(|v| walk(v, count, seen)),
                _ => true,
            }
        }
        let mut seen = vec![false; count];
        for raw in self.raw_items() {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(raw) else {
                return false;
            };
            if !walk(&value, count, &mut seen) {
                return false;
            }
        }
        seen.into_iter().all(|s| s)
    }

    pub(crate) fn raw_items(&self) -> impl Iterator<Item = &[u8]> {
        self.items
            .as_slice()
            .iter()
            .map(|&(start, end)| &self.buf[start as usize..end as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::Binary;

    #[test]
    fn argument_counts_around_the_inline_capacity() {
        for n in 0..10 {
            let list: Vec<String> = (0..n).map(|i| format!("[{i}]")).collect();
            let json = format!(r#"["e"{}{}]"#, if n > 0 { "," } else { "" }, list.join(","));
            let a = Args::parse_event(json.into()).unwrap();
            assert_eq!(a.event(), "e");
            assert_eq!(a.len(), n);
            for i in 0..n {
                assert_eq!(a.raw(i), Some(format!("[{i}]").as_str()));
            }
            let b = a.clone();
            assert_eq!(b.raw_items().count(), n);
        }
        assert!(Args::parse_event("[] trailing".into()).is_err());
        assert!(Args::parse_event(r#"{"a":1}"#.into()).is_err());
    }

    #[test]
    fn event_names_and_arguments() {
        let a = Args::parse_event(r#"[ "a" , 1, [2, 3] , {"k":"v"}, null, "s"]"#.into()).unwrap();
        assert_eq!(a.event(), "a");
        assert_eq!(a.len(), 5);
        assert_eq!(a.raw(1), Some("[2, 3]"));
        assert_eq!(a.get::<Vec<u8>>(1).unwrap(), vec![2, 3]);
        assert_eq!(a.get::<Option<u8>>(3).unwrap(), None);
        assert_eq!(a.get::<Option<u8>>(9).unwrap(), None);
        let all: (u8, Vec<u8>) = Args::parse_event(r#"["x",1,[2]]"#.into())
            .unwrap()
            .get_all()
            .unwrap();
        assert_eq!(all, (1, vec![2]));
        let esc = Args::parse_event(r#"["a\"b\u00e9"]"#.into()).unwrap();
        assert_eq!(esc.event(), "a\"bé");
        let num = Args::parse_event(r#"[12,"x"]"#.into()).unwrap();
        assert_eq!(num.event(), "12");
    }

    #[test]
    fn bad_events_are_errors() {
        for bad in ["[]", "{}", r#"[{"a":1}]"#, "[null]", "[", r#"["a",]"#] {
            assert!(Args::parse_event(bad.into()).is_err(), "{bad}");
        }
        for reserved in RESERVED {
            let json = format!("[\"{reserved}\"]");
            assert_eq!(
                Args::parse_event(json.into()).unwrap_err(),
                ParseError::ReservedEvent
            );
        }
    }

    #[test]
    fn placeholder_counts() {
        let a = Args::parse_event(
            r#"["e",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#.into(),
        )
        .unwrap();
        assert!(a.placeholders_within(2));
        assert!(!a.placeholders_within(1), "num 1 is out of range");
        assert!(!a.placeholders_within(3), "attachment 2 is never used");
        let a = Args::parse_event(r#"["e",{"_placeholder":true,"num":"x"}]"#.into()).unwrap();
        assert!(!a.placeholders_within(1));
    }

    #[test]
    fn binary_placeholders_resolve() {
        let mut a = Args::parse_event(
            r#"["up",{"file":{"_placeholder":true,"num":1},"x":[{"_placeholder":true,"num":0}]}]"#
                .into(),
        )
        .unwrap();
        a.set_attachments(vec![
            Bytes::from_static(b"zero"),
            Bytes::from_static(b"one"),
        ]);
        #[derive(serde::Deserialize)]
        struct Up {
            file: Binary,
            x: Vec<Binary>,
        }
        let up: Up = a.get(0).unwrap();
        assert_eq!(&up.file[..], b"one");
        assert_eq!(&up.x[0][..], b"zero");
        let missing: Result<Binary, _> =
            Args::parse_event(r#"["up",{"_placeholder":true,"num":5}]"#.into())
                .unwrap()
                .get(0);
        assert!(missing.is_err());
    }
}
