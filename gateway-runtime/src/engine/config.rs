//! Engine.IO options.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

/// Which transports clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket (directly, or by upgrade from polling when both are on).
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Self {
            polling: true,
            websocket: true,
        }
    }
}

impl Transports {
    /// Long-polling only.
    pub const POLLING: Self = Self {
        polling: true,
        websocket: false,
    };
    /// WebSocket only.
    pub const WEBSOCKET: Self = Self {
        polling: false,
        websocket: true,
    };
}

/// Which origins may call the server from a browser (CORS).
#[derive(Clone, Default)]
pub enum AllowOrigin {
    /// No CORS headers (the default, as in socket.io).
    #[default]
    None,
    /// Any origin (the request's origin is echoed back).
    Any,
    /// These exact origins.
    List(Vec<HeaderValue>),
    /// Origins for which the predicate returns true.
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl fmt::Debug for AllowOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Any => f.write_str("Any"),
            Self::List(l) => f.debug_tuple("List").field(l).finish(),
            Self::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}

/// CORS settings for the long-polling endpoints.
///
/// ```
/// use gateway_runtime::engine::{AllowOrigin, Cors};
/// let cors = Cors { origin: AllowOrigin::List(vec!["https://app.example".parse().unwrap()]),
///                   credentials: true, ..Cors::default() };
/// assert!(cors.allows("https://app.example"));
/// assert!(!cors.allows("https://evil.example"));
/// ```
#[derive(Debug, Clone)]
pub struct Cors {
    /// Allowed origins.
    pub origin: AllowOrigin,
    /// Sends `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// Headers allowed in requests (`Access-Control-Allow-Headers`); empty echoes the
    /// request's `Access-Control-Request-Headers`.
    pub allowed_headers: Vec<HeaderValue>,
    /// How long browsers may cache a preflight answer.
    pub max_age: Option<Duration>,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            origin: AllowOrigin::None,
            credentials: false,
            allowed_headers: Vec::new(),
            max_age: None,
        }
    }
}

impl Cors {
    /// CORS for any origin, without credentials.
    pub fn any() -> Self {
        Self {
            origin: AllowOrigin::Any,
            ..Self::default()
        }
    }

    /// Whether `origin` may call the server.
    pub fn allows(&self, origin: &str) -> bool {
        match &self.origin {
            AllowOrigin::None => false,
            AllowOrigin::Any => true,
            AllowOrigin::List(list) => list.iter().any(|o| o.as_bytes() == origin.as_bytes()),
            AllowOrigin::Predicate(p) => p(origin),
        }
    }
}

/// Decides whether a handshake or upgrade request is accepted; `Err(message)` refuses it
/// with HTTP 403 and the message.
pub type AllowRequest = Arc<dyn Fn(&http::request::Parts) -> Result<(), String> + Send + Sync>;

