use std::fmt;

use bytes::Bytes;

/// The seven Engine.IO packet types, by their wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// `0`: sent by the server once, with the handshake data.
    Open,
    /// `1`: asks the peer to close the session.
    Close,
    /// `2`: heartbeat request (the server pings; `2probe` probes a websocket upgrade).
    Ping,
    /// `3`: heartbeat answer.
    Pong,
    /// `4`: a text message (a Socket.IO packet, or any text for bare Engine.IO).
    Message,
    /// `5`: completes a transport upgrade.
    Upgrade,
    /// `6`: does nothing; used to release a pending poll during an upgrade.
    Noop,
    /// A binary message (`b<base64>` in polling, a binary frame over WebSocket).
    Binary,
}

impl PacketKind {
    /// The digit that starts a text packet of this kind (`None` for binary).
    pub const fn digit(self) -> Option<u8> {
        match self {
            Self::Open => Some(b'0'),
            Self::Close => Some(b'1'),
            Self::Ping => Some(b'2'),
            Self::Pong => Some(b'3'),
            Self::Message => Some(b'4'),
            Self::Upgrade => Some(b'5'),
            Self::Noop => Some(b'6'),
            Self::Binary => None,
        }
    }
}

/// A decoded Engine.IO packet borrowing its text from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `0{...}` handshake data.
    Open(&'a str),
    /// `1`.
    Close,
    /// `2` with optional data (`probe` during an upgrade).
    Ping(&'a str),
    /// `3` with optional data (`probe` during an upgrade).
    Pong(&'a str),
    /// `4` followed by text.
    Message(&'a str),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
    /// Binary data.
    Binary(Bytes),
}

/// Why bytes could not be read as Engine.IO packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input was empty where a packet was expected.
    Empty,
    /// The first character is not a packet type digit.
    UnknownType(u8),
    /// A `b` packet whose base64 is invalid.
    InvalidBase64,
    /// Text that is not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty Engine.IO packet"),
            Self::UnknownType(b) => write!(f, "unknown Engine.IO packet type {:?}", *b as char),
            Self::InvalidBase64 => f.write_str("invalid base64 in a binary Engine.IO packet"),
            Self::InvalidUtf8 => f.write_str("Engine.IO text packet is not valid UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl<'a> Packet<'a> {
    /// Decodes one text packet (a WebSocket text frame, or one record of a polling body
    /// that does not start with `b`).
    ///
    /// ```
    /// use gateway_core::engineio::Packet;
    /// assert_eq!(Packet::decode_text("2probe").unwrap(), Packet::Ping("probe"));
    /// assert!(Packet::decode_text("9").is_err());
    /// ```
    pub fn decode_text(text: &'a str) -> Result<Self, DecodeError> {
        let first = *text.as_bytes().first().ok_or(DecodeError::Empty)?;
        if !first.is_ascii_digit() {
            // Also keeps the slice below on a character boundary.
            return Err(DecodeError::UnknownType(first));
        }
        let data = &text[1..];
        Ok(match first {
            b'0' => Packet::Open(data),
            b'1' => Packet::Close,
            b'2' => Packet::Ping(data),
            b'3' => Packet::Pong(data),
            b'4' => Packet::Message(data),
            b'5' => Packet::Upgrade,
            b'6' => Packet::Noop,
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// The packet's kind.
    pub fn kind(&self) -> PacketKind {
        match self {
            Packet::Open(_) => PacketKind::Open,
            Packet::Close => PacketKind::Close,
            Packet::Ping(_) => PacketKind::Ping,
            Packet::Pong(_) => PacketKind::Pong,
            Packet::Message(_) => PacketKind::Message,
            Packet::Upgrade => PacketKind::Upgrade,
            Packet::Noop => PacketKind::Noop,
            Packet::Binary(_) => PacketKind::Binary,
        }
    }

    /// Appends the text form of this packet (binary packets as raw bytes) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (digit, data): (u8, &str) = match self {
            Packet::Open(d) => (b'0', d),
            Packet::Close => (b'1', ""),
            Packet::Ping(d) => (b'2', d),
            Packet::Pong(d) => (b'3', d),
            Packet::Message(d) => (b'4', d),
            Packet::Upgrade => (b'5', ""),
            Packet::Noop => (b'6', ""),
            Packet::Binary(b) => {
                out.extend_from_slice(b);
                return;
            }
        };
        out.push(digit);
        out.extend_from_slice(data.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_type_round_trips() {
        let cases = [
            ("0{\"sid\":\"x\"}", Packet::Open("{\"sid\":\"x\"}")),
            ("1", Packet::Close),
            ("2", Packet::Ping("")),
            ("2probe", Packet::Ping("probe")),
            ("3probe", Packet::Pong("probe")),
            ("4héllo", Packet::Message("héllo")),
            ("4", Packet::Message("")),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
        ];
        for (text, packet) in cases {
            assert_eq!(Packet::decode_text(text).unwrap(), packet, "{text}");
            let mut out = Vec::new();
            packet.encode_into(&mut out);
            assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn malformed_text_is_an_error() {
        assert_eq!(Packet::decode_text(""), Err(DecodeError::Empty));
        assert_eq!(
            Packet::decode_text("7"),
            Err(DecodeError::UnknownType(b'7'))
        );
        assert_eq!(
            Packet::decode_text("x4"),
            Err(DecodeError::UnknownType(b'x'))
        );
    }
}
