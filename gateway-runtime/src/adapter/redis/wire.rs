//! What goes through Redis, byte-compatible with `@socket.io/redis-adapter` 8.x.
//!
//! - Broadcasts are msgpack (as notepack.io writes it) of `[uid, packet, opts]`: `packet`
//!   is the socket.io packet *object* `{type, data, nsp, id?}` — binary values sit inside
//!   `data` as msgpack `bin`, not as placeholders — and `opts` is
//!   `{rooms: [..], except: [..], flags: {..}}`.
//! - Requests and responses are JSON objects, except the two that carry a packet
//!   (`BROADCAST` and `BROADCAST_ACK`), which are msgpack maps. A reader tells them apart
//!   by the first byte (`{` for JSON).
//!
//! Our encoded packets are socket.io *text* (`4<type>[n-][nsp,][id][json]`) plus
//! attachments; this module converts between the two, keeping object key order and every
//! binary value.

use bytes::Bytes;
use gateway_core::socketio::{Args, Encoded, PacketKind, RawPacket};
use rmpv::Value;

use crate::adapter::{BroadcastOptions, Room};

/// The request types of the adapter protocol (its `RequestType` enum).
pub(crate) mod request_type {
    pub(crate) const SOCKETS: u64 = 0;
    pub(crate) const ALL_ROOMS: u64 = 1;
    pub(crate) const REMOTE_JOIN: u64 = 2;
    pub(crate) const REMOTE_LEAVE: u64 = 3;
    pub(crate) const REMOTE_DISCONNECT: u64 = 4;
    pub(crate) const REMOTE_FETCH: u64 = 5;
    pub(crate) const SERVER_SIDE_EMIT: u64 = 6;
    pub(crate) const BROADCAST: u64 = 7;
    pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub(crate) const BROADCAST_ACK: u64 = 9;
}

/// socket.io packet types used in the packet object.
const EVENT: u64 = 2;
const ACK: u64 = 3;
const BINARY_EVENT: u64 = 5;
const BINARY_ACK: u64 = 6;

/// Why a message from Redis could not be read (or a packet could not be converted).
#[derive(Debug)]
pub(crate) struct WireError(pub(crate) String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> WireError {
    WireError(msg.into())
}

// ---------------------------------------------------------------------------------------
// Encoding and decoding whole messages
// ---------------------------------------------------------------------------------------

/// msgpack bytes of `value`.
pub(crate) fn to_msgpack(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// JSON bytes of `value` (a request or response without binary).
pub(crate) fn to_json(value: &Value) -> Vec<u8> {
    let mut attachments = Vec::new();
    value_to_json(value, &mut attachments)
}

/// Reads a msgpack message.
pub(crate) fn from_msgpack(bytes: &[u8]) -> Result<Value, WireError> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value(&mut reader).map_err(|e| err(e.to_string()))?;
    Ok(value)
}

/// Reads a request or response: JSON when it starts with `{`, msgpack otherwise.
pub(crate) fn from_json_or_msgpack(bytes: &[u8]) -> Result<Value, WireError> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| err(e.to_string()))
    } else {
        from_msgpack(bytes)
    }
}

// ---------------------------------------------------------------------------------------
// Small accessors on msgpack maps
// ---------------------------------------------------------------------------------------

/// A map built from `(key, value)` pairs, keys in the given order.
pub(crate) fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Member `key` of a map.
pub(crate) fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// String member `key` of a map.
pub(crate) fn get_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    get(value, key)?.as_str()
}

/// Non-negative integer member `key` of a map (a float with an integral value counts).
pub(crate) fn get_u64(value: &Value, key: &str) -> Option<u64> {
    as_u64(get(value, key)?)
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(i) => i.as_u64(),
        Value::F64(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 9.007_199_254_740_992e15 => {
            Some(*f as u64)
        }
        Value::F32(f) if f.fract() == 0.0 && *f >= 0.0 => Some(*f as u64),
        _ => None,
    }
}

/// Boolean member `key` of a map (`false` when absent).
pub(crate) fn get_bool(value: &Value, key: &str) -> bool {
    matches!(get(value, key), Some(Value::Boolean(true)))
}

