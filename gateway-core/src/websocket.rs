//! WebSocket framing (RFC 6455), server side: masked client frames in, unmasked frames out.
//!
//! [`FrameReader`] turns the bytes read from a connection into whole messages (fragments
//! joined, payloads unmasked in place, control frames handed out between fragments) and
//! says which close code a protocol violation deserves. [`encode_header`] writes the
//! header of a server frame; the payload follows it unchanged.
//!
//! ```
//! use bytes::BytesMut;
//! use gateway_core::websocket::{FrameReader, WsMessage};
//!
//! let mut reader = FrameReader::new(1 << 20);
//! // A masked text frame "Hi" (mask 1, 2, 3, 4), as a client sends it.
//! let mut input = BytesMut::from(&[0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2][..]);
//! match reader.next_message(&mut input).unwrap() {
//!     Some(WsMessage::Text(text)) => assert_eq!(&text[..], b"Hi"),
//!     other => panic!("{other:?}"),
//! }
//! ```

use bytes::{Bytes, BytesMut};

/// Frame opcodes (RFC 6455, section 5.2).
pub mod opcode {
    /// A continuation frame of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A binary frame.
    pub const BINARY: u8 = 0x2;
    /// A close frame.
    pub const CLOSE: u8 = 0x8;
    /// A ping.
    pub const PING: u8 = 0x9;
    /// A pong.
    pub const PONG: u8 = 0xA;
}

/// A whole message received from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message. Its bytes are not yet checked to be UTF-8: the caller validates
    /// them once, where it parses them (an invalid one deserves [`CloseCode::INVALID_DATA`]).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping; the server answers with a pong carrying the same bytes.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// A close frame, with its status code when it has one.
    Close(Option<u16>),
}

/// A WebSocket close status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1007: a text message that is not UTF-8, or data the endpoint cannot accept.
    pub const INVALID_DATA: Self = Self(1007);
    /// 1008: the peer broke a policy of the endpoint (e.g. it let its outgoing buffer
    /// grow past its limit by not reading).
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message larger than the endpoint accepts.
    pub const TOO_BIG: Self = Self(1009);
}

/// A received frame broke the protocol; the connection should be closed with `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError {
    /// The close code to send.
    pub code: CloseCode,
    /// What was wrong.
    pub reason: &'static str,
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (close code {})", self.reason, self.code.0)
    }
}

impl std::error::Error for ProtocolError {}

fn violation(reason: &'static str) -> ProtocolError {
    ProtocolError {
        code: CloseCode::PROTOCOL_ERROR,
        reason,
    }
}

struct Header {
    fin: bool,
    /// RSV1: a compressed message (permessage-deflate).
    compressed: bool,
    opcode: u8,
    mask: [u8; 4],
    header_len: usize,
    payload_len: usize,
}

/// Parses the header at the start of `buf`; `None` when more bytes are needed.
fn parse_header(buf: &[u8], max: usize, deflate: bool) -> Result<Option<Header>, ProtocolError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    // RSV1 marks a compressed message when permessage-deflate was negotiated: on the first
    // frame of a data message only.
    let compressed =
        deflate && b0 & 0x40 != 0 && matches!(b0 & 0x0F, opcode::TEXT | opcode::BINARY);
    if b0 & 0x70 != 0 && !(compressed && b0 & 0x30 == 0) {
        return Err(violation("reserved bits set without an extension"));
    }
    if b1 & 0x80 == 0 {
        return Err(violation("client frames must be masked"));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    let (len, len_bytes) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut n = [0u8; 8];
                n.copy_from_slice(b);
                (u64::from_be_bytes(n), 8)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 0),
    };
    match opcode {
        opcode::CLOSE | opcode::PING | opcode::PONG => {
            if !fin {
                return Err(violation("fragmented control frame"));
            }
            if len > 125 {
                return Err(violation("control frame longer than 125 bytes"));
            }
        }
        opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => {}
        _ => return Err(violation("unknown opcode")),
    }
    if len > max as u64 {
        return Err(ProtocolError {
            code: CloseCode::TOO_BIG,
            reason: "message larger than the limit",
        });
    }
    let header_len = 2 + len_bytes + 4;
    let Some(m) = buf.get(header_len - 4..header_len) else {
        return Ok(None);
    };
    Ok(Some(Header {
        fin,
        compressed,
        opcode,
        mask: [m[0], m[1], m[2], m[3]],
        header_len,
        payload_len: len as usize,
    }))
}

/// Unmasks (or masks) `data` in place.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let v = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i];
    }
}

/// Reassembles client messages from the bytes of a connection.
#[derive(Debug)]
pub struct FrameReader {
    max_message: usize,
    /// The opcode, the bytes so far and whether it is compressed, of a fragmented message.
    fragments: Option<(u8, BytesMut, bool)>,
    /// permessage-deflate was negotiated: compressed messages are inflated.
    deflate: bool,
}

