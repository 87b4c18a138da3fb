//! `socketio_packet`: the Socket.IO packet decoder (`RawPacket::decode` and
//! `decode_header`) and the argument splitter (`Args::parse_event` / `parse_ack`).

use bytes::Bytes;
use gateway_core::socketio::{
    Args, Encoded, Encoder, PacketKind, ParseError, RawPacket, MAX_ATTACHMENTS,
};
use serde_json::value::RawValue;

use super::JSON_WHITESPACE;

/// The event names Socket.IO reserves.
const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Whether `data` is acceptable packet data: JSON whitespace only (no data), or one JSON
/// value as serde_json reads it when it skips a value (no nesting limit).
fn json_or_nothing(data: &str) -> bool {
    data.trim_start_matches(JSON_WHITESPACE).is_empty()
        || serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok()
}

/// Decodes `data` (when UTF-8) as the text of a Socket.IO packet and asserts:
///
/// - [`RawPacket::decode`] accepts exactly what [`RawPacket::decode_header`] accepts and
///   whose data is JSON (or JSON whitespace only) as serde_json reads it, and gives the
///   same packet; otherwise it refuses with the header's error, or `InvalidPayload`;
/// - a decoded packet is well formed: its namespace starts with `/` and holds no `,`,
///   only binary types count attachments (at most `MAX_ATTACHMENTS`), the data is the
///   end of the text, and the data's first character after JSON whitespace (never Unicode
///   whitespace) fits the type: nothing or `{` for CONNECT, nothing for DISCONNECT, `[`
///   for events, `[` and an id for acks, `{` or `"` for CONNECT_ERROR;
/// - the header written back canonically, followed by the data, decodes to the same
///   packet;
/// - an event's or ack's arguments split as serde_json splits the array (same elements,
///   byte for byte); the event name is the first element, a string decoded as serde_json
///   decodes it or a number's text, refused when reserved or of any other type;
/// - each argument passes the `json_value` checks;
/// - an event or ack re-encoded with [`Encoder`] decodes to the same namespace, id, event
///   name and argument text, binary exactly when attachments were announced.
pub fn check_packet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let header = RawPacket::decode_header(text);
    let full = RawPacket::decode(text);
    let packet = match (header, full) {
        (Ok(h), Ok(f)) => {
            assert_eq!(h, f, "{text:?}");
            assert!(json_or_nothing(f.data), "{text:?}: data is not JSON");
            f
        }
        (Ok(h), Err(e)) => {
            assert_eq!(e, ParseError::InvalidPayload, "{text:?}");
            assert!(!json_or_nothing(h.data), "{text:?}: JSON data refused");
            return;
        }
        (Err(h), Err(f)) => {
            assert_eq!(h, f, "{text:?}");
            return;
        }
        (Err(h), Ok(f)) => panic!("{text:?}: decode gives {f:?}, decode_header {h:?}"),
    };
    check_well_formed(text, &packet);

    let mut canonical = String::new();
    canonical.push(char::from(packet.kind.digit()));
    if packet.kind.is_binary() {
        canonical.push_str(&format!("{}-", packet.attachments));
    }
    if packet.nsp != "/" {
        canonical.push_str(packet.nsp);
        canonical.push(',');
    }
    if let Some(id) = packet.id {
        canonical.push_str(&id.to_string());
    }
    canonical.push_str(packet.data);
    assert_eq!(
        RawPacket::decode(&canonical).as_ref(),
        Ok(&packet),
        "{text:?} rewritten as {canonical:?}"
    );

    match packet.kind {
        PacketKind::Event | PacketKind::BinaryEvent => check_event(text, &packet),
        PacketKind::Ack | PacketKind::BinaryAck => check_ack(text, &packet),
        PacketKind::Disconnect => {
            let again = Encoder::disconnect(packet.nsp);
            let again = std::str::from_utf8(&again[1..]).expect("the encoder writes UTF-8");
            let decoded = RawPacket::decode(again).expect("the encoder writes valid packets");
            assert_eq!((decoded.kind, decoded.nsp), (packet.kind, packet.nsp));
        }
        PacketKind::Connect | PacketKind::ConnectError => {}
    }
}

fn check_well_formed(text: &str, packet: &RawPacket<'_>) {
    assert!(packet.nsp.starts_with('/'), "{text:?}");
    assert!(!packet.nsp.contains(','), "{text:?}");
    assert!(packet.attachments <= MAX_ATTACHMENTS, "{text:?}");
    if !packet.kind.is_binary() {
        assert_eq!(packet.attachments, 0, "{text:?}");
    }
    assert!(text.ends_with(packet.data), "{text:?}");
    if let Some(id) = packet.id {
        // The id is the digits right before the data (leading zeros allowed).
        let head = &text[1..text.len() - packet.data.len()];
        let digits = head.bytes().rev().take_while(u8::is_ascii_digit).count();
        let written = head[head.len() - digits..].trim_start_matches('0');
        let want = if id == 0 {
            String::new()
        } else {
            id.to_string()
        };
        assert_eq!(written, want, "{text:?}");
    }
    let first = packet
        .data
        .trim_start_matches(JSON_WHITESPACE)
        .chars()
        .next();
    let fits = match packet.kind {
        PacketKind::Connect => matches!(first, None | Some('{')),
        PacketKind::Disconnect => first.is_none(),
        PacketKind::Event | PacketKind::BinaryEvent => first == Some('['),
        PacketKind::Ack | PacketKind::BinaryAck => first == Some('[') && packet.id.is_some(),
        PacketKind::ConnectError => matches!(first, Some('{' | '"')),
    };
    assert!(fits, "{text:?}: data does not fit {:?}", packet.kind);
}

