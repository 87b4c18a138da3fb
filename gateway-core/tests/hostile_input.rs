//! Every decoder a client's bytes reach, fed random edits of valid input: none may panic,
//! and the WebSocket reader gives the same messages however the bytes are split into reads.
//! (Deterministic: a fixed-seed xorshift generator, so a failure reproduces.)

mod common;

use bytes::{Bytes, BytesMut};
use common::Rng;
use gateway_core::engineio::{decode_payload, Packet};
use gateway_core::socketio::{AnyValue, Args, RawPacket};
use gateway_core::websocket::{apply_mask, opcode, FrameReader, WsMessage};

impl Rng {
    /// One to three random byte edits (replace, delete, insert) of `input`.
    fn mutate(&mut self, input: &[u8], alphabet: &[u8]) -> Vec<u8> {
        let mut bytes = input.to_vec();
        for _ in 0..1 + self.below(3) {
            let at = self.below(bytes.len() + 1);
            let c = if self.next().is_multiple_of(4) {
                self.next() as u8
            } else {
                alphabet[self.below(alphabet.len())]
            };
            match self.next() % 3 {
                0 if at < bytes.len() => bytes[at] = c,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, c),
            }
        }
        bytes
    }
}

/// A masked client frame.
fn frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | op];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend_from_slice(&mask);
    let mut data = payload.to_vec();
    apply_mask(&mut data, mask);
    out.extend_from_slice(&data);
    out
}

/// A client's stream: text, binary, a fragmented message with a ping between its parts,
/// a 300-byte and a 70 000-byte message, a pong, a close.
fn client_stream() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(frame(true, opcode::TEXT, br#"42["echo",{"a":1}]"#));
    s.extend(frame(true, opcode::BINARY, &[1, 2, 3, 255]));
    s.extend(frame(false, opcode::TEXT, b"42[\"long\","));
    s.extend(frame(true, opcode::PING, b"hi"));
    s.extend(frame(true, opcode::CONTINUATION, b"\"text\"]"));
    s.extend(frame(true, opcode::TEXT, &[b'x'; 300]));
    s.extend(frame(true, opcode::BINARY, &vec![7u8; 70_000]));
    s.extend(frame(true, opcode::PONG, b""));
    s.extend(frame(true, opcode::CLOSE, &1000u16.to_be_bytes()));
    s
}

/// Reads `input` in chunks of the given sizes; the messages until the first error, and
/// whether there was one.
fn read_all(input: &[u8], chunks: &mut dyn FnMut() -> usize) -> (Vec<WsMessage>, bool) {
    let mut reader = FrameReader::new(100_000);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut at = 0;
    loop {
        match reader.next_message(&mut buf) {
            Ok(Some(m)) => messages.push(m),
            Ok(None) if at < input.len() => {
                let end = (at + chunks()).min(input.len());
                buf.extend_from_slice(&input[at..end]);
                at = end;
            }
            Ok(None) => return (messages, false),
            Err(_) => return (messages, true),
        }
    }
}

#[test]
fn websocket_frames_split_anywhere_read_the_same() {
    let input = client_stream();
    let (whole, failed) = read_all(&input, &mut || usize::MAX);
    assert!(!failed);
    assert_eq!(whole.len(), 8, "{whole:?}");
    assert_eq!(
        whole[2],
        WsMessage::Ping(Bytes::from_static(b"hi")),
        "a control frame between fragments comes first"
    );
    assert_eq!(
        whole[3],
        WsMessage::Text(Bytes::from_static(br#"42["long","text"]"#))
    );
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..300 {
        let max = [1, 2, 7, 64, 4096][round % 5];
        let (split, failed) = read_all(&input, &mut || 1 + rng.below(max));
        assert!(!failed);
        assert_eq!(split, whole, "chunks of at most {max}");
    }
}

#[test]
fn websocket_reader_survives_edited_streams() {
    let input = client_stream();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut clean, mut refused) = (0, 0);
    for _ in 0..20_000 {
        // Edits near the start hit the headers; that is where the checks are.
        let head = input.len().min(40 + rng.below(400));
        let mut edited = rng.mutate(
            &input[..head],
            &[
                0x00, 0x01, 0x02, 0x08, 0x09, 0x0a, 0x80, 0x81, 0x7e, 0x7f, 0xff,
            ],
        );
        edited.extend_from_slice(&input[head..]);
        let (_, failed) = read_all(&edited, &mut || 1 + rng.below(512));
        if failed {
            refused += 1;
        } else {
            clean += 1;
        }
    }
    assert!(
        refused > 1000 && clean > 100,
        "{refused} refused, {clean} read"
    );
}

const POLLING_BODY: &[u8] =
    b"4hello\x1e3\x1e4\xc3\xa9t\xc3\xa9\x1ebAQID\x1e42[\"e\",{\"k\":[1,2.5,null,true]}]\x1e1";

#[test]
fn polling_payloads_survive_edits() {
    assert_eq!(
        decode_payload(POLLING_BODY).filter(|p| p.is_ok()).count(),
        6
    );
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..20_000 {
        let body = rng.mutate(POLLING_BODY, b"\x1e0123456b4+/=AQ\xc3\xa9\xff");
        for packet in decode_payload(&body) {
            if let Ok(Packet::Message(text)) = packet {
                // What the Socket.IO layer then does with a message.
                socketio_layer(text);
            }
        }
    }
}

const EVENTS: &[&str] = &[
    r#"2["echo",{"client":1,"seq":2,"text":"hé\"llo\\n"}]"#,
    r#"2/chat,17["message",[1,-2.5e3,true,false,null],{"nested":{"a":[{}]}}]"#,
    r#"51-["upload",{"name":"a.png","data":{"_placeholder":true,"num":0}}]"#,
    r#"3/chat,4[{"ok":true}]"#,
    r#"0/admin,{"token":"abc"}"#,
];

/// Header, arguments, each argument as an AnyValue, with an attachment when announced.
fn socketio_layer(text: &str) {
    let Ok(raw) = RawPacket::decode(text) else {
        return;
    };
    let Ok(mut args) = Args::parse_event(Bytes::copy_from_slice(raw.data.as_bytes())) else {
        return;
    };
    if raw.attachments > 0 {
        args.set_attachments(vec![Bytes::from_static(b"\x01\x02")]);
    }
    for i in 0..args.len() {
        let through_serde = args.get::<AnyValue>(i);
        // The direct reader refuses exactly what serde_json refuses.
        assert_eq!(args.get_any(i).is_ok(), through_serde.is_ok(), "{text:?}");
        let _ = args.get::<serde_json::Value>(i);
    }
}

#[test]
fn socketio_packets_survive_edits() {
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    let (mut parsed, mut refused) = (0, 0);
    for event in EVENTS {
        socketio_layer(event);
        for _ in 0..6000 {
            let bytes = rng.mutate(event.as_bytes(), b"[]{}\",:\\/-0123456789eE.tnf_ \xc3\xa9");
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            if RawPacket::decode(text).is_ok() {
                parsed += 1;
            } else {
                refused += 1;
            }
            socketio_layer(text);
        }
    }
    assert!(
        parsed > 1000 && refused > 1000,
        "{parsed} parsed, {refused} refused"
    );
}