impl FrameReader {
    /// A reader refusing messages larger than `max_message` bytes (close code 1009).
    pub fn new(max_message: usize) -> Self {
        Self {
            max_message,
            fragments: None,
            deflate: false,
        }
    }

    /// Accepts compressed messages (RSV1), inflating them: permessage-deflate was
    /// negotiated. A message larger than the limit once inflated closes with 1009 too.
    pub fn with_deflate(mut self, on: bool) -> Self {
        self.deflate = on;
        self
    }

    /// How many bytes `buf` must hold before the frame at its start is complete: a hint to
    /// reserve room for a large message at once. `None` when the header is incomplete.
    pub fn frame_len_hint(&self, buf: &[u8]) -> Option<usize> {
        parse_header(buf, usize::MAX, self.deflate)
            .ok()
            .flatten()
            .map(|h| h.header_len.saturating_add(h.payload_len))
    }

    /// Takes the next whole message off the front of `buf`: `Ok(None)` when `buf` holds no
    /// complete message yet (the bytes stay; read more and call again).
    pub fn next_message(&mut self, buf: &mut BytesMut) -> Result<Option<WsMessage>, ProtocolError> {
        loop {
            let Some(h) = parse_header(buf, self.max_message, self.deflate)? else {
                return Ok(None);
            };
            let total = h.header_len + h.payload_len;
            if buf.len() < total {
                return Ok(None);
            }
            let _ = buf.split_to(h.header_len);
            let mut payload = buf.split_to(h.payload_len);
            apply_mask(&mut payload, h.mask);
            match h.opcode {
                opcode::PING => return Ok(Some(WsMessage::Ping(payload.freeze()))),
                opcode::PONG => return Ok(Some(WsMessage::Pong)),
                opcode::CLOSE => return close_message(&payload).map(Some),
                opcode::CONTINUATION => {
                    let Some((_, data, _)) = self.fragments.as_mut() else {
                        return Err(violation("continuation without a message to continue"));
                    };
                    if data.len() + payload.len() > self.max_message {
                        return Err(ProtocolError {
                            code: CloseCode::TOO_BIG,
                            reason: "message larger than the limit",
                        });
                    }
                    data.extend_from_slice(&payload);
                    if h.fin {
                        if let Some((op, data, compressed)) = self.fragments.take() {
                            return self.finish(op, data, compressed).map(Some);
                        }
                    }
                }
                op => {
                    if self.fragments.is_some() {
                        return Err(violation("new message before the last one ended"));
                    }
                    if h.fin {
                        return self.finish(op, payload, h.compressed).map(Some);
                    }
                    self.fragments = Some((op, payload, h.compressed));
                }
            }
        }
    }
}

impl FrameReader {
    /// A whole data message, inflated when it was compressed.
    #[inline(always)]
    fn finish(&self, op: u8, data: BytesMut, compressed: bool) -> Result<WsMessage, ProtocolError> {
        if !compressed {
            return Ok(data_message(op, data.freeze()));
        }
        self.inflated(op, &data)
    }

    /// A compressed message, inflated (off the common path).
    #[cold]
    #[inline(never)]
    fn inflated(&self, op: u8, data: &[u8]) -> Result<WsMessage, ProtocolError> {
        match crate::permessage_deflate::inflate(data, self.max_message) {
            Ok(inflated) => Ok(data_message(op, inflated.into())),
            Err(crate::permessage_deflate::InflateError::TooLarge) => Err(ProtocolError {
                code: CloseCode::TOO_BIG,
                reason: "message larger than the limit",
            }),
            Err(crate::permessage_deflate::InflateError::Invalid) => {
                Err(violation("invalid compressed data"))
            }
        }
    }
}

fn data_message(op: u8, data: Bytes) -> WsMessage {
    if op == opcode::TEXT {
        WsMessage::Text(data)
    } else {
        WsMessage::Binary(data)
    }
}

fn close_message(payload: &[u8]) -> Result<WsMessage, ProtocolError> {
    match payload {
        [] => Ok(WsMessage::Close(None)),
        [_] => Err(violation("close frame with a one-byte payload")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid {
                return Err(violation("invalid close code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(ProtocolError {
                    code: CloseCode::INVALID_DATA,
                    reason: "close reason is not UTF-8",
                });
            }
            Ok(WsMessage::Close(Some(code)))
        }
    }
}

/// Kinds of frames a server writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A text message.
    Text,
    /// A binary message.
    Binary,
    /// A close frame.
    Close,
    /// A ping.
    Ping,
    /// A pong.
    Pong,
}

