//! `websocket_frames`: the WebSocket frame reader (`FrameReader::next_message`) fed a
//! client's byte stream, whole and split into reads.

use std::iter;

use bytes::{Bytes, BytesMut};
use gateway_core::websocket::{
    apply_mask, encode_header, opcode, FrameKind, FrameReader, WsMessage,
};

/// Message size limits each input is read with: none allowed, smaller than a control
/// frame, the largest control frame, and a realistic one.
const LIMITS: [usize; 4] = [0, 7, 125, 1 << 20];

/// What reading a stream gives: the messages until the first protocol error, that
/// error's close code, and the bytes left waiting for more input (0 after an error).
#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<WsMessage>,
    error: Option<u16>,
    left: usize,
}

/// Reads `data` as a client's stream, for each limit in [`LIMITS`], and asserts:
///
/// - no message is larger than the limit (a ping not larger than 125 bytes either), and
///   a close frame's code is one a peer may send;
/// - splitting the input at any point (every point of a short input, 65 spread over a
///   long one), or feeding it one byte at a time, gives the same messages, the same
///   error and the same bytes left over as reading it whole;
/// - reading it whole gives what a small reference reader written from RFC 6455 here
///   gives (same messages, same close code; checks in the reader's order);
/// - `frame_len_hint` is exact: the first frame is complete with that many bytes and
///   waits (consuming nothing) with one fewer, or is refused as too big;
/// - the messages, written again as masked client frames (texts fragmented around a
///   ping), read back as the same messages.
pub fn check_frames(data: &[u8]) {
    for limit in LIMITS {
        let whole = read(data, limit, []);
        for message in &whole.messages {
            match message {
                WsMessage::Text(b) | WsMessage::Binary(b) => {
                    assert!(b.len() <= limit, "limit {limit}: {message:?}")
                }
                WsMessage::Ping(b) => assert!(b.len() <= limit.min(125), "limit {limit}"),
                WsMessage::Close(Some(code)) => assert!(valid_close_code(*code)),
                WsMessage::Close(None) | WsMessage::Pong => {}
            }
        }
        assert_eq!(
            read(data, limit, 1..data.len()),
            whole,
            "limit {limit}: byte by byte"
        );
        for cut in cuts(data.len()) {
            assert_eq!(
                read(data, limit, [cut]),
                whole,
                "limit {limit}: split at {cut}"
            );
        }
        assert_eq!(model(data, limit), whole, "limit {limit}: reference reader");
        check_hint(data, limit);
        check_rewritten(&whole.messages, limit, data);
    }
}

/// Where to split an input of `len` bytes in two.
fn cuts(len: usize) -> Vec<usize> {
    if len <= 64 {
        (0..=len).collect()
    } else {
        (0..=64).map(|i| i * len / 64).collect()
    }
}

/// Reads `data` fed in pieces ending at `cuts` (increasing) and at its end, taking every
/// message available after each piece.
fn read(data: &[u8], limit: usize, cuts: impl IntoIterator<Item = usize>) -> Outcome {
    let mut reader = FrameReader::new(limit);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut at = 0;
    for end in cuts.into_iter().chain(iter::once(data.len())) {
        buf.extend_from_slice(&data[at..end]);
        at = end;
        loop {
            match reader.next_message(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        messages,
                        error: Some(e.code.0),
                        left: 0,
                    }
                }
            }
        }
    }
    Outcome {
        messages,
        error: None,
        left: buf.len(),
    }
}

/// Close codes a peer may send (RFC 6455, section 7.4, and the IANA registry).
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A reference reader, written from RFC 6455 for clarity rather than speed, checking in
/// the order `FrameReader` checks: reserved bits, mask bit, (wait for the length), opcode
/// and control frame rules, size limit, (wait for the whole frame), then the frame's
/// meaning.
fn model(data: &[u8], limit: usize) -> Outcome {
    const PROTOCOL_ERROR: u16 = 1002;
    const INVALID_DATA: u16 = 1007;
    const TOO_BIG: u16 = 1009;
    let mut messages = Vec::new();
    let fail = |messages, code| Outcome {
        messages,
        error: Some(code),
        left: 0,
    };
    let mut fragments: Option<(u8, Vec<u8>)> = None;
    let mut pos = 0;
    while let [b0, b1, ..] = data[pos..] {
        let rest = &data[pos..];
        if b0 & 0x70 != 0 || b1 & 0x80 == 0 {
            return fail(messages, PROTOCOL_ERROR);
        }
        let fin = b0 & 0x80 != 0;
        let op = b0 & 0x0f;
        let (len, extended) = match b1 & 0x7f {
            126 if rest.len() >= 4 => (u64::from(u16::from_be_bytes([rest[2], rest[3]])), 2),
            127 if rest.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(n), 8)
            }
            126 | 127 => break,
            n => (u64::from(n), 0),
        };
        let control = op >= 8;
        if !matches!(op, 0 | 1 | 2 | 8 | 9 | 10) || (control && (!fin || len > 125)) {
            return fail(messages, PROTOCOL_ERROR);
        }
        if len > limit as u64 {
            return fail(messages, TOO_BIG);
        }
        let header = 2 + extended + 4;
        let len = len as usize;
        if rest.len() < header + len {
            break;
        }
        let mask = &rest[header - 4..header];
        let payload: Vec<u8> = rest[header..header + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        pos += header + len;
        match op {
            0x9 => messages.push(WsMessage::Ping(payload.into())),
            0xA => messages.push(WsMessage::Pong),
            0x8 => match payload[..] {
                [] => messages.push(WsMessage::Close(None)),
                [_] => return fail(messages, PROTOCOL_ERROR),
                [a, b, ref reason @ ..] => {
                    let code = u16::from_be_bytes([a, b]);
                    if !valid_close_code(code) {
                        return fail(messages, PROTOCOL_ERROR);
                    }
                    if std::str::from_utf8(reason).is_err() {
                        return fail(messages, INVALID_DATA);
                    }
                    messages.push(WsMessage::Close(Some(code)));
                }
            },
            0x0 => {
                let Some((_, joined)) = fragments.as_mut() else {
                    return fail(messages, PROTOCOL_ERROR);
                };
                if joined.len() + payload.len() > limit {
                    return fail(messages, TOO_BIG);
                }
                joined.extend_from_slice(&payload);
                if fin {
                    if let Some((op, joined)) = fragments.take() {
                        messages.push(data_message(op, joined.into()));
                    }
                }
            }
            op => {
                if fragments.is_some() {
                    return fail(messages, PROTOCOL_ERROR);
                }
                if fin {
                    messages.push(data_message(op, payload.into()));
                } else {
                    fragments = Some((op, payload));
                }
            }
        }
    }
    Outcome {
        messages,
        error: None,
        left: data.len() - pos,
    }
}

