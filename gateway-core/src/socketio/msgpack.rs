//! The MessagePack form of Socket.IO packets, wire-compatible with `socket.io-msgpack-parser`
//! (the official client's `parser` option): each packet is one binary message holding a
//! map `{type, nsp, data?, id?}`, binary values are MessagePack `bin` in place (no
//! attachments), and there are no BINARY_EVENT / BINARY_ACK types.
//!
//! The rest of the server works on the text form (JSON with binary placeholders and
//! attachments), so this module converts both ways: [`decode`] turns a received message
//! into a header and JSON data with placeholders, [`encode`] turns an [`Encoded`] packet
//! into one message.
//!
//! ```
//! use gateway_core::socketio::{msgpack, Encoder, PacketKind};
//! let packet = Encoder::event("/chat", Some(3), "hi", &(1, "a")).unwrap();
//! let bytes = msgpack::encode(&packet).unwrap();
//! let back = msgpack::decode(&bytes.into(), 1 << 20).unwrap();
//! assert_eq!((back.kind, back.nsp.as_str(), back.id), (PacketKind::Event, "/chat", Some(3)));
//! assert_eq!(back.data.as_deref(), Some(&br#"["hi",1,"a"]"#[..]));
//! ```

use std::fmt;

use bytes::Bytes;
use serde_json::Value;

use super::{Encoded, PacketKind, RawPacket, MAX_ATTACHMENTS};

/// How notepack writes `undefined`: fixext 1 of type 0.
const UNDEFINED: [u8; 3] = [0xd4, 0x00, 0x00];

/// Deepest nesting accepted in a received packet (as for JSON packets).
const MAX_DEPTH: usize = 128;

/// A received packet in the text form: what [`RawPacket`] and the attachments give for a
/// JSON packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedPacket {
    /// The packet type; EVENT and ACK become BINARY_EVENT / BINARY_ACK when `data` holds
    /// binary values (then in `attachments`).
    pub kind: PacketKind,
    /// The namespace.
    pub nsp: String,
    /// The ack id.
    pub id: Option<u64>,
    /// The data as JSON text, binary values replaced by placeholders; `None` when absent.
    pub data: Option<Vec<u8>>,
    /// The binary values, in placeholder order.
    pub attachments: Vec<Bytes>,
}

/// Why a message is not a Socket.IO packet in MessagePack form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgpackError(&'static str);

impl fmt::Display for MsgpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid MessagePack packet: {}", self.0)
    }
}

impl std::error::Error for MsgpackError {}

fn err<T>(why: &'static str) -> Result<T, MsgpackError> {
    Err(MsgpackError(why))
}

/// Decodes a received message. The JSON it gives may hold at most `max_json` bytes (its
/// placeholders and escapes can make it larger than the message).
pub fn decode(message: &Bytes, max_json: usize) -> Result<DecodedPacket, MsgpackError> {
    let mut r = Reader {
        buf: message,
        at: 0,
        max_json,
        attachments: Vec::new(),
    };
    let entries = match r.byte()? {
        b @ 0x80..=0x8f => usize::from(b & 0x0f),
        0xde => r.be(2)? as usize,
        0xdf => r.be(4)? as usize,
        _ => return err("a packet is a map"),
    };
    let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
    for _ in 0..entries {
        let key = r.str()?;
        match key {
            "type" => kind = Some(r.int()?),
            "nsp" => nsp = Some(r.str()?.to_owned()),
            "id" => {
                id = match r.peek()? {
                    0xc0 => {
                        r.at += 1;
                        None
                    }
                    _ => Some(u64::try_from(r.int()?).map_err(|_| MsgpackError("id"))?),
                }
            }
            "data" if message.get(r.at..r.at + 3) == Some(&UNDEFINED[..]) => {
                r.at += 3; // `data: undefined`: no data
            }
            "data" => {
                let mut json = Vec::new();
                r.value(&mut json, 0)?;
                data = Some(json);
            }
            _ => {
                // Other keys (the client's `options`) are read and dropped.
                r.value(&mut Vec::new(), 0)?;
            }
        }
    }
    if r.at != message.len() {
        return err("trailing bytes");
    }
    if data.as_ref().is_some_and(|d| d.len() > max_json) {
        return err("too large once converted");
    }
    let nsp = nsp.ok_or(MsgpackError("no namespace"))?;
    let binary = !r.attachments.is_empty();
    let kind = match (kind, binary) {
        (Some(0), false) => PacketKind::Connect,
        (Some(1), false) => PacketKind::Disconnect,
        (Some(2), false) => PacketKind::Event,
        (Some(2), true) => PacketKind::BinaryEvent,
        (Some(3), false) => PacketKind::Ack,
        (Some(3), true) => PacketKind::BinaryAck,
        (Some(4), false) => PacketKind::ConnectError,
        _ => return err("packet type"),
    };
    let shape_ok = match kind {
        PacketKind::Connect => match &data {
            None => true,
            Some(d) => d.first() == Some(&b'{'),
        },
        PacketKind::Disconnect => data.is_none(),
        PacketKind::ConnectError => data.is_some(),
        _ => data.as_ref().is_some_and(|d| d.first() == Some(&b'[')),
    };
    if !shape_ok {
        return err("data of the wrong shape for the packet type");
    }
    Ok(DecodedPacket {
        kind,
        nsp,
        id,
        data,
        attachments: r.attachments,
    })
}

