use serde::Serialize;

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
    /// The full text packet, `0` followed by the JSON data.
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(128 + self.sid.len());
        out.push(b'0');
        // Serializing plain strings and integers into memory cannot fail, and the JSON
        // written is UTF-8.
        let _ = serde_json::to_writer(&mut out, self);
        String::from_utf8(out).unwrap_or_default()
    }
}
