use std::fmt;

/// Largest number of binary attachments accepted in one packet.
pub const MAX_ATTACHMENTS: usize = 1024;

/// The Socket.IO packet types, by their wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0`: joins a namespace (client) / confirms it (server).
    Connect,
    /// `1`: leaves a namespace.
    Disconnect,
    /// `2`: an event.
    Event,
    /// `3`: an acknowledgement.
    Ack,
    /// `4`: a refused namespace connection.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck,
}

impl PacketKind {
    /// The wire digit.
    pub const fn digit(self) -> u8 {
        match self {
            Self::Connect => b'0',
            Self::Disconnect => b'1',
            Self::Event => b'2',
            Self::Ack => b'3',
            Self::ConnectError => b'4',
            Self::BinaryEvent => b'5',
            Self::BinaryAck => b'6',
        }
    }

    fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// Whether packets of this kind carry binary attachments.
    pub const fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// Why a text could not be read as a Socket.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Empty text.
    Empty,
    /// The type digit is unknown.
    UnknownType,
    /// The attachment count of a binary packet is missing or invalid.
    InvalidAttachments,
    /// The ack id does not fit in 64 bits.
    InvalidId,
    /// The namespace is not followed by `,` before the data.
    InvalidNamespace,
    /// The JSON data is invalid or not of the shape the packet type requires.
    InvalidPayload,
    /// An event named with a name Socket.IO reserves (`connect`, `disconnect`, …).
    ReservedEvent,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty Socket.IO packet",
            Self::UnknownType => "unknown Socket.IO packet type",
            Self::InvalidAttachments => "invalid attachment count",
            Self::InvalidId => "invalid ack id",
            Self::InvalidNamespace => "invalid namespace",
            Self::InvalidPayload => "invalid payload for the packet type",
            Self::ReservedEvent => "reserved event name",
        })
    }
}

impl std::error::Error for ParseError {}

/// A Socket.IO packet with its header read and its JSON data left as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// The packet type.
    pub kind: PacketKind,
    /// The namespace (`/` when absent).
    pub nsp: &'a str,
    /// The ack id, when the sender asks for (or answers) an acknowledgement.
    pub id: Option<u64>,
    /// Binary attachments that follow (binary types only).
    pub attachments: usize,
    /// The JSON data, possibly empty.
    pub data: &'a str,
}

impl<'a> RawPacket<'a> {
    /// Reads the header of a packet and checks that its data has the right JSON shape
    /// (an object for CONNECT, a non-empty array starting with a name for EVENT, an array
    /// for ACK).
    ///
    /// ```
    /// use gateway_core::socketio::{PacketKind, RawPacket};
    /// let p = RawPacket::decode(r#"51-["up",{"_placeholder":true,"num":0}]"#).unwrap();
    /// assert_eq!((p.kind, p.attachments, p.nsp), (PacketKind::BinaryEvent, 1, "/"));
    /// assert!(RawPacket::decode(r#"2["a"#).is_err());
    /// assert!(RawPacket::decode("2{}").is_err());
    /// ```
    pub fn decode(text: &'a str) -> Result<Self, ParseError> {
        let packet = Self::decode_header(text)?;
        packet.check_json()?;
        Ok(packet)
    }

    /// Like [`RawPacket::decode`], but leaves the JSON data unchecked beyond its first
    /// character: for callers that parse the data next anyway (and treat a failure there
    /// as a parse error), so it is read once.
    pub fn decode_header(text: &'a str) -> Result<Self, ParseError> {
        let bytes = text.as_bytes();
        let kind = PacketKind::from_digit(*bytes.first().ok_or(ParseError::Empty)?)
            .ok_or(ParseError::UnknownType)?;
        let mut i = 1;
        let mut attachments = 0;
        if kind.is_binary() {
            let dash = bytes[i..]
                .iter()
                .position(|&b| b == b'-')
                .ok_or(ParseError::InvalidAttachments)?;
            attachments = parse_digits(&bytes[i..i + dash])
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n <= MAX_ATTACHMENTS)
                .ok_or(ParseError::InvalidAttachments)?;
            i += dash + 1;
        }
        let mut nsp = "/";
        if bytes.get(i) == Some(&b'/') {
            let end = bytes[i..]
                .iter()
                .position(|&b| b == b',')
                .map_or(bytes.len(), |p| i + p);
            nsp = &text[i..end];
            i = (end + 1).min(bytes.len());
        }
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let id = if digits > 0 {
            let id = parse_digits(&bytes[i..i + digits]).ok_or(ParseError::InvalidId)?;
            i += digits;
            Some(id)
        } else {
            None
        };
        let data = &text[i..];
        let packet = RawPacket {
            kind,
            nsp,
            id,
            attachments,
            data,
        };
        packet.check_shape()?;
        Ok(packet)
    }

    fn check_json(&self) -> Result<(), ParseError> {
        let data = trim_json_whitespace(self.data);
        if data.is_empty() {
            return Ok(());
        }
        // Validate the JSON without building a value tree.
        super::scan::validate(data.as_bytes()).map_err(|_| ParseError::InvalidPayload)
    }

    fn check_shape(&self) -> Result<(), ParseError> {
        let data = trim_json_whitespace(self.data);
        match self.kind {
            PacketKind::Connect => {
                if !data.is_empty() && !data.starts_with('{') {
                    return Err(ParseError::InvalidPayload);
                }
            }
            PacketKind::Disconnect => {
                if !data.is_empty() {
                    return Err(ParseError::InvalidPayload);
                }
            }
            PacketKind::Event | PacketKind::BinaryEvent => {
                if !data.starts_with('[') {
                    return Err(ParseError::InvalidPayload);
                }
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                if !data.starts_with('[') || self.id.is_none() {
                    return Err(ParseError::InvalidPayload);
                }
            }
            PacketKind::ConnectError => {
                if !(data.starts_with('{') || data.starts_with('"')) {
                    return Err(ParseError::InvalidPayload);
                }
            }
        }
        Ok(())
    }
}

