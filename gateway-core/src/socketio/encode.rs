use std::fmt;
use std::io::Write as _;

use bytes::Bytes;
use serde::Serialize;

use super::binary::{collect_attachments, push_attachments};
use super::payload::HEADROOM;
use super::{Args, PacketKind, Payload};

/// An encoded Socket.IO packet, ready for Engine.IO: the text already starts with the
/// Engine.IO message digit `4`, followed by binary attachments to send after it.
///
/// Encoding happens once per emit; a broadcast shares the same bytes among all targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// `4` + the Socket.IO packet text (UTF-8).
    pub text: Vec<u8>,
    /// Binary attachments, in placeholder order.
    pub attachments: Vec<Bytes>,
}

impl Encoded {
    /// Appends a string as the last argument of an EVENT packet: connection state recovery
    /// sends each stored event's offset this way (the client keeps the last one it saw).
    /// Does nothing to a packet that is not a JSON array (not an event).
    ///
    /// ```
    /// use gateway_core::socketio::Encoder;
    /// let mut p = Encoder::event("/", None, "news", &(1,)).unwrap();
    /// p.push_str_arg("xyz-1");
    /// assert_eq!(p.text, br#"42["news",1,"xyz-1"]"#);
    /// ```
    pub fn push_str_arg(&mut self, arg: &str) {
        if self.text.last() != Some(&b']') {
            return;
        }
        self.text.pop();
        self.text.push(b',');
        crate::json_text::write_string(arg, &mut self.text);
        self.text.push(b']');
    }
}

/// Why an outgoing packet could not be encoded.
#[derive(Debug)]
pub struct EncodeError(serde_json::Error);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot serialize the event payload to JSON: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

impl From<serde_json::Error> for EncodeError {
    fn from(e: serde_json::Error) -> Self {
        Self(e)
    }
}

/// A list of event arguments: tuples (each element one argument), `()` for none, `Vec`s and
/// slices (each element one argument), and received [`Args`] (forwarded as they came,
/// binary included).
pub trait ArgList {
    /// Writes each argument as `,<json>` into `out`.
    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;

    /// About how many bytes [`ArgList::write_args`] writes, when known in advance (the
    /// packet buffer is sized once).
    fn size_hint(&self) -> usize {
        64
    }
}

impl ArgList for () {
    fn write_args(&self, _: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        Ok(())
    }
}

macro_rules! tuple_args {
    ($($name:ident),+) => {
        impl<$($name: Serialize),+> ArgList for ($($name,)+) {
            #[allow(non_snake_case)]
            fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
                let ($($name,)+) = self;
                $(
                    out.push(b',');
                    serde_json::to_writer(&mut *out, $name)?;
                )+
                Ok(())
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);
tuple_args!(A, B, C, D, E, F);

impl<T: Serialize> ArgList for [T] {
    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        for v in self {
            out.push(b',');
            serde_json::to_writer(&mut *out, v)?;
        }
        Ok(())
    }
}

impl<T: Serialize> ArgList for Vec<T> {
    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.as_slice().write_args(out)
    }
}

impl<T: ArgList + ?Sized> ArgList for &T {
    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        (**self).write_args(out)
    }

    fn size_hint(&self) -> usize {
        (**self).size_hint()
    }
}

impl ArgList for Args {
    fn size_hint(&self) -> usize {
        self.raw_items().map(|raw| raw.len() + 1).sum()
    }

    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let offset = push_attachments(self.attachments());
        for raw in self.raw_items() {
            out.push(b',');
            if offset == 0 || self.attachments().is_empty() {
                out.extend_from_slice(raw);
            } else {
                // Placeholders must be renumbered after earlier attachments.
                let mut value: serde_json::Value = serde_json::from_slice(raw)?;
                shift_placeholders(&mut value, offset);
                serde_json::to_writer(&mut *out, &value)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn shift_placeholders(value: &mut serde_json::Value, offset: usize) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                if let Some(n) = map.get("num").and_then(Value::as_u64) {
                    map.insert("num".into(), (n + offset as u64).into());
                    return;
                }
            }
            map.values_mut().for_each(|v| shift_placeholders(v, offset));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shift_placeholders(v, offset)),
        _ => {}
    }
}

/// Builds outgoing packets.
///
/// ```
/// use gateway_core::socketio::Encoder;
/// let p = Encoder::event("/chat", Some(3), "hi", &("there", 1)).unwrap();
/// assert_eq!(&p.text[..], br#"42/chat,3["hi","there",1]"#);
/// let ack = Encoder::ack("/", 3, &(true,)).unwrap();
/// assert_eq!(&ack.text[..], br#"433[true]"#);
/// ```
#[derive(Debug)]
pub struct Encoder;

impl Encoder {
    /// An EVENT (or BINARY_EVENT) packet.
    pub fn event(
        nsp: &str,
        id: Option<u64>,
        event: &str,
        args: &(impl ArgList + ?Sized),
    ) -> Result<Encoded, EncodeError> {
        let hint = event.len() + 2 + args.size_hint();
        Self::build(PacketKind::Event, nsp, id, hint, |out| {
            out.push(b'[');
            serde_json::to_writer(&mut *out, event)?;
            args.write_args(out)
        })
    }

