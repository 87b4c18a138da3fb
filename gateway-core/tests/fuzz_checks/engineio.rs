//! `engineio_packet` and `engineio_payload`: the Engine.IO packet decoder
//! (`Packet::decode_text`), the long-polling payload decoder (`decode_payload`) and their
//! encoders.

use gateway_core::engineio::{
    decode_payload, DecodeError, OpenPacket, Packet, PayloadEncoder, SEPARATOR,
};

/// Decodes `data` (when UTF-8) as one Engine.IO text packet and asserts:
///
/// - it is accepted exactly when it starts with a type digit `0`–`6` (an empty text is
///   `Empty`, anything else `UnknownType` of its first byte), and the packet's kind has
///   that digit;
/// - encoded again it is the text itself for the types with data (open, ping, pong,
///   message), the digit alone for the others, and decodes to the same packet, also as
///   the records of a long-polling payload.
///
/// Also builds the handshake [`OpenPacket`] from `data` (its strings and numbers) and
/// asserts that its hand-written encoding is `0` followed by what serde_json writes.
pub fn check_packet(data: &[u8]) {
    check_open_packet(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = Packet::decode_text(text);
    let packet = match (data.first(), decoded) {
        (None, decoded) => return assert_eq!(decoded, Err(DecodeError::Empty)),
        (Some(&digit @ b'0'..=b'6'), Ok(packet)) => {
            assert_eq!(packet.kind().digit(), Some(digit), "{text:?}");
            packet
        }
        (Some(&first), decoded) => {
            return assert_eq!(decoded, Err(DecodeError::UnknownType(first)), "{text:?}")
        }
    };
    let mut encoded = Vec::new();
    packet.encode_into(&mut encoded);
    match packet {
        Packet::Open(rest) | Packet::Ping(rest) | Packet::Pong(rest) | Packet::Message(rest) => {
            assert_eq!(rest, &text[1..]);
            assert_eq!(encoded, data, "{text:?}");
        }
        Packet::Close | Packet::Upgrade | Packet::Noop => assert_eq!(encoded, &data[..1]),
        Packet::Binary(_) => panic!("{text:?}: a text decoded as binary"),
    }
    let again = std::str::from_utf8(&encoded).expect("encoded text is UTF-8");
    assert_eq!(Packet::decode_text(again).as_ref(), Ok(&packet), "{text:?}");
    if !encoded.contains(&SEPARATOR) {
        let mut body = PayloadEncoder::new();
        body.push_text(&encoded);
        body.push_text(&encoded);
        let body = body.finish();
        let packets: Vec<_> = decode_payload(&body).collect();
        assert_eq!(packets, [Ok(packet.clone()), Ok(packet)], "{text:?}");
    }
}

/// The handshake packet built from `data`: the session id and the upgrades are its
/// (lossily decoded) text split at the record separator, the numbers its first bytes.
fn check_open_packet(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1e}');
    let sid = parts.next().unwrap_or_default();
    let upgrades: Vec<&str> = parts.collect();
    let number = |at: usize| {
        let mut bytes = [0u8; 8];
        for (i, b) in data.iter().skip(at).take(8).enumerate() {
            bytes[i] = *b;
        }
        u64::from_le_bytes(bytes)
    };
    let open = OpenPacket {
        sid,
        upgrades: &upgrades,
        ping_interval: number(0),
        ping_timeout: number(1) >> 20,
        max_payload: number(2) & 0xffff_ffff,
    };
    let encoded = open.encode();
    let expected = serde_json::to_string(&open).expect("the handshake serializes");
    assert_eq!(encoded, format!("0{expected}"), "{text:?}");
    assert_eq!(
        Packet::decode_text(&encoded),
        Ok(Packet::Open(&encoded[1..]))
    );
    let json: serde_json::Value = serde_json::from_str(&encoded[1..]).expect("handshake JSON");
    assert_eq!(json["sid"], sid);
    assert_eq!(json["upgrades"], serde_json::json!(upgrades));
}

/// Decodes `data` as a long-polling body and asserts:
///
/// - there is one result per record (the body split at every `\x1e`);
/// - an empty record is `Empty`; a `b` record is the binary packet of its base64 exactly
///   when that is standard, padded, canonical base64 (checked against a small reference
///   decoder here), else `InvalidBase64`; any other record is `InvalidUtf8` when not
///   UTF-8, else what `Packet::decode_text` makes of it;
/// - a binary packet encodes back to its record byte for byte;
/// - when every record decodes, the packets written again with [`PayloadEncoder`] (whose
///   announced costs match the bytes it writes) decode to the same packets;
/// - each message passes the `socketio_packet` checks (what the server does next).
pub fn check_payload(data: &[u8]) {
    let results: Vec<_> = decode_payload(data).collect();
    let records: Vec<&[u8]> = data.split(|&b| b == SEPARATOR).collect();
    assert_eq!(results.len(), records.len());
    for (record, result) in records.iter().zip(&results) {
        let shown = String::from_utf8_lossy(record);
        match record.first() {
            None => assert_eq!(result, &Err(DecodeError::Empty)),
            Some(b'b') => match (base64_reference(&record[1..]), result) {
                (Some(bytes), Ok(Packet::Binary(got))) => {
                    assert_eq!(&got[..], &bytes[..], "{shown:?}");
                    let mut again = PayloadEncoder::new();
                    again.push_binary(got);
                    assert_eq!(again.finish(), *record);
                }
                (None, Err(DecodeError::InvalidBase64)) => {}
                (want, got) => panic!("{shown:?}: decoded as {got:?}, base64 says {want:?}"),
            },
            Some(_) => match std::str::from_utf8(record) {
                Err(_) => assert_eq!(result, &Err(DecodeError::InvalidUtf8), "{shown:?}"),
                Ok(text) => assert_eq!(result, &Packet::decode_text(text), "{shown:?}"),
            },
        }
    }

    if let Ok(packets) = results.iter().cloned().collect::<Result<Vec<_>, _>>() {
        let mut body = PayloadEncoder::new();
        for packet in &packets {
            let before = body.len();
            let cost = match packet {
                Packet::Binary(bytes) => {
                    let cost = body.binary_cost(bytes);
                    body.push_binary(bytes);
                    cost
                }
                text => {
                    let mut encoded = Vec::new();
                    text.encode_into(&mut encoded);
                    let cost = body.text_cost(&encoded);
                    body.push_text(&encoded);
                    cost
                }
            };
            assert_eq!(body.len() - before, cost);
        }
        assert!(!body.is_empty());
        let body = body.finish();
        let again: Vec<_> = decode_payload(&body).collect();
        let expected: Vec<_> = packets.iter().cloned().map(Ok).collect();
        assert_eq!(again, expected);
    }

    for result in &results {
        if let Ok(Packet::Message(text)) = result {
            super::socketio::check_packet(text.as_bytes());
        }
    }
}

/// Standard base64 (RFC 4648, `+/`), padded to a multiple of four, canonical (no bits
/// left over in the last character): the bytes, or `None` when `text` is not that.
fn base64_reference(text: &[u8]) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let quads = text.len() / 4;
    let mut out = Vec::with_capacity(quads * 3);
    for (i, quad) in text.chunks_exact(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 < quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | sextet(c)?;
        }
        n <<= 6 * pad as u32;
        let left_over = match pad {
            0 => 0,
            1 => n & 0xff,
            _ => n & 0xffff,
        };
        if left_over != 0 {
            return None;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    Some(out)
}