struct Reader<'a> {
    buf: &'a Bytes,
    at: usize,
    max_json: usize,
    attachments: Vec<Bytes>,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Result<u8, MsgpackError> {
        self.buf
            .get(self.at)
            .copied()
            .ok_or(MsgpackError("truncated"))
    }

    fn byte(&mut self) -> Result<u8, MsgpackError> {
        let b = self.peek()?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        let buf: &'a [u8] = self.buf;
        let end = self.at.checked_add(n).ok_or(MsgpackError("length"))?;
        let s = buf.get(self.at..end).ok_or(MsgpackError("truncated"))?;
        self.at = end;
        Ok(s)
    }

    /// A big-endian unsigned integer of `n` bytes.
    fn be(&mut self, n: usize) -> Result<u64, MsgpackError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn str(&mut self) -> Result<&'a str, MsgpackError> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return err("expected a string"),
        };
        std::str::from_utf8(self.take(len)?).map_err(|_| MsgpackError("a string is not UTF-8"))
    }

    fn int(&mut self) -> Result<i128, MsgpackError> {
        Ok(match self.byte()? {
            b @ 0x00..=0x7f => i128::from(b),
            b @ 0xe0..=0xff => i128::from(b as i8),
            0xcc => self.be(1)?.into(),
            0xcd => self.be(2)?.into(),
            0xce => self.be(4)?.into(),
            0xcf => self.be(8)?.into(),
            0xd0 => i128::from(self.be(1)? as u8 as i8),
            0xd1 => i128::from(self.be(2)? as u16 as i16),
            0xd2 => i128::from(self.be(4)? as u32 as i32),
            0xd3 => i128::from(self.be(8)? as i64),
            // notepack writes integral doubles beyond 32 bits as float64.
            0xcb => {
                let f = f64::from_bits(self.be(8)?);
                if f.fract() != 0.0 || !f.is_finite() || f.abs() > 9.007_199_254_740_992e15 {
                    return err("expected an integer");
                }
                f as i128
            }
            _ => return err("expected an integer"),
        })
    }

    fn check(&self, out: &[u8]) -> Result<(), MsgpackError> {
        if out.len() > self.max_json {
            return err("too large once converted");
        }
        Ok(())
    }

    /// Reads one value, writing it as JSON into `out`.
    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), MsgpackError> {
        if depth > MAX_DEPTH {
            return err("nested too deep");
        }
        self.check(out)?;
        let marker = self.byte()?;
        match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xcc..=0xd3 => {
                self.at -= 1;
                let n = self.int()?;
                out.extend_from_slice(n.to_string().as_bytes());
            }
            0xc0 => out.extend_from_slice(b"null"),
            0xc2 => out.extend_from_slice(b"false"),
            0xc3 => out.extend_from_slice(b"true"),
            0xca => {
                let f = f32::from_bits(self.be(4)? as u32);
                write_float(f64::from(f), out);
            }
            0xcb => write_float(f64::from_bits(self.be(8)?), out),
            0xa0..=0xbf | 0xd9..=0xdb => {
                self.at -= 1;
                let s = self.str()?;
                crate::json_text::write_string(s, out);
            }
            0xc4..=0xc6 => {
                let len = self.be(1 << (marker - 0xc4))? as usize;
                let start = self.at;
                self.take(len)?;
                if self.attachments.len() >= MAX_ATTACHMENTS {
                    return err("too many binary values");
                }
                out.extend_from_slice(b"{\"_placeholder\":true,\"num\":");
                crate::json_text::write_u64(self.attachments.len() as u64, out);
                out.push(b'}');
                self.attachments.push(self.buf.slice(start..start + len));
            }
            0x90..=0x9f | 0xdc | 0xdd | 0x80..=0x8f | 0xde | 0xdf => {
                // Arrays and maps: fix forms hold their length in the marker, the others
                // in the 2 or 4 bytes after it.
                let len = match marker {
                    0xdc | 0xde => self.be(2)? as usize,
                    0xdd | 0xdf => self.be(4)? as usize,
                    _ => usize::from(marker & 0x0f),
                };
                let map = matches!(marker, 0x80..=0x8f | 0xde | 0xdf);
                out.push(if map { b'{' } else { b'[' });
                for i in 0..len {
                    if i > 0 {
                        out.push(b',');
                    }
                    if !map {
                        self.value(out, depth + 1)?;
                        continue;
                    }
                    let key = self
                        .str()
                        .map_err(|_| MsgpackError("map keys are strings"))?;
                    crate::json_text::write_string(key, out);
                    out.push(b':');
                    self.value(out, depth + 1)?;
                }
                out.push(if map { b'}' } else { b']' });
            }
            // Extension types: notepack's `undefined` (fixext 1, type 0: written as
            // null, as JSON.stringify writes it in an array) and dates (timestamps, or
            // notepack 2's fixext 8 of type 0; written as JSON.stringify writes a Date).
            0xd4..=0xd8 | 0xc7..=0xc9 => {
                let len = match marker {
                    0xd4..=0xd8 => 1usize << (marker - 0xd4),
                    0xc7 => self.be(1)? as usize,
                    0xc8 => self.be(2)? as usize,
                    _ => self.be(4)? as usize,
                };
                let ext_type = self.byte()? as i8;
                let body = self.take(len)?;
                match ext_type {
                    0 if len == 1 => out.extend_from_slice(b"null"),
                    // notepack 2 writes a Date as its milliseconds since the epoch.
                    0 if len == 8 => {
                        let ms = body.iter().fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
                        let nanos = (ms.rem_euclid(1000) * 1_000_000) as u32;
                        write_date(ms.div_euclid(1000), nanos, out);
                    }
                    -1 => {
                        let (secs, nanos) = timestamp(body).ok_or(MsgpackError("timestamp"))?;
                        write_date(secs, nanos, out);
                    }
                    _ => return err("unknown extension type"),
                }
            }
            _ => return err("unsupported MessagePack type"),
        }
        Ok(())
    }
}

