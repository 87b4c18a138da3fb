use base64::Engine as _;
use bytes::Bytes;

use super::{DecodeError, Packet};

/// The record separator that joins packets in a long-polling body.
pub const SEPARATOR: u8 = 0x1e;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Splits a long-polling body into packets.
///
/// ```
/// use gateway_core::engineio::{decode_payload, Packet};
/// let mut it = decode_payload(b"2\x1e4x");
/// assert_eq!(it.next().unwrap().unwrap(), Packet::Ping(""));
/// assert_eq!(it.next().unwrap().unwrap(), Packet::Message("x"));
/// assert!(it.next().is_none());
/// ```
pub fn decode_payload(body: &[u8]) -> PayloadDecoder<'_> {
    PayloadDecoder { rest: Some(body) }
}

/// Iterator over the packets of a long-polling body; see [`decode_payload`].
#[derive(Debug)]
pub struct PayloadDecoder<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for PayloadDecoder<'a> {
    type Item = Result<Packet<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        let (record, tail) = match rest.iter().position(|&b| b == SEPARATOR) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        self.rest = tail;
        Some(decode_record(record))
    }
}

fn decode_record(record: &[u8]) -> Result<Packet<'_>, DecodeError> {
    match record.first() {
        None => Err(DecodeError::Empty),
        Some(b'b') => B64
            .decode(&record[1..])
            .map(|v| Packet::Binary(Bytes::from(v)))
            .map_err(|_| DecodeError::InvalidBase64),
        Some(_) => {
            let text = std::str::from_utf8(record).map_err(|_| DecodeError::InvalidUtf8)?;
            Packet::decode_text(text)
        }
    }
}

/// Builds a long-polling response body from packets, keeping it under a size budget.
///
/// ```
/// use gateway_core::engineio::PayloadEncoder;
/// let mut enc = PayloadEncoder::new();
/// enc.push_text(b"4hello");
/// enc.push_binary(&[1, 2, 3]);
/// assert_eq!(enc.finish(), b"4hello\x1ebAQID".to_vec());
/// ```
#[derive(Debug, Default)]
pub struct PayloadEncoder {
    out: Vec<u8>,
    count: usize,
}

impl PayloadEncoder {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no packet was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many bytes `push_text(text)` would add.
    pub fn text_cost(&self, text: &[u8]) -> usize {
        text.len() + usize::from(self.count > 0)
    }

    /// How many bytes `push_binary(data)` would add.
    pub fn binary_cost(&self, data: &[u8]) -> usize {
        1 + data.len().div_ceil(3) * 4 + usize::from(self.count > 0)
    }

    fn separate(&mut self) {
        if self.count > 0 {
            self.out.push(SEPARATOR);
        }
        self.count += 1;
    }

    /// Appends an already encoded text packet (type digit included).
    pub fn push_text(&mut self, text: &[u8]) {
        self.separate();
        self.out.extend_from_slice(text);
    }

    /// Appends a binary packet as `b<base64>`.
    pub fn push_binary(&mut self, data: &[u8]) {
        self.separate();
        self.out.push(b'b');
        let start = self.out.len();
        self.out.resize(start + data.len().div_ceil(3) * 4, 0);
        let written = B64
            .encode_slice(data, &mut self.out[start..])
            .unwrap_or_default();
        self.out.truncate(start + written);
    }

    /// The finished body.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_payload_round_trips() {
        let mut enc = PayloadEncoder::new();
        enc.push_text(b"4hello");
        enc.push_binary(&[0, 255, 7]);
        enc.push_text(b"2");
        let cost_check = enc.len();
        let body = enc.finish();
        assert_eq!(body.len(), cost_check);
        let packets: Vec<_> = decode_payload(&body).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Message("hello"),
                Packet::Binary(Bytes::from_static(&[0, 255, 7])),
                Packet::Ping("")
            ]
        );
    }

    #[test]
    fn costs_match_written_bytes() {
        let mut enc = PayloadEncoder::new();
        for data in [&b""[..], b"a", b"ab", b"abc", b"abcd"] {
            let before = enc.len();
            let cost = enc.binary_cost(data);
            enc.push_binary(data);
            assert_eq!(enc.len() - before, cost);
            let before = enc.len();
            let cost = enc.text_cost(data);
            enc.push_text(data);
            assert_eq!(enc.len() - before, cost);
        }
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert!(decode_payload(b"").next().unwrap().is_err());
        let r: Result<Vec<_>, _> = decode_payload(b"4a\x1e\x1e4b").collect();
        assert_eq!(r, Err(DecodeError::Empty));
        let r: Result<Vec<_>, _> = decode_payload(b"b!!!").collect();
        assert_eq!(r, Err(DecodeError::InvalidBase64));
        let r: Result<Vec<_>, _> = decode_payload(b"4\xff").collect();
        assert_eq!(r, Err(DecodeError::InvalidUtf8));
        let r: Result<Vec<_>, _> = decode_payload(b"4a\x1e").collect();
        assert_eq!(r, Err(DecodeError::Empty));
        let r: Result<Vec<_>, _> = decode_payload("é\x1e€x".as_bytes()).collect();
        assert!(r.is_err());
    }
}
