use serde::Serialize;

use crate::json_text::{write_string, write_u64};

/// The data of the `0` (open) packet that starts every Engine.IO session.
///
/// ```
/// use gateway_core::engineio::OpenPacket;
/// let open = OpenPacket { sid: "abc", upgrades: &["websocket"], ping_interval: 25000,
///     ping_timeout: 20000, max_payload: 1_000_000 };
/// assert_eq!(open.encode(), r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#);
/// ```
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket<'a> {
    /// The session id (a transport credential: never shown to other clients).
    pub sid: &'a str,
    /// Transports the client may upgrade to.
    pub upgrades: &'a [&'a str],
    /// Milliseconds between server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong.
    pub ping_timeout: u64,
    /// Largest accepted payload in bytes.
    pub max_payload: u64,
}

impl OpenPacket<'_> {
    /// The full text packet, `0` followed by the JSON data (the same text `serde_json`
    /// writes for this struct).
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(96 + self.sid.len());
        out.extend_from_slice(b"0{\"sid\":");
        write_string(self.sid, &mut out);
        out.extend_from_slice(b",\"upgrades\":[");
        for (i, upgrade) in self.upgrades.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(upgrade, &mut out);
        }
        out.extend_from_slice(b"],\"pingInterval\":");
        write_u64(self.ping_interval, &mut out);
        out.extend_from_slice(b",\"pingTimeout\":");
        write_u64(self.ping_timeout, &mut out);
        out.extend_from_slice(b",\"maxPayload\":");
        write_u64(self.max_payload, &mut out);
        out.push(b'}');
        // Only whole strings and ASCII were written.
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_writes_what_serde_json_writes() {
        let cases = [
            OpenPacket {
                sid: "a\"b\\c\u{1}é",
                upgrades: &[],
                ping_interval: 0,
                ping_timeout: 1,
                max_payload: u64::MAX,
            },
            OpenPacket {
                sid: "",
                upgrades: &["websocket", "web\"transport"],
                ping_interval: 25_000,
                ping_timeout: 20_000,
                max_payload: 1_000_000,
            },
        ];
        for open in cases {
            let want = format!("0{}", serde_json::to_string(&open).unwrap());
            assert_eq!(open.encode(), want);
        }
    }
}
