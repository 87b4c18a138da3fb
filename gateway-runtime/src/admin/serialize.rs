//! Sockets as the admin UI lists them (`SerializedSocket`).

use serde_json::{json, Map, Value};

use crate::adapter::SocketInfo;
use crate::engine::TransportKind;
use crate::socketio::{Handshake, Socket};

/// `{id, clientId, transport, nsp, data, handshake, rooms}` of a local socket.
pub(super) fn socket(socket: &Socket) -> Value {
    let engine = socket.engine();
    let transport = match engine.transport() {
        TransportKind::Polling => "polling",
        TransportKind::Websocket => "websocket",
    };
    let rooms: Vec<Value> = socket
        .rooms()
        .iter()
        .map(|r| Value::from(r.as_ref()))
        .collect();
    json!({
        "id": socket.id().as_str(),
        "clientId": engine.sid().as_str().get(..12).unwrap_or(""),
        "transport": transport,
        "nsp": socket.namespace_name(),
        "data": {},
        "handshake": handshake(socket.handshake()),
        "rooms": rooms,
    })
}

/// A socket of another node, known by id and rooms only.
pub(super) fn remote_socket(nsp: &str, info: &SocketInfo) -> Value {
    let rooms: Vec<Value> = info.rooms.iter().map(|r| Value::from(r.as_ref())).collect();
    json!({
        "id": info.id.as_str(),
        "clientId": "",
        "transport": "websocket",
        "nsp": nsp,
        "data": {},
        "handshake": { "headers": {}, "query": {}, "issued": 0, "secure": false, "xdomain": false, "url": "", "address": "", "time": "" },
        "rooms": rooms,
    })
}

/// socket.io's `socket.handshake` without `auth` (which may hold credentials).
fn handshake(h: &Handshake) -> Value {
    let headers: Map<String, Value> = h
        .joined_headers()
        .into_iter()
        .map(|(name, value)| (name, Value::from(value)))
        .collect();
    let header = |name: &str| h.headers().get(name).and_then(|v| v.to_str().ok());
    // As socket.io-admin-ui: the proxy's client address first.
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .map(str::to_owned)
        .or_else(|| h.address().map(|a| a.ip().to_string()))
        .unwrap_or_default();
    let query: Map<String, Value> = h
        .query_pairs()
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    json!({
        "address": address,
        "headers": headers,
        "query": query,
        "issued": h.issued(),
        "secure": false,
        "time": crate::clock::iso_from_millis(h.issued()),
        "url": h.url(),
        "xdomain": h.headers().contains_key(http::header::ORIGIN),
    })
}