    /// An ACK (or BINARY_ACK) packet answering `id`.
    pub fn ack(nsp: &str, id: u64, args: &(impl ArgList + ?Sized)) -> Result<Encoded, EncodeError> {
        Self::build(PacketKind::Ack, nsp, Some(id), args.size_hint(), |out| {
            let start = out.len();
            args.write_args(out)?;
            if out.len() > start {
                out[start] = b'['; // the first argument's leading comma opens the array
            } else {
                out.push(b'[');
            }
            Ok(())
        })
    }

    /// The acknowledgement of `id` carrying `payload` as its one argument, written around
    /// the payload where it lies (no copy): the packet's text is `buf[start..]`, returned
    /// as `(buf, start)`. Gives the payload back when that is not possible (it has binary
    /// attachments, or the header is longer than the room kept for it); encode it with
    /// [`Encoder::ack`] then.
    ///
    /// ```
    /// use gateway_core::socketio::{Encoder, Payload};
    /// let p = Payload::from_serialize(&"ok").unwrap();
    /// let (buf, start) = Encoder::ack_in_place("/", 12, p).unwrap();
    /// assert_eq!(&buf[start..], br#"4312["ok"]"#);
    /// ```
    pub fn ack_in_place(nsp: &str, id: u64, payload: Payload) -> Result<(Vec<u8>, usize), Payload> {
        if !payload.attachments().is_empty() {
            return Err(payload);
        }
        let mut id_text = [0u8; 20];
        let id_len = {
            let mut w = &mut id_text[..];
            let _ = write!(w, "{id}");
            20 - w.len()
        };
        let nsp_len = if nsp == "/" { 0 } else { nsp.len() + 1 };
        let head_len = 2 + nsp_len + id_len + 1;
        if head_len > HEADROOM {
            return Err(payload);
        }
        let (mut buf, attachments) = payload.into_parts();
        let start = HEADROOM - head_len;
        let mut head = &mut buf[start..HEADROOM];
        let written = (|| {
            head.write_all(b"43")?;
            if nsp_len > 0 {
                head.write_all(nsp.as_bytes())?;
                head.write_all(b",")?;
            }
            head.write_all(&id_text[..id_len])?;
            head.write_all(b"[")
        })();
        if written.is_err() {
            return Err(Payload::from_parts(buf, attachments));
        }
        buf.push(b']');
        Ok((buf, start))
    }

    /// A CONNECT answer carrying the socket id.
    pub fn connect(nsp: &str, sid: &str) -> String {
        Self::connect_with_pid(nsp, sid, None)
    }

    /// A CONNECT answer carrying the socket id and, with connection state recovery, the
    /// private session id the client sends back to recover its session.
    ///
    /// ```
    /// use gateway_core::socketio::Encoder;
    /// assert_eq!(Encoder::connect_with_pid("/", "a", Some("b")), r#"40{"sid":"a","pid":"b"}"#);
    /// ```
    pub fn connect_with_pid(nsp: &str, sid: &str, pid: Option<&str>) -> String {
        let pid_len = pid.map_or(0, |p| p.len() + 8);
        let mut out = header(PacketKind::Connect, 0, nsp, None, 10 + sid.len() + pid_len);
        out.extend_from_slice(b"{\"sid\":");
        crate::json_text::write_string(sid, &mut out);
        if let Some(pid) = pid {
            out.extend_from_slice(b",\"pid\":");
            crate::json_text::write_string(pid, &mut out);
        }
        out.push(b'}');
        // The namespace is a `&str` and the rest is JSON: UTF-8 throughout.
        String::from_utf8(out).unwrap_or_default()
    }

    /// A CONNECT_ERROR with a message and optional data.
    pub fn connect_error(nsp: &str, message: &str, data: Option<&serde_json::Value>) -> Bytes {
        #[derive(Serialize)]
        struct Body<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<&'a serde_json::Value>,
        }
        let mut out = header(PacketKind::ConnectError, 0, nsp, None, 64);
        let _ = serde_json::to_writer(&mut out, &Body { message, data });
        out.into()
    }

    /// A DISCONNECT packet for `nsp`.
    pub fn disconnect(nsp: &str) -> Bytes {
        header(PacketKind::Disconnect, 0, nsp, None, 0).into()
    }

    fn build(
        kind: PacketKind,
        nsp: &str,
        id: Option<u64>,
        body_hint: usize,
        // Writes the array's opening bracket and the arguments.
        body: impl FnOnce(&mut Vec<u8>) -> Result<(), serde_json::Error>,
    ) -> Result<Encoded, EncodeError> {
        let mut out = header(kind, 0, nsp, id, body_hint + 2);
        let head_len = out.len();
        let (res, attachments) = collect_attachments(|| body(&mut out));
        res.map_err(EncodeError)?;
        out.push(b']');
        if !attachments.is_empty() {
            let binary = match kind {
                PacketKind::Ack => PacketKind::BinaryAck,
                _ => PacketKind::BinaryEvent,
            };
            let head = header(binary, attachments.len(), nsp, id, 0);
            out.splice(..head_len, head);
        }
        Ok(Encoded {
            text: out,
            attachments,
        })
    }
}