/// Appends the header of an unmasked, final frame of `kind` carrying `len` bytes.
///
/// ```
/// use gateway_core::websocket::{encode_header, FrameKind};
///
/// let mut out = Vec::new();
/// encode_header(&mut out, FrameKind::Text, 5);
/// assert_eq!(out, [0x81, 5]);
/// ```
#[inline]
pub fn encode_header(out: &mut Vec<u8>, kind: FrameKind, len: usize) {
    encode_header_rsv1(out, kind, len, false);
}

/// [`encode_header`] with RSV1 set when `compressed` (a permessage-deflate message).
#[inline]
pub fn encode_header_rsv1(out: &mut Vec<u8>, kind: FrameKind, len: usize, compressed: bool) {
    let op = match kind {
        FrameKind::Text => opcode::TEXT,
        FrameKind::Binary => opcode::BINARY,
        FrameKind::Close => opcode::CLOSE,
        FrameKind::Ping => opcode::PING,
        FrameKind::Pong => opcode::PONG,
    };
    out.push(0x80 | if compressed { 0x40 } else { 0 } | op);
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a whole close frame with `code` (and no reason).
pub fn encode_close(out: &mut Vec<u8>, code: CloseCode) {
    encode_close_with_reason(out, code, "");
}

/// Appends a whole close frame with `code` and a `reason` for the peer (cut to the 123
/// bytes a control frame has room for, at a character boundary).
///
/// ```
/// use gateway_core::websocket::{encode_close_with_reason, CloseCode};
///
/// let mut out = Vec::new();
/// encode_close_with_reason(&mut out, CloseCode::POLICY_VIOLATION, "too slow");
/// assert_eq!(out, [0x88, 10, 0x03, 0xf0, b't', b'o', b'o', b' ', b's', b'l', b'o', b'w']);
/// ```
pub fn encode_close_with_reason(out: &mut Vec<u8>, code: CloseCode, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    encode_header(out, FrameKind::Close, 2 + reason.len());
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(reason);
}

/// The `Sec-WebSocket-Accept` value answering a `Sec-WebSocket-Key`.
///
/// ```
/// // The example of RFC 6455, section 1.3.
/// assert_eq!(
///     gateway_core::websocket::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    use base64::Engine as _;
    use sha1::Digest as _;
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha = sha1::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(fin: bool, op: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_header(&mut out, FrameKind::Binary, payload.len());
        out[0] = if fin { 0x80 } else { 0 } | op;
        out[1] |= 0x80;
        out.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        apply_mask(&mut p, mask);
        out.extend_from_slice(&p);
        out
    }

    fn read_all(reader: &mut FrameReader, bytes: &[u8]) -> Result<Vec<WsMessage>, ProtocolError> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(m) = reader.next_message(&mut buf)? {
            out.push(m);
        }
        Ok(out)
    }

    #[test]
    fn lengths_of_every_size_class_round_trip() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let frame = client_frame(true, 2, &payload, [9, 8, 7, 6]);
            let mut reader = FrameReader::new(1 << 20);
            let mut buf = BytesMut::new();
            // Byte by byte near the header, then the rest: partial input waits.
            for (i, b) in frame.iter().enumerate() {
                buf.extend_from_slice(&[*b]);
                if i + 1 < frame.len() && i < 12 {
                    assert_eq!(
                        reader.next_message(&mut buf).unwrap(),
                        None,
                        "len {len} at {i}"
                    );
                }
            }
            assert_eq!(
                reader.next_message(&mut buf).unwrap(),
                Some(WsMessage::Binary(Bytes::from(payload))),
                "len {len}"
            );
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn fragments_join_and_control_frames_pass_between() {
        let mut bytes = client_frame(false, 1, b"he", [1, 2, 3, 4]);
        bytes.extend(client_frame(true, 9, b"p", [5, 5, 5, 5]));
        bytes.extend(client_frame(false, 0, b"ll", [0, 1, 0, 1]));
        bytes.extend(client_frame(true, 0, b"o", [7, 7, 7, 7]));
        let got = read_all(&mut FrameReader::new(100), &bytes).unwrap();
        assert_eq!(
            got,
            [
                WsMessage::Ping(Bytes::from_static(b"p")),
                WsMessage::Text(Bytes::from_static(b"hello"))
            ]
        );
    }

    #[test]
    fn violations_name_their_close_code() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (vec![0x81, 0x01, b'x'], 1002),                         // unmasked
            (client_frame(true, 3, b"", [0; 4]), 1002),             // reserved opcode
            (client_frame(false, 9, b"", [0; 4]), 1002),            // fragmented ping
            (client_frame(true, 9, &[0; 126], [0; 4]), 1002),       // long ping
            (client_frame(true, 0, b"x", [0; 4]), 1002),            // stray continuation
            (client_frame(true, 2, &[0; 101], [0; 4]), 1009),       // too big
            (client_frame(true, 8, &[0x03, 0xEC], [0; 4]), 1002),   // close code 1004
            (client_frame(true, 8, &[3, 232, 0xFF], [0; 4]), 1007), // reason not UTF-8
            (
                {
                    let mut b = client_frame(true, 1, b"", [0; 4]);
                    b[0] |= 0x40;
                    b
                },
                1002,
            ), // RSV1
            (
                {
                    let mut b = client_frame(false, 1, &[0; 60], [0; 4]);
                    b.extend(client_frame(true, 0, &[0; 60], [0; 4]));
                    b
                },
                1009,
            ), // fragments over the limit
            (
                {
                    let mut b = client_frame(false, 1, b"a", [0; 4]);
                    b.extend(client_frame(true, 1, b"b", [0; 4]));
                    b
                },
                1002,
            ), // new message inside a fragmented one
        ];
        for (i, (bytes, code)) in cases.into_iter().enumerate() {
            let err = read_all(&mut FrameReader::new(100), &bytes).unwrap_err();
            assert_eq!(err.code.0, code, "case {i}: {err}");
        }
    }

    #[test]
    fn compressed_messages_are_inflated_only_when_negotiated() {
        let text = "compress me ".repeat(50);
        let mut packed = Vec::new();
        crate::permessage_deflate::deflate(text.as_bytes(), &mut packed);
        let mut whole = client_frame(true, opcode::TEXT, &packed, [9, 8, 7, 6]);
        whole[0] |= 0x40;
        let mut reader = FrameReader::new(1 << 20).with_deflate(true);
        assert_eq!(
            read_all(&mut reader, &whole).unwrap(),
            vec![WsMessage::Text(Bytes::from(text.clone()))]
        );
        // Fragmented: RSV1 on the first frame only.
        let (a, b) = packed.split_at(packed.len() / 2);
        let mut first = client_frame(false, opcode::TEXT, a, [1, 1, 1, 1]);
        first[0] |= 0x40;
        let mut both = first.clone();
        both.extend(client_frame(true, opcode::CONTINUATION, b, [2, 2, 2, 2]));
        assert_eq!(
            read_all(&mut reader, &both).unwrap(),
            vec![WsMessage::Text(Bytes::from(text))]
        );
        let mut rsv_on_continuation = client_frame(false, opcode::TEXT, a, [1, 1, 1, 1]);
        let mut cont = client_frame(true, opcode::CONTINUATION, b, [2, 2, 2, 2]);
        cont[0] |= 0x40;
        rsv_on_continuation.extend(cont);
        assert!(read_all(
            &mut FrameReader::new(1 << 20).with_deflate(true),
            &rsv_on_continuation
        )
        .is_err());
        // Not negotiated: RSV1 is a violation.
        assert!(read_all(&mut FrameReader::new(1 << 20), &whole).is_err());
        // A small message inflating past the limit: 1009.
        let mut bomb = Vec::new();
        crate::permessage_deflate::deflate(&vec![b'a'; 100_000], &mut bomb);
        let mut frame = client_frame(true, opcode::BINARY, &bomb, [0, 0, 0, 0]);
        frame[0] |= 0x40;
        let err = read_all(&mut FrameReader::new(10_000).with_deflate(true), &frame).unwrap_err();
        assert_eq!(err.code, CloseCode::TOO_BIG);
    }

    #[test]
    fn close_frames_carry_their_code() {
        let got = read_all(
            &mut FrameReader::new(100),
            &client_frame(true, 8, &[3, 232, b'o', b'k'], [3; 4]),
        )
        .unwrap();
        assert_eq!(got, [WsMessage::Close(Some(1000))]);
        let got = read_all(
            &mut FrameReader::new(100),
            &client_frame(true, 8, b"", [3; 4]),
        )
        .unwrap();
        assert_eq!(got, [WsMessage::Close(None)]);
    }

    #[test]
    fn mask_handles_every_alignment() {
        for len in 0..13 {
            let original: Vec<u8> = (0..len as u8).collect();
            let mut data = original.clone();
            apply_mask(&mut data, [0xA, 0xB, 0xC, 0xD]);
            let expected: Vec<u8> = original
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ [0xA, 0xB, 0xC, 0xD][i % 4])
                .collect();
            assert_eq!(data, expected);
        }
    }

    #[test]
    fn server_headers_use_the_shortest_length() {
        let mut out = Vec::new();
        encode_header(&mut out, FrameKind::Binary, 126);
        assert_eq!(out, [0x82, 126, 0, 126]);
        out.clear();
        encode_header(&mut out, FrameKind::Text, 65536);
        assert_eq!(out, [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
        out.clear();
        encode_close(&mut out, CloseCode::TOO_BIG);
        assert_eq!(out, [0x88, 2, 0x03, 0xF1]);
    }
}