/// `text` without its leading JSON whitespace: space, tab, line feed and carriage return
/// only (RFC 8259). `str::trim_start` would also drop Unicode whitespace such as U+00A0 or
/// U+2028, which JSON (and so serde_json, which reads the data next) does not allow.
fn trim_json_whitespace(text: &str) -> &str {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
}

fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> RawPacket<'_> {
        RawPacket::decode(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn headers_of_every_type() {
        let p = ok("0");
        assert_eq!(
            (p.kind, p.nsp, p.id, p.data),
            (PacketKind::Connect, "/", None, "")
        );
        let p = ok(r#"0/admin,{"token":"x"}"#);
        assert_eq!((p.nsp, p.data), ("/admin", r#"{"token":"x"}"#));
        let p = ok("1/admin,");
        assert_eq!(
            (p.kind, p.nsp, p.data),
            (PacketKind::Disconnect, "/admin", "")
        );
        let p = ok("1");
        assert_eq!(p.kind, PacketKind::Disconnect);
        let p = ok(r#"2["hello",1]"#);
        assert_eq!((p.kind, p.id), (PacketKind::Event, None));
        let p = ok(r#"2/chat,42["hello"]"#);
        assert_eq!((p.nsp, p.id, p.data), ("/chat", Some(42), r#"["hello"]"#));
        let p = ok(r#"3/chat,7[]"#);
        assert_eq!((p.kind, p.id), (PacketKind::Ack, Some(7)));
        let p = ok(r#"4{"message":"no"}"#);
        assert_eq!(p.kind, PacketKind::ConnectError);
        let p = ok(r#"52-/x,3["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#);
        assert_eq!(
            (p.kind, p.attachments, p.nsp, p.id),
            (PacketKind::BinaryEvent, 2, "/x", Some(3))
        );
        let p = ok(r#"61-9[{"_placeholder":true,"num":0}]"#);
        assert_eq!(
            (p.kind, p.attachments, p.id),
            (PacketKind::BinaryAck, 1, Some(9))
        );
    }

    #[test]
    fn malformed_packets_are_errors() {
        let bad = [
            ("", ParseError::Empty),
            ("9", ParseError::UnknownType),
            ("a", ParseError::UnknownType),
            ("5[\"a\"]", ParseError::InvalidAttachments),
            ("5x-[\"a\"]", ParseError::InvalidAttachments),
            ("599999-[\"a\"]", ParseError::InvalidAttachments),
            ("299999999999999999999999[\"a\"]", ParseError::InvalidId),
            ("2", ParseError::InvalidPayload),
            ("2{}", ParseError::InvalidPayload),
            ("2[\"a\"", ParseError::InvalidPayload),
            ("2[\"a\"]garbage", ParseError::InvalidPayload),
            ("0[]", ParseError::InvalidPayload),
            ("1{}", ParseError::InvalidPayload),
            ("3[]", ParseError::InvalidPayload),
            ("31{}", ParseError::InvalidPayload),
        ];
        for (text, err) in bad {
            assert_eq!(RawPacket::decode(text), Err(err), "{text:?}");
        }
    }

    /// Only JSON's four whitespace characters may come before the data; Unicode
    /// whitespace (no-break space, line separator, form feed, …) is refused, as serde_json
    /// refuses it.
    #[test]
    fn only_json_whitespace_before_the_data() {
        for ws in [" ", "\t", "\n", "\r", " \r\n\t "] {
            for (head, data) in [
                ("0", r#"{"a":1}"#),
                ("2", r#"["e"]"#),
                ("37", "[]"),
                ("4", r#""no""#),
                ("51-", r#"["e",{"_placeholder":true,"num":0}]"#),
            ] {
                let text = format!("{head}{ws}{data}");
                let p = ok(&text);
                assert_eq!(p.data, format!("{ws}{data}"));
                assert!(serde_json::from_str::<serde_json::Value>(p.data).is_ok());
            }
            // Whitespace alone is no data, where the type allows none.
            assert_eq!(ok(&format!("0{ws}")).kind, PacketKind::Connect);
            assert_eq!(ok(&format!("1/a,{ws}")).kind, PacketKind::Disconnect);
        }
        for ws in [
            "\u{a0}", "\u{2028}", "\u{2029}", "\u{feff}", "\u{3000}", "\u{b}", "\u{c}",
        ] {
            for (head, data) in [
                ("0", r#"{"a":1}"#),
                ("0", ""),
                ("1", ""),
                ("2", r#"["e"]"#),
                ("2/chat,5", r#"["e"]"#),
                ("37", "[]"),
                ("4", r#""no""#),
                ("61-3", r#"[{"_placeholder":true,"num":0}]"#),
            ] {
                let text = format!("{head}{ws}{data}");
                assert!(
                    serde_json::from_str::<serde_json::Value>(&format!("{ws}{data}")).is_err(),
                    "serde_json reads {text:?}"
                );
                assert_eq!(
                    RawPacket::decode(&text),
                    Err(ParseError::InvalidPayload),
                    "{text:?}"
                );
                assert_eq!(
                    RawPacket::decode_header(&text),
                    Err(ParseError::InvalidPayload),
                    "{text:?}"
                );
            }
        }
    }
}