fn data_message(op: u8, data: Bytes) -> WsMessage {
    if op == opcode::TEXT {
        WsMessage::Text(data)
    } else {
        WsMessage::Binary(data)
    }
}

/// `frame_len_hint` against what reading the first frame needs.
fn check_hint(data: &[u8], limit: usize) {
    let Some(hint) = FrameReader::new(limit).frame_len_hint(data) else {
        return;
    };
    assert!(hint >= 6, "a client frame has at least 6 bytes");
    let too_big = |e: gateway_core::websocket::ProtocolError| assert_eq!(e.code.0, 1009);
    if hint > data.len() {
        let mut buf = BytesMut::from(data);
        match FrameReader::new(limit).next_message(&mut buf) {
            Ok(None) => assert_eq!(buf.len(), data.len(), "hint {hint}"),
            Ok(Some(m)) => panic!("hint {hint}, yet {m:?} from {} bytes", data.len()),
            Err(e) => too_big(e),
        }
        return;
    }
    let mut buf = BytesMut::from(&data[..hint]);
    // Unless refused, the frame is whole: a message comes out or a first fragment goes in.
    if FrameReader::new(limit).next_message(&mut buf).is_ok() {
        assert!(buf.is_empty(), "hint {hint}: {} bytes left", buf.len());
    }
    let mut buf = BytesMut::from(&data[..hint - 1]);
    match FrameReader::new(limit).next_message(&mut buf) {
        Ok(None) => assert_eq!(buf.len(), hint - 1, "hint {hint}"),
        Ok(Some(m)) => panic!("hint {hint}, yet {m:?} from one byte fewer"),
        Err(e) => too_big(e),
    }
}

/// A masked client frame.
fn client_frame(out: &mut Vec<u8>, fin: bool, op: u8, payload: &[u8], mask: [u8; 4]) {
    let start = out.len();
    encode_header(out, FrameKind::Binary, payload.len());
    out[start] = (u8::from(fin) << 7) | op;
    out[start + 1] |= 0x80;
    out.extend_from_slice(&mask);
    let at = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[at..], mask);
}

/// `messages` written again as client frames (masked with bytes of `data`; texts in two
/// fragments with an empty ping between them) read back with the same limit.
fn check_rewritten(messages: &[WsMessage], limit: usize, data: &[u8]) {
    let mut mask = [0x5a; 4];
    for (m, b) in mask.iter_mut().zip(data.iter().rev()) {
        *m = *b;
    }
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for message in messages {
        match message {
            WsMessage::Text(text) => {
                let mid = text.len() / 2;
                client_frame(&mut stream, false, opcode::TEXT, &text[..mid], mask);
                client_frame(&mut stream, true, opcode::PING, b"", mask);
                client_frame(&mut stream, true, opcode::CONTINUATION, &text[mid..], mask);
                expected.push(WsMessage::Ping(Bytes::new()));
            }
            WsMessage::Binary(bytes) => {
                client_frame(&mut stream, true, opcode::BINARY, bytes, mask)
            }
            WsMessage::Ping(bytes) => client_frame(&mut stream, true, opcode::PING, bytes, mask),
            WsMessage::Pong => client_frame(&mut stream, true, opcode::PONG, b"", mask),
            WsMessage::Close(None) => client_frame(&mut stream, true, opcode::CLOSE, b"", mask),
            WsMessage::Close(Some(code)) => {
                client_frame(&mut stream, true, opcode::CLOSE, &code.to_be_bytes(), mask)
            }
        }
        expected.push(message.clone());
    }
    let again = read(&stream, limit, []);
    let want = Outcome {
        messages: expected,
        error: None,
        left: 0,
    };
    assert_eq!(again, want, "limit {limit}: messages written again");
}