/// [`AllowRequest`] that may wait (a database or a rate service): the future gets what it
/// needs from the request before it is returned (it cannot borrow it).
pub type AllowRequestAsync = Arc<
    dyn Fn(
            &http::request::Parts,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// Engine.IO server options. Defaults match socket.io's.
///
/// ```
/// use std::time::Duration;
/// use gateway_runtime::engine::{EngineConfig, Transports};
/// let config = EngineConfig {
///     ping_interval: Duration::from_secs(10),
///     transports: Transports::WEBSOCKET,
///     ..EngineConfig::default()
/// };
/// assert_eq!(config.path, "/socket.io/");
/// ```
#[derive(Clone)]
pub struct EngineConfig {
    /// The URL path the engine answers on (default `/socket.io/`).
    pub path: String,
    /// Time between server pings (default 25 s).
    pub ping_interval: Duration,
    /// Time to wait for a pong before closing (default 20 s).
    pub ping_timeout: Duration,
    /// Largest message or polling body accepted, in bytes (default 1 MB; socket.io's
    /// `maxHttpBufferSize`). A polling answer carries about this much at most; more waits
    /// for the next poll.
    pub max_payload: usize,
    /// Enabled transports.
    pub transports: Transports,
    /// Time allowed for a websocket upgrade to complete (default 10 s).
    pub upgrade_timeout: Duration,
    /// Packets a connection may have queued before it is considered stuck and closed
    /// (default 10 000). Packets are never dropped silently, except volatile ones.
    pub max_buffered_packets: usize,
    /// Bytes a connection may have queued, unsent, before it is considered stuck and closed
    /// (default 8 MiB). This bounds what a client that does not read — or a polling client
    /// that asks for large answers faster than it polls — can make the server hold: acks,
    /// emits and broadcasts all count. When it is hit, the unsent packets are dropped and
    /// the session closes with [`CloseReason::BufferFull`](super::CloseReason::BufferFull)
    /// (WebSocket close code 1008, reason `outgoing buffer full`; a polling client gets a
    /// close packet). Volatile packets are never queued behind others, so they go first. A
    /// single packet larger than this is still sent when nothing else waits.
    ///
    /// With [`max_payload`](Self::max_payload) bounding what is read (one message, one
    /// polling body, one binary packet with its attachments), a connection holds at most
    /// about `max_buffered_bytes + 2 × max_payload` plus ~6 KiB of fixed state; read and
    /// write buffers return to their resting size after a large message.
    pub max_buffered_bytes: usize,
    /// CORS for browsers calling the polling endpoints.
    pub cors: Cors,
    /// Optional admission check on handshakes.
    pub allow_request: Option<AllowRequest>,
    /// Optional admission check on handshakes that may wait (socket.io's `allowRequest`
    /// with its callback); runs after `allow_request`. Handshakes then all go through the
    /// HTTP stack (the WebSocket fast path cannot wait).
    pub allow_request_async: Option<AllowRequestAsync>,
    /// Sessions open at once, over all clients (default: no limit). A handshake beyond it
    /// is refused with HTTP 403 `{"code":4,"message":"Too many connections"}`; open
    /// sessions are not affected.
    pub max_connections: Option<usize>,
    /// Sessions open at once from one IP address (default: no limit); beyond it, 403
    /// "Too many connections from this address". Behind a proxy every client shares the
    /// proxy's address: set it there instead.
    pub max_connections_per_ip: Option<usize>,
    /// Handshakes one IP address may make per window, e.g. `Some((20, 10 s))` (default:
    /// no limit); beyond it, 403 "Too many handshakes from this address" until the window
    /// ends (the seed of socket.io users' "connection throttling").
    pub max_handshakes_per_ip: Option<(u64, Duration)>,
    /// Return the memory of large messages to the operating system once they are handled
    /// (default true). On Linux with glibc, the engine fixes malloc's mmap threshold at
    /// 128 KiB (`mallopt(M_MMAP_THRESHOLD)`, once per process): otherwise glibc raises the
    /// threshold after the first large buffer is freed and keeps later ones in its heap,
    /// where a burst of large messages leaves the process's RSS at its high-water mark.
    /// Turn it off when the application tunes malloc itself. It has no effect elsewhere,
    /// nor on memory served by another global allocator.
    pub release_large_buffers: bool,
    /// WebSocket read buffer per connection, in bytes (default 1 KiB; it grows for a
    /// larger frame while that frame is read).
    pub ws_read_buffer: usize,
    /// WebSocket payloads up to this size are copied next to the frames queued with them so
    /// that they leave in one write; larger ones are written from where they are, without
    /// a copy (default 16 KiB).
    pub ws_write_buffer: usize,
    /// WebSocket compression (socket.io's `perMessageDeflate`; RFC 7692), off by default:
    /// `Some(threshold)` accepts a client's `permessage-deflate` offer and compresses the
    /// messages of at least `threshold` bytes (socket.io's default threshold: 1024).
    /// Compressed client messages are inflated up to `max_payload` (larger: close 1009).
    /// No context is kept between messages in either direction, so an idle connection
    /// costs no more; each large message costs CPU to compress, per connection.
    pub per_message_deflate: Option<usize>,
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("transports", &self.transports)
            .field("max_buffered_packets", &self.max_buffered_packets)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("cors", &self.cors)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("max_handshakes_per_ip", &self.max_handshakes_per_ip)
            .field("release_large_buffers", &self.release_large_buffers)
            .field("per_message_deflate", &self.per_message_deflate)
            .finish_non_exhaustive()
    }
}

impl EngineConfig {
    /// Whether a connection limit is set (handshakes are then checked against them).
    pub(crate) fn limits_connections(&self) -> bool {
        self.max_connections.is_some()
            || self.max_connections_per_ip.is_some()
            || self.max_handshakes_per_ip.is_some()
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            transports: Transports::default(),
            upgrade_timeout: Duration::from_millis(10_000),
            max_buffered_packets: 10_000,
            max_buffered_bytes: 8 * 1024 * 1024,
            cors: Cors::default(),
            allow_request: None,
            allow_request_async: None,
            max_connections: None,
            max_connections_per_ip: None,
            max_handshakes_per_ip: None,
            release_large_buffers: true,
            ws_read_buffer: 1024,
            ws_write_buffer: 16 * 1024,
            per_message_deflate: None,
        }
    }
}
