//! What a client sent when it connected to a namespace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::engine::RequestInfo;

/// The handshake of a namespace connection: the HTTP request that opened the session and
/// the `auth` payload sent with the CONNECT packet (socket.io's `socket.handshake`).
#[derive(Debug, Clone)]
pub struct Handshake {
    request: Arc<RequestInfo>,
    /// The `auth` object sent by the client (`{}` when none).
    pub auth: serde_json::Value,
}

impl Handshake {
    pub(crate) fn new(request: Arc<RequestInfo>, auth: serde_json::Value) -> Self {
        Self { request, auth }
    }

    /// Request headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.request.headers()
    }

    /// Each header once, its values joined with `, ` (as Node.js shows them).
    pub fn joined_headers(&self) -> Vec<(String, String)> {
        let headers = self.headers();
        headers
            .keys()
            .map(|name| {
                let joined = headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ");
                (name.as_str().to_owned(), joined)
            })
            .collect()
    }

    /// A query parameter of the handshake URL.
    pub fn query(&self, key: &str) -> Option<String> {
        self.request.query(key)
    }

    /// All query parameters.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        crate::engine::query_pairs(self.request.uri.query().unwrap_or(""))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The request URL (path and query).
    pub fn url(&self) -> String {
        self.request.uri.to_string()
    }

    /// The peer address, when the server was started with connect info.
    pub fn address(&self) -> Option<SocketAddr> {
        self.request.remote_addr
    }

    /// When the session was opened.
    pub fn time(&self) -> SystemTime {
        self.request.time
    }

    /// When the session was opened, in milliseconds since the Unix epoch.
    pub fn issued(&self) -> u64 {
        self.request
            .time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Written as socket.io's `socket.handshake` object, so a handler can send it to a client
/// or log it as Node code would: `headers` (lower-case names), `time` (as
/// `String(new Date())`, UTC), `address`, `xdomain` (an `Origin` header came), `secure`
/// (false: TLS ends before this server), `issued` (ms since the epoch), `url`, `query` (a
/// repeated key gives an array) and `auth`.
///
/// ```no_run
/// # use gateway_runtime::socketio::Socket;
/// # fn f(socket: Socket) {
/// let _ = socket.emit("handshake", socket.handshake());
/// # }
/// ```
impl serde::Serialize for Handshake {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use serde_json::Value;
        let mut headers = serde_json::Map::new();
        for (name, value) in self.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let mut query = serde_json::Map::new();
        for (key, value) in self.query_pairs() {
            match query.get_mut(&key) {
                Some(Value::Array(list)) => list.push(Value::String(value)),
                Some(first) => *first = Value::Array(vec![first.take(), Value::String(value)]),
                None => {
                    query.insert(key, Value::String(value));
                }
            }
        }
        let mut map = serializer.serialize_map(Some(9))?;
        map.serialize_entry("headers", &headers)?;
        map.serialize_entry("time", &gateway_core::date::js_string(self.issued() as i64))?;
        map.serialize_entry("address", &self.address().map(|a| a.ip().to_string()))?;
        map.serialize_entry(
            "xdomain",
            &self.headers().contains_key(http::header::ORIGIN),
        )?;
        map.serialize_entry("secure", &false)?;
        map.serialize_entry("issued", &self.issued())?;
        map.serialize_entry("url", &self.url())?;
        map.serialize_entry("query", &query)?;
        map.serialize_entry("auth", &self.auth)?;
        map.end()
    }
}