/// serde_json's split of the array `data`.
fn reference_elements(data: &str) -> Option<Vec<&str>> {
    let items: Vec<&RawValue> = serde_json::from_str(data).ok()?;
    Some(items.into_iter().map(RawValue::get).collect())
}

fn raw_items(args: &Args) -> Vec<&str> {
    (0..args.len())
        .map(|i| args.raw(i).expect("an argument within len"))
        .collect()
}

fn check_event(text: &str, packet: &RawPacket<'_>) {
    let parsed = Args::parse_event(Bytes::copy_from_slice(packet.data.as_bytes()));
    let reference = reference_elements(packet.data);
    let expected: Result<(String, &[&str]), ParseError> = match reference.as_deref() {
        None | Some([]) => Err(ParseError::InvalidPayload),
        Some([name, rest @ ..]) => match name.as_bytes()[0] {
            b'"' => match serde_json::from_str::<String>(name) {
                Ok(name) if RESERVED.contains(&name.as_str()) => Err(ParseError::ReservedEvent),
                Ok(name) => Ok((name, rest)),
                Err(_) => Err(ParseError::InvalidPayload),
            },
            b'-' | b'0'..=b'9' => Ok(((*name).to_owned(), rest)),
            _ => Err(ParseError::InvalidPayload),
        },
    };
    let got = parsed
        .as_ref()
        .map(|args| (args.event().to_owned(), raw_items(args)));
    match (&got, &expected) {
        (Ok((name, items)), Ok((want_name, want_items))) => {
            assert_eq!(name, want_name, "{text:?}");
            assert_eq!(items.as_slice(), *want_items, "{text:?}");
        }
        (Err(e), Err(want)) => assert_eq!(*e, want, "{text:?}"),
        _ => panic!("{text:?}: parse_event gives {got:?}, serde_json's split {expected:?}"),
    }
    let Ok(mut args) = parsed else {
        return;
    };
    check_arguments(&args);
    args.set_attachments(announced(packet));
    let _ = args.placeholders_within(packet.attachments);
    let again = Encoder::event(packet.nsp, packet.id, args.event(), &args)
        .expect("received arguments encode");
    let (decoded, again_args) = decode_encoded(text, &again, packet, Args::parse_event);
    let kind = if packet.attachments > 0 {
        PacketKind::BinaryEvent
    } else {
        PacketKind::Event
    };
    assert_eq!(decoded.kind, kind, "{text:?}");
    assert_eq!(again_args.event(), args.event(), "{text:?}");
    assert_eq!(raw_items(&again_args), raw_items(&args), "{text:?}");
}

fn check_ack(text: &str, packet: &RawPacket<'_>) {
    let parsed = Args::parse_ack(Bytes::copy_from_slice(packet.data.as_bytes()));
    let reference = reference_elements(packet.data);
    match (&parsed, &reference) {
        (Ok(args), Some(items)) => assert_eq!(&raw_items(args), items, "{text:?}"),
        (Err(e), None) => assert_eq!(*e, ParseError::InvalidPayload, "{text:?}"),
        _ => panic!("{text:?}: parse_ack gives {parsed:?}, serde_json's split {reference:?}"),
    }
    let Ok(mut args) = parsed else {
        return;
    };
    check_arguments(&args);
    args.set_attachments(announced(packet));
    let id = packet.id.expect("a decoded ack has an id");
    let again = Encoder::ack(packet.nsp, id, &args).expect("received arguments encode");
    let (decoded, again_args) = decode_encoded(text, &again, packet, Args::parse_ack);
    let kind = if packet.attachments > 0 {
        PacketKind::BinaryAck
    } else {
        PacketKind::Ack
    };
    assert_eq!(decoded.kind, kind, "{text:?}");
    assert_eq!(raw_items(&again_args), raw_items(&args), "{text:?}");
}

/// As many attachments as the packet announces.
fn announced(packet: &RawPacket<'_>) -> Vec<Bytes> {
    (0..packet.attachments)
        .map(|i| Bytes::from(i.to_le_bytes().to_vec()))
        .collect()
}

/// The arguments: each one through the `json_value` checks (a few, to bound the work).
fn check_arguments(args: &Args) {
    for i in 0..args.len().min(8) {
        let raw = args.raw(i).expect("an argument within len");
        super::json::check_value(raw.as_bytes());
    }
}

/// Decodes what the encoder wrote for `packet`: its header and arguments.
fn decode_encoded<'a>(
    text: &str,
    encoded: &'a Encoded,
    packet: &RawPacket<'_>,
    parse: fn(Bytes) -> Result<Args, ParseError>,
) -> (RawPacket<'a>, Args) {
    assert_eq!(encoded.text.first(), Some(&b'4'), "{text:?}");
    assert_eq!(encoded.attachments.len(), packet.attachments, "{text:?}");
    let again = std::str::from_utf8(&encoded.text[1..]).expect("the encoder writes UTF-8");
    let decoded = RawPacket::decode(again)
        .unwrap_or_else(|e| panic!("{text:?} re-encoded as {again:?}: {e}"));
    assert_eq!(
        (decoded.nsp, decoded.id, decoded.attachments),
        (packet.nsp, packet.id, packet.attachments),
        "{text:?} re-encoded as {again:?}"
    );
    let args = parse(Bytes::copy_from_slice(decoded.data.as_bytes()))
        .unwrap_or_else(|e| panic!("{text:?} re-encoded as {again:?}: {e}"));
    (decoded, args)
}