/// Room names of a list; JavaScript numbers are read as their text, as `Set`s of rooms
/// may hold them.
pub(crate) fn rooms_of(value: Option<&Value>) -> Vec<Room> {
    let Some(items) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    items.iter().filter_map(room_name).collect()
}

fn room_name(value: &Value) -> Option<Room> {
    match value {
        Value::String(s) => s.as_str().map(Room::from),
        Value::Integer(i) => Some(i.to_string().into()),
        Value::F64(f) if f.is_finite() => Some(js_number(*f).into()),
        Value::F32(f) if f.is_finite() => Some(js_number(f64::from(*f)).into()),
        _ => None,
    }
}

/// A number as JavaScript's `String(n)` writes it for ordinary values.
fn js_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

fn string_list(rooms: &[Room]) -> Value {
    Value::Array(
        unique_rooms(rooms)
            .iter()
            .map(|r| Value::from(r.as_ref()))
            .collect(),
    )
}

/// Rooms without duplicates, in first-seen order (what a JavaScript `Set` would hold).
pub(crate) fn unique_rooms(rooms: &[Room]) -> Vec<Room> {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    rooms
        .iter()
        .filter(|r: &&Room| seen.insert(r))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------
// Broadcast options
// ---------------------------------------------------------------------------------------

/// `{rooms, except, flags}` as the adapter publishes it with a broadcast.
pub(crate) fn opts_with_flags(opts: &BroadcastOptions) -> Value {
    let flags = if opts.volatile {
        map([("volatile", Value::Boolean(true))])
    } else {
        Value::Map(Vec::new())
    };
    map([
        ("rooms", string_list(&opts.rooms)),
        ("except", string_list(&opts.except)),
        ("flags", flags),
    ])
}

/// `{rooms, except}` as sent with the remote-operation requests.
pub(crate) fn opts_plain(opts: &BroadcastOptions) -> Value {
    map([
        ("rooms", string_list(&opts.rooms)),
        ("except", string_list(&opts.except)),
    ])
}

/// Reads `{rooms, except, flags?}`.
pub(crate) fn opts_from(value: Option<&Value>) -> BroadcastOptions {
    let Some(value) = value else {
        return BroadcastOptions::default();
    };
    BroadcastOptions {
        rooms: rooms_of(get(value, "rooms")),
        except: rooms_of(get(value, "except")),
        local: false,
        volatile: get(value, "flags").is_some_and(|f| get_bool(f, "volatile")),
    }
}

// ---------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------

/// The packet object `{type, data, nsp[, id]}` of an encoded EVENT (or ACK) packet, with its
/// attachments put back in place as binary values. `type` is never a BINARY_* type, as in
/// the packets socket.io publishes.
pub(crate) fn packet_object(packet: &Encoded, keep_id: bool) -> Result<Value, WireError> {
    let text = packet.text.get(1..).ok_or_else(|| err("empty packet"))?;
    let text = std::str::from_utf8(text).map_err(|_| err("packet is not UTF-8"))?;
    let raw = RawPacket::decode(text).map_err(|e| err(e.to_string()))?;
    let kind = match raw.kind {
        PacketKind::Event | PacketKind::BinaryEvent => EVENT,
        PacketKind::Ack | PacketKind::BinaryAck => ACK,
        other => return Err(err(format!("cannot relay a {other:?} packet"))),
    };
    let data = json_to_value(raw.data, &packet.attachments)?;
    let mut entries = vec![
        (Value::from("type"), Value::from(kind)),
        (Value::from("data"), data),
        (Value::from("nsp"), Value::from(raw.nsp)),
    ];
    if let (true, Some(id)) = (keep_id, raw.id) {
        entries.push((Value::from("id"), Value::from(id)));
    }
    Ok(Value::Map(entries))
}

/// Our encoded packet for a received packet object, in namespace `nsp`, with ack `id`.
/// Binary values become attachments (and the type a BINARY_* type).
pub(crate) fn encoded_from_object(
    packet: &Value,
    nsp: &str,
    id: Option<u64>,
) -> Result<Encoded, WireError> {
    let is_ack = match get_u64(packet, "type") {
        Some(EVENT | BINARY_EVENT) => false,
        Some(ACK | BINARY_ACK) => true,
        _ => return Err(err("not an EVENT packet")),
    };
    let data = get(packet, "data")
        .filter(|d| d.is_array())
        .ok_or_else(|| err("packet data is not an array"))?;
    if !is_ack {
        match data.as_array().and_then(|a| a.first()) {
            Some(Value::String(s)) if s.is_str() => {}
            Some(Value::Integer(_) | Value::F64(_) | Value::F32(_)) => {}
            _ => return Err(err("event name missing")),
        }
    }
    let mut attachments = Vec::new();
    let json = value_to_json(data, &mut attachments);
    let mut text = Vec::with_capacity(json.len() + nsp.len() + 16);
    text.push(b'4');
    match (is_ack, attachments.is_empty()) {
        (false, true) => text.push(b'2'),
        (true, true) => text.push(b'3'),
        (false, false) => text.extend_from_slice(format!("5{}-", attachments.len()).as_bytes()),
        (true, false) => text.extend_from_slice(format!("6{}-", attachments.len()).as_bytes()),
    }
    if nsp != "/" {
        text.extend_from_slice(nsp.as_bytes());
        text.push(b',');
    }
    if let Some(id) = id {
        text.extend_from_slice(id.to_string().as_bytes());
    }
    text.extend_from_slice(&json);
    Ok(Encoded { text, attachments })
}

/// The first argument of an acknowledgement, as socket.io relays it between nodes (its
/// ack callback sees only the first argument); `nil` when there is none.
pub(crate) fn first_ack_arg(args: &Args) -> Value {
    match args.raw(0) {
        Some(raw) => json_to_value(raw, args.attachments()).unwrap_or(Value::Nil),
        None => Value::Nil,
    }
}

/// Acknowledgement arguments made of one relayed value.
pub(crate) fn ack_args(value: &Value) -> Args {
    let mut attachments = Vec::new();
    let mut json = Vec::with_capacity(64);
    json.push(b'[');
    json.extend_from_slice(&value_to_json(value, &mut attachments));
    json.push(b']');
    let mut args = Args::parse_ack(json.into()).unwrap_or_default();
    args.set_attachments(attachments);
    args
}

// ---------------------------------------------------------------------------------------
// JSON text <-> msgpack values
// ---------------------------------------------------------------------------------------

/// A JSON text as a msgpack value (key order kept); `{"_placeholder":true,"num":n}`
/// objects become the binary attachment `n`.
pub(crate) fn json_to_value(json: &str, attachments: &[Bytes]) -> Result<Value, WireError> {
    let mut value: Value = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
    if !attachments.is_empty() {
        fill_placeholders(&mut value, attachments);
    }
    Ok(value)
}

fn placeholder_index(entries: &[(Value, Value)]) -> Option<usize> {
    if entries.len() != 2 {
        return None;
    }
    let mut marked = false;
    let mut num = None;
    for (k, v) in entries {
        match (k.as_str(), v) {
            (Some("_placeholder"), Value::Boolean(true)) => marked = true,
            (Some("num"), v) => num = as_u64(v),
            _ => return None,
        }
    }
    if marked {
        num.and_then(|n| usize::try_from(n).ok())
    } else {
        None
    }
}

fn fill_placeholders(value: &mut Value, attachments: &[Bytes]) {
    match value {
        Value::Map(entries) => {
            if let Some(bytes) = placeholder_index(entries).and_then(|n| attachments.get(n)) {
                *value = Value::Binary(bytes.to_vec());
                return;
            }
            for (_, v) in entries.iter_mut() {
                fill_placeholders(v, attachments);
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                fill_placeholders(v, attachments);
            }
        }
        _ => {}
    }
}

/// JSON text of a msgpack value, as socket.io's parser would write it: binary values become
/// placeholders (their bytes appended to `attachments`), dates their ISO text, other
/// extension types what notepack.io decodes them to.
pub(crate) fn value_to_json(value: &Value, attachments: &mut Vec<Bytes>) -> Vec<u8> {
    let prepared = jsonable(value, attachments);
    serde_json::to_vec(&prepared).unwrap_or_else(|_| b"null".to_vec())
}

fn placeholder(num: usize) -> Value {
    map([
        ("_placeholder", Value::Boolean(true)),
        ("num", Value::from(num as u64)),
    ])
}

fn jsonable(value: &Value, attachments: &mut Vec<Bytes>) -> Value {
    match value {
        Value::Binary(bytes) => {
            attachments.push(Bytes::copy_from_slice(bytes));
            placeholder(attachments.len() - 1)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| jsonable(v, attachments)).collect())
        }
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (Value::from(key_text(k)), jsonable(v, attachments)))
                .collect(),
        ),
        Value::String(s) => match s.as_str() {
            Some(_) => value.clone(),
            None => Value::from(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        },
        // notepack.io: ext -1 is a Date (its JSON is the ISO text); ext 0 of one zero byte
        // is `undefined`, other ext 0 an ArrayBuffer; other types decode to [type, bytes].
        Value::Ext(-1, data) => timestamp_iso(data).map_or(Value::Nil, Value::from),
        Value::Ext(0, data) if data.as_slice() == [0] => Value::Nil,
        Value::Ext(0, data) => jsonable(&Value::Binary(data.clone()), attachments),
        Value::Ext(kind, data) => Value::Array(vec![
            Value::from(*kind),
            jsonable(&Value::Binary(data.clone()), attachments),
        ]),
        other => other.clone(),
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Value::Integer(i) => i.to_string(),
        Value::F64(f) => js_number(*f),
        Value::F32(f) => js_number(f64::from(*f)),
        Value::Boolean(b) => b.to_string(),
        Value::Nil => "null".into(),
        other => other.to_string(),
    }
}

