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
