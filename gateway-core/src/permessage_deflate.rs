//! WebSocket compression (RFC 7692, `permessage-deflate`), server side, without context
//! takeover in either direction: every message is compressed on its own, so a connection
//! keeps no compression state between messages (an idle connection costs nothing more).
//!
//! [`negotiate`] reads the client's `Sec-WebSocket-Extensions` offers and gives the
//! answer's header value; [`inflate`] and [`deflate`] handle one message each, with the
//! compressor and decompressor kept per thread (no allocation per message once warm).
//!
//! ```
//! use gateway_core::permessage_deflate::{deflate, inflate, negotiate};
//! assert_eq!(
//!     negotiate(["permessage-deflate; client_max_window_bits"]),
//!     Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
//! );
//! let text = "hello hello hello hello hello".repeat(10);
//! let mut packed = Vec::new();
//! deflate(text.as_bytes(), &mut packed);
//! assert!(packed.len() < text.len());
//! assert_eq!(inflate(&packed, 1 << 20).unwrap(), text.as_bytes());
//! ```

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The answer to an accepted offer.
pub const RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Reads the values of the request's `Sec-WebSocket-Extensions` headers; the answer's value
/// when one `permessage-deflate` offer can be accepted, `None` otherwise. An offer is
/// declined when it has a parameter this server does not know, or asks for a server
/// window smaller than 15 bits.
pub fn negotiate<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    headers
        .into_iter()
        .flat_map(|value| value.split(','))
        .any(acceptable)
        .then_some(RESPONSE)
}

fn acceptable(offer: &str) -> bool {
    let mut parts = offer.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case("permessage-deflate"))
    {
        return false;
    }
    let mut seen = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (param, None),
        };
        if seen.contains(&name) {
            return false; // each parameter at most once (RFC 7692, 7.1)
        }
        seen.push(name);
        let ok = match name {
            "server_no_context_takeover" | "client_no_context_takeover" => value.is_none(),
            "client_max_window_bits" => value.is_none_or(window_bits),
            // Our compressor writes with a 15-bit window only.
            "server_max_window_bits" => value == Some("15"),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A window size parameter's value: 8 to 15.
fn window_bits(value: &str) -> bool {
    value.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b))
}

/// Why a compressed message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The message is larger than allowed once inflated.
    TooLarge,
    /// The data is not a valid deflate stream.
    Invalid,
}

thread_local! {
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
    static DEFLATER: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(6), false));
}

/// Inflates one message (its frames' payloads joined); refuses to produce more than `max`
/// bytes, so a small message cannot expand into a large one.
pub fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    INFLATER.with(|cell| {
        let mut d = cell.borrow_mut();
        d.reset(false);
        let mut out = Vec::with_capacity((data.len() * 3).clamp(64, max.max(64)));
        // The message's end: the empty stored block its sender removed (RFC 7692, 7.2.2).
        for (input, last) in [(data, false), (&[0x00, 0x00, 0xff, 0xff][..], true)] {
            let mut input = input;
            loop {
                if out.len() == out.capacity() {
                    if out.len() >= max {
                        return Err(InflateError::TooLarge);
                    }
                    out.reserve((out.len()).clamp(64, max - out.len()));
                }
                let before_in = d.total_in();
                let status = d
                    .decompress_vec(input, &mut out, FlushDecompress::Sync)
                    .map_err(|_| InflateError::Invalid)?;
                let used = (d.total_in() - before_in) as usize;
                input = &input[used..];
                if out.len() > max {
                    return Err(InflateError::TooLarge);
                }
                match status {
                    Status::StreamEnd => break,
                    _ if input.is_empty() && out.len() < out.capacity() => break,
                    _ => {}
                }
            }
            if last {
                return Ok(out);
            }
        }
        Ok(out)
    })
}

/// Deflates one message into `out` (appended), ready to send with RSV1 set: the trailing
/// empty block is removed, as RFC 7692 asks.
pub fn deflate(data: &[u8], out: &mut Vec<u8>) {
    DEFLATER.with(|cell| {
        let mut c = cell.borrow_mut();
        c.reset();
        let start = out.len();
        out.reserve(data.len() / 2 + 64);
        let mut input = data;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity() - start + 64);
            }
            let before_in = c.total_in();
            // Output room runs out: loop and give it more.
            let _ = c.compress_vec(input, out, FlushCompress::Sync);
            input = &input[(c.total_in() - before_in) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out[start..].ends_with(&[0x00, 0x00, 0xff, 0xff]) {
            out.truncate(out.len() - 4);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_accepted_or_declined_as_rfc_7692_says() {
        let ok = |h: &str| negotiate([h]).is_some();
        assert!(ok("permessage-deflate"));
        assert!(ok("permessage-deflate; client_max_window_bits"));
        assert!(ok(
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover"
        ));
        assert!(ok("x-webkit-deflate-frame, permessage-deflate"));
        assert!(ok(
            "permessage-deflate; server_max_window_bits=10, permessage-deflate"
        ));
        assert!(!ok("permessage-deflate; server_max_window_bits=10"));
        assert!(!ok("permessage-deflate; client_max_window_bits=16"));
        assert!(!ok("permessage-deflate; unknown"));
        assert!(!ok(
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover"
        ));
        assert!(!ok("x-webkit-deflate-frame"));
        assert!(negotiate([]).is_none());
    }

    #[test]
    fn messages_round_trip_and_bombs_stop_at_the_bound() {
        for size in [0usize, 1, 100, 70_000, 1 << 20] {
            let data: Vec<u8> = (0..size)
                .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
                .collect();
            let mut packed = Vec::new();
            deflate(&data, &mut packed);
            assert_eq!(inflate(&packed, 2 << 20).unwrap(), data, "size {size}");
        }
        let zeros = vec![0u8; 10 << 20];
        let mut bomb = Vec::new();
        deflate(&zeros, &mut bomb);
        assert!(bomb.len() < 20_000);
        assert_eq!(inflate(&bomb, 1 << 20), Err(InflateError::TooLarge));
        assert_eq!(
            inflate(&[0xff, 0xff, 0xff], 1 << 20),
            Err(InflateError::Invalid)
        );
    }
}