/// The msgpack timestamp extension (4, 8 or 12 bytes) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamp_iso(data: &[u8]) -> Option<String> {
    let (secs, nanos): (i64, u32) = match data.len() {
        4 => (i64::from(u32::from_be_bytes(data.try_into().ok()?)), 0),
        8 => {
            let raw = u64::from_be_bytes(data.try_into().ok()?);
            ((raw & 0x3_ffff_ffff) as i64, (raw >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(data[4..12].try_into().ok()?),
            u32::from_be_bytes(data[0..4].try_into().ok()?),
        ),
        _ => return None,
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos / 1_000_000
    ))
}

pub(crate) use crate::clock::{civil_from_days, iso_from_millis};

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::socketio::{Binary, Encoder};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Reference bytes written by notepack.io 3.0.1 (the encoder of the official adapter):
    // notepack.encode(["abc", {type: 2, data: ["e", 1, Buffer.from([1, 2]), {b: 1, a: "x"}],
    //   nsp: "/"}, {rooms: ["r"], except: [], flags: {}}])
    const NODE_BROADCAST: &str = "93a3616263\
        83a47479706502a46461746194a165\
        01c4020102\
        82a16201a161a178\
        a36e7370a12f\
        83a5726f6f6d7391a172a6657863657074 90a5666c61677380";

    #[test]
    fn our_broadcast_is_byte_identical_to_notepack() {
        let packet = Encoder::event(
            "/",
            None,
            "e",
            &(1, Binary::from(vec![1, 2]), serde_json::json!({"b": 1})),
        )
        .unwrap();
        // serde_json::json! sorts keys; build the object with the order we want instead.
        let mut object = packet_object(&packet, false).unwrap();
        if let Value::Map(entries) = &mut object {
            if let Some((_, Value::Array(data))) =
                entries.iter_mut().find(|(k, _)| k.as_str() == Some("data"))
            {
                data[3] = map([("b", Value::from(1)), ("a", Value::from("x"))]);
            }
        }
        let opts = BroadcastOptions {
            rooms: vec!["r".into()],
            ..Default::default()
        };
        let msg = Value::Array(vec![Value::from("abc"), object, opts_with_flags(&opts)]);
        assert_eq!(hex(&to_msgpack(&msg)), NODE_BROADCAST.replace(' ', ""));
    }

    #[test]
    fn node_broadcast_becomes_our_packet_with_attachments() {
        let msg = from_msgpack(&unhex(&NODE_BROADCAST.replace(' ', ""))).unwrap();
        let items = msg.as_array().unwrap();
        assert_eq!(items[0].as_str(), Some("abc"));
        let encoded = encoded_from_object(&items[1], "/chat", None).unwrap();
        assert_eq!(
            std::str::from_utf8(&encoded.text).unwrap(),
            r#"451-/chat,["e",1,{"_placeholder":true,"num":0},{"b":1,"a":"x"}]"#
        );
        assert_eq!(encoded.attachments, vec![Bytes::from_static(&[1, 2])]);
        let opts = opts_from(items.get(2));
        assert_eq!(opts.rooms, vec![Room::from("r")]);
        assert!(opts.except.is_empty() && !opts.volatile);
    }

    #[test]
    fn binary_survives_both_ways() {
        let original = Encoder::event(
            "/n",
            Some(7),
            "up",
            &(
                serde_json::json!({"x": [1.5, null, true]}),
                vec![Binary::from(vec![0, 255]), Binary::from(Vec::new())],
            ),
        )
        .unwrap();
        let object = packet_object(&original, true).unwrap();
        assert_eq!(get_u64(&object, "type"), Some(2));
        assert_eq!(get_u64(&object, "id"), Some(7));
        let bytes = to_msgpack(&object);
        let back = encoded_from_object(&from_msgpack(&bytes).unwrap(), "/n", Some(7)).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn acks_relay_their_first_argument() {
        let mut args =
            Args::parse_ack(r#"[{"f":{"_placeholder":true,"num":0}},"ignored"]"#.into()).unwrap();
        args.set_attachments(vec![Bytes::from_static(b"zz")]);
        let value = first_ack_arg(&args);
        assert_eq!(value, map([("f", Value::Binary(b"zz".to_vec()))]));
        let relayed = ack_args(&value);
        assert_eq!(relayed.len(), 1);
        assert_eq!(
            relayed.raw(0),
            Some(r#"{"f":{"_placeholder":true,"num":0}}"#)
        );
        assert_eq!(relayed.attachments(), &[Bytes::from_static(b"zz")]);
        assert_eq!(
            first_ack_arg(&Args::parse_ack("[]".into()).unwrap()),
            Value::Nil
        );
    }

    #[test]
    fn requests_are_read_as_json_or_msgpack() {
        let json = br#"{"uid":"u","requestId":"r","type":5,"opts":{"rooms":["a",3],"except":[]}}"#;
        let v = from_json_or_msgpack(json).unwrap();
        assert_eq!(get_u64(&v, "type"), Some(request_type::REMOTE_FETCH));
        assert_eq!(get_str(&v, "requestId"), Some("r"));
        let opts = opts_from(get(&v, "opts"));
        assert_eq!(opts.rooms, vec![Room::from("a"), Room::from("3")]);
        let packed = to_msgpack(&v);
        assert_eq!(from_json_or_msgpack(&packed).unwrap(), v);
        // Our JSON keeps key order.
        assert_eq!(to_json(&v), json.to_vec());
    }

    #[test]
    fn notepack_extensions() {
        // Date(0) as timestamp 32, legacy `undefined`, legacy ArrayBuffer (ext 0).
        let data = Value::Array(vec![
            Value::from("d"),
            Value::Ext(-1, vec![0, 0, 0, 0]),
            Value::Ext(0, vec![0]),
            Value::Ext(0, vec![9, 9]),
        ]);
        let mut atts = Vec::new();
        let json = value_to_json(&data, &mut atts);
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"["d","1970-01-01T00:00:00.000Z",null,{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(atts, vec![Bytes::from_static(&[9, 9])]);
        // timestamp 64: 2021-03-04T05:06:07.890Z
        let secs: u64 = 1_614_834_367;
        let nanos: u64 = 890_000_000;
        let raw = (nanos << 34) | secs;
        assert_eq!(
            timestamp_iso(&raw.to_be_bytes()).as_deref(),
            Some("2021-03-04T05:06:07.890Z")
        );
        assert_eq!(iso_from_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(from_msgpack(&[0xd9]).is_err());
        assert!(from_msgpack(&[0x93, 0xa1]).is_err());
        assert!(from_json_or_msgpack(b"{nope").is_err());
        let not_event = map([("type", Value::from(0)), ("data", Value::Nil)]);
        assert!(encoded_from_object(&not_event, "/", None).is_err());
        let no_name = map([("type", Value::from(2)), ("data", Value::Array(vec![]))]);
        assert!(encoded_from_object(&no_name, "/", None).is_err());
    }
}