/// The packet header, in a buffer with room for `body` more bytes.
fn header(
    kind: PacketKind,
    attachments: usize,
    nsp: &str,
    id: Option<u64>,
    body: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + nsp.len() + body);
    out.push(b'4');
    out.push(kind.digit());
    if kind.is_binary() {
        let _ = write!(out, "{attachments}-");
    }
    if nsp != "/" {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::{Binary, RawPacket};

    #[test]
    fn acks_written_in_place_match_the_copying_encoder() {
        use crate::socketio::{Binary, Payload};
        let value = serde_json::json!({"client": 1, "text": "é\"x"});
        for (nsp, id) in [
            ("/", 0),
            ("/", 42),
            ("/chat", u64::MAX),
            ("/a-long-namespace", 7),
        ] {
            let p = Payload::from_serialize(&value).unwrap();
            let copied = Encoder::ack(nsp, id, &p).unwrap();
            let header = copied.text.iter().position(|&b| b == b'[').unwrap() + 1;
            match Encoder::ack_in_place(nsp, id, p) {
                Ok((buf, start)) => assert_eq!(&buf[start..], &copied.text[..]),
                Err(back) => {
                    // Only a header longer than the room kept falls back.
                    assert!(header > HEADROOM, "{nsp} {id}");
                    assert_eq!(back.json(), r#"{"client":1,"text":"é\"x"}"#);
                }
            }
        }
        let long = Encoder::ack_in_place(
            "/a-long-namespace",
            u64::MAX,
            Payload::from_serialize(&1).unwrap(),
        );
        assert!(long.is_err());
        let binary = Payload::from_serialize(&Binary::from(vec![1])).unwrap();
        let back = Encoder::ack_in_place("/", 1, binary).unwrap_err();
        assert_eq!(back.attachments().len(), 1);
    }

    #[test]
    fn control_packets() {
        assert_eq!(Encoder::connect("/", "abc"), r#"40{"sid":"abc"}"#);
        assert_eq!(Encoder::connect("/a", "x"), r#"40/a,{"sid":"x"}"#);
        assert_eq!(&Encoder::disconnect("/")[..], b"41");
        assert_eq!(&Encoder::disconnect("/a")[..], b"41/a,");
        assert_eq!(
            &Encoder::connect_error("/a", "Invalid namespace", None)[..],
            br#"44/a,{"message":"Invalid namespace"}"#
        );
        let data = serde_json::json!({"code": 1});
        assert_eq!(
            &Encoder::connect_error("/", "no", Some(&data))[..],
            br#"44{"message":"no","data":{"code":1}}"#
        );
    }

    #[test]
    fn events_round_trip_through_the_decoder() {
        let p = Encoder::event("/", None, "e", &()).unwrap();
        assert_eq!(&p.text[..], br#"42["e"]"#);
        let p = Encoder::ack("/x", 5, &()).unwrap();
        assert_eq!(&p.text[..], br#"43/x,5[]"#);
        let p = Encoder::event(
            "/n",
            Some(9),
            "e",
            &(1, "two", serde_json::json!({"a":[null]})),
        )
        .unwrap();
        let text = std::str::from_utf8(&p.text[1..]).unwrap();
        let raw = RawPacket::decode(text).unwrap();
        assert_eq!(
            (raw.kind, raw.nsp, raw.id),
            (PacketKind::Event, "/n", Some(9))
        );
        let args = Args::parse_event(raw.data.as_bytes().to_vec().into()).unwrap();
        assert_eq!(args.raw(2), Some(r#"{"a":[null]}"#));
    }

    #[test]
    fn binary_attachments_and_forwarding() {
        let p = Encoder::ack(
            "/",
            1,
            &(Binary::from(vec![1]), vec![Binary::from(vec![2])]),
        )
        .unwrap();
        assert_eq!(
            &p.text[..],
            br#"462-1[{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#
        );
        assert_eq!(
            p.attachments,
            vec![Bytes::from_static(&[1]), Bytes::from_static(&[2])]
        );

        // Forwarding received args after another binary renumbers their placeholders.
        let mut args = Args::parse_event(r#"["e",{"_placeholder":true,"num":0}]"#.into()).unwrap();
        args.set_attachments(vec![Bytes::from_static(b"b")]);
        let p = Encoder::event("/", None, "f", &(Binary::from(vec![9]),)).unwrap();
        assert_eq!(p.attachments.len(), 1);
        let fwd = Encoder::event("/", None, "f", &args).unwrap();
        assert_eq!(&fwd.text[..], br#"451-["f",{"_placeholder":true,"num":0}]"#);
        assert_eq!(fwd.attachments, vec![Bytes::from_static(b"b")]);
    }
}