fn write_float(f: f64, out: &mut Vec<u8>) {
    if f.is_finite() {
        // serde_json writes the shortest form that reads back the same.
        let _ = serde_json::to_writer(&mut *out, &f);
    } else {
        out.extend_from_slice(b"null"); // as JSON.stringify
    }
}

/// Seconds and nanoseconds of a MessagePack timestamp body (4, 8 or 12 bytes).
fn timestamp(body: &[u8]) -> Option<(i64, u32)> {
    let be = |s: &[u8]| s.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    match body.len() {
        4 => Some((be(body) as i64, 0)),
        8 => {
            let v = be(body);
            Some(((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32))
        }
        12 => Some((be(&body[4..]) as i64, be(&body[..4]) as u32)),
        _ => None,
    }
}

/// A date as `JSON.stringify` writes it: `"2024-01-02T03:04:05.678Z"`.
fn write_date(secs: i64, nanos: u32, out: &mut Vec<u8>) {
    let ms = secs
        .saturating_mul(1000)
        .saturating_add(i64::from(nanos / 1_000_000));
    crate::json_text::write_string(&crate::date::iso_string(ms), out);
}

/// Encodes a packet of the text form (as [`super::Encoder`] makes them) as one MessagePack
/// message: binary placeholders are replaced by their attachments.
pub fn encode(packet: &Encoded) -> Result<Vec<u8>, MsgpackError> {
    let text = std::str::from_utf8(packet.text.get(1..).unwrap_or_default())
        .map_err(|_| MsgpackError("text"))?;
    let raw = RawPacket::decode_header(text).map_err(|_| MsgpackError("header"))?;
    let data: Option<Value> = if raw.data.is_empty() {
        None
    } else {
        Some(serde_json::from_str(raw.data).map_err(|_| MsgpackError("data"))?)
    };
    let kind = match raw.kind {
        PacketKind::Connect => 0,
        PacketKind::Disconnect => 1,
        PacketKind::Event | PacketKind::BinaryEvent => 2,
        PacketKind::Ack | PacketKind::BinaryAck => 3,
        PacketKind::ConnectError => 4,
    };
    let mut out = Vec::with_capacity(raw.data.len() + 32);
    let entries = 2 + u8::from(data.is_some()) + u8::from(raw.id.is_some());
    out.push(0x80 | entries);
    write_str("type", &mut out);
    out.push(kind);
    if let Some(data) = &data {
        write_str("data", &mut out);
        write_value(data, &packet.attachments, &mut out);
    }
    write_str("nsp", &mut out);
    write_str(raw.nsp, &mut out);
    if let Some(id) = raw.id {
        write_str("id", &mut out);
        write_uint(id, &mut out);
    }
    Ok(out)
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len < 0x10000 {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_uint(n: u64, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0xcc, n as u8]);
    } else if n < 0x10000 {
        out.push(0xcd);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n < 0x1_0000_0000 {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        return write_uint(n as u64, out);
    }
    if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_len(len: usize, fix: u8, fix_max: usize, m16: u8, m32: u8, out: &mut Vec<u8>) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if len < 0x10000 {
        out.push(m16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// The attachment a placeholder object names, if it is one.
fn placeholder<'a>(
    map: &serde_json::Map<String, Value>,
    attachments: &'a [Bytes],
) -> Option<&'a Bytes> {
    if map.len() != 2 || map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    attachments.get(usize::try_from(map.get("num")?.as_u64()?).ok()?)
}

fn write_value(v: &Value, attachments: &[Bytes], out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                write_uint(u, out);
            } else if let Some(i) = n.as_i64() {
                write_int(i, out);
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            write_len(items.len(), 0x90, 16, 0xdc, 0xdd, out);
            for item in items {
                write_value(item, attachments, out);
            }
        }
        Value::Object(map) => {
            if let Some(bin) = placeholder(map, attachments) {
                let len = bin.len();
                if len < 0x100 {
                    out.extend_from_slice(&[0xc4, len as u8]);
                } else if len < 0x10000 {
                    out.push(0xc5);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                } else {
                    out.push(0xc6);
                    out.extend_from_slice(&(len as u32).to_be_bytes());
                }
                out.extend_from_slice(bin);
                return;
            }
            write_len(map.len(), 0x80, 16, 0xde, 0xdf, out);
            for (k, item) in map {
                write_str(k, out);
                write_value(item, attachments, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::{Binary, Encoder};

    fn roundtrip(packet: &Encoded) -> DecodedPacket {
        decode(&Bytes::from(encode(packet).unwrap()), 1 << 20).unwrap()
    }

    #[test]
    fn events_acks_and_binary_go_both_ways() {
        let p = Encoder::event("/", None, "e", &(1, -5, 2.5, "x", true, ())).unwrap();
        let back = roundtrip(&p);
        assert_eq!(back.kind, PacketKind::Event);
        assert_eq!(back.data.unwrap(), br#"["e",1,-5,2.5,"x",true,null]"#);
        let bin = Binary::from(vec![1u8, 2, 3]);
        let p = Encoder::event(
            "/b",
            Some(7),
            "f",
            &(&bin, serde_json::json!({"k": [300, -300]})),
        )
        .unwrap();
        let back = roundtrip(&p);
        assert_eq!(back.kind, PacketKind::BinaryEvent);
        assert_eq!((back.nsp.as_str(), back.id), ("/b", Some(7)));
        assert_eq!(
            back.data.unwrap(),
            br#"["f",{"_placeholder":true,"num":0},{"k":[300,-300]}]"#
        );
        assert_eq!(back.attachments, vec![Bytes::from_static(&[1, 2, 3])]);
        let ack = Encoder::ack("/", 9, &("ok",)).unwrap();
        let back = roundtrip(&ack);
        assert_eq!((back.kind, back.id), (PacketKind::Ack, Some(9)));
    }

    #[test]
    fn connect_and_disconnect_shapes() {
        let c = Encoded {
            text: Encoder::connect_with_pid("/", "s", Some("p")).into_bytes(),
            attachments: vec![],
        };
        let back = roundtrip(&c);
        assert_eq!(back.data.unwrap(), br#"{"sid":"s","pid":"p"}"#);
        let d = Encoded {
            text: Encoder::disconnect("/x").to_vec(),
            attachments: vec![],
        };
        let bytes = encode(&d).unwrap();
        // {type: 1, nsp: "/x"}: no data key at all.
        assert_eq!(
            bytes,
            [0x82, 0xa4, b't', b'y', b'p', b'e', 1, 0xa3, b'n', b's', b'p', 0xa2, b'/', b'x']
        );
    }

    #[test]
    fn what_notepack_sends_is_read() {
        // {type: 2, data: ["d", Date(1700000000000), undefined→nil, 1.5], options: {compress: true}, nsp: "/"}
        let mut m = vec![0x84, 0xa4];
        m.extend_from_slice(b"type");
        m.push(2);
        m.push(0xa4);
        m.extend_from_slice(b"data");
        m.extend_from_slice(&[0x94, 0xa1, b'd', 0xd6, 0xff]);
        m.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        m.push(0xc0);
        m.push(0xcb);
        m.extend_from_slice(&1.5f64.to_be_bytes());
        m.push(0xa7);
        m.extend_from_slice(b"options");
        m.extend_from_slice(&[0x81, 0xa8]);
        m.extend_from_slice(b"compress");
        m.push(0xc3);
        m.push(0xa3);
        m.extend_from_slice(b"nsp");
        m.extend_from_slice(&[0xa1, b'/']);
        let p = decode(&Bytes::from(m), 1 << 20).unwrap();
        assert_eq!(
            std::str::from_utf8(&p.data.unwrap()).unwrap(),
            r#"["d","2023-11-14T22:13:20.000Z",null,1.5]"#
        );
    }

    #[test]
    fn notepack_2_dates_are_read() {
        // {type: 2, nsp: "/", data: ["d", Date(1704164645678)]} as notepack 2 writes it.
        let mut m = vec![
            0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'/',
        ];
        m.extend_from_slice(&[0xa4, b'd', b'a', b't', b'a', 0x92, 0xa1, b'd', 0xd7, 0x00]);
        m.extend_from_slice(&1_704_164_645_678u64.to_be_bytes());
        let p = decode(&Bytes::from(m), 1 << 20).unwrap();
        assert_eq!(p.data.unwrap(), br#"["d","2024-01-02T03:04:05.678Z"]"#);
    }

    #[test]
    fn random_and_mutated_input_never_panics() {
        let valid = encode(
            &Encoder::event(
                "/n",
                Some(1),
                "e",
                &(Binary::from(vec![1u8; 40]), "s", 1.5, [1, 2]),
            )
            .unwrap(),
        )
        .unwrap();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut m = valid.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % m.len();
                m[at] = next() as u8;
            }
            m.truncate((next() as usize) % (m.len() + 1));
            let _ = decode(&Bytes::from(m), 4096);
            let noise: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
            let _ = decode(&Bytes::from(noise), 4096);
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let cases: &[&[u8]] = &[
            b"",
            &[0x90],                               // not a map
            &[0x81, 0xa4, b't', b'y', b'p', b'e'], // truncated
            &[0x81, 0xa3, b'n', b's', b'p', 0x01], // nsp not a string
            &[
                0x82, 0xa4, b't', b'y', b'p', b'e', 9, 0xa3, b'n', b's', b'p', 0xa1, b'/',
            ],
            // EVENT without data
            &[
                0x82, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'/',
            ],
            // a bin header longer than the message
            &[
                0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4,
                b'd', b'a', b't', b'a', 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff,
            ],
        ];
        for case in cases {
            assert!(
                decode(&Bytes::copy_from_slice(case), 1 << 20).is_err(),
                "{case:?}"
            );
        }
        // Deep nesting and conversion blow-up stop at their bounds.
        let mut deep = vec![
            0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4, b'd',
            b'a', b't', b'a',
        ];
        deep.extend([0x91; 10_000]);
        deep.push(0xc0);
        assert!(decode(&Bytes::from(deep), 1 << 20).is_err());
        let mut wide = vec![
            0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4, b'd',
            b'a', b't', b'a', 0xdc, 0x03, 0xe8,
        ];
        wide.extend([0xc0; 1000]);
        assert!(
            decode(&Bytes::from(wide.clone()), 1000).is_err(),
            "over max_json"
        );
        assert!(decode(&Bytes::from(wide), 10_000).is_ok());
    }
}
