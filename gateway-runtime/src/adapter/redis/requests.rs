//! Messages from the other nodes (broadcasts, requests, answers) and this node's
//! cluster-wide requests.

use std::sync::Arc;

use gateway_core::socketio::Args;
use rmpv::Value;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};

use super::wire::{self, request_type};
use super::{random_id, Core};
use crate::adapter::{Adapter, AdapterError, BroadcastOptions, LocalNamespace};
use crate::engine::Sid;
use crate::socketio::namespace_internals as ns;
use crate::socketio::ServerSideAck;

/// A request of this node waiting for the other nodes' answers.
pub(crate) struct Pending {
    answers: mpsc::UnboundedSender<Value>,
}

/// A broadcast with acks sent by this node: relays the answers of remote clients.
pub(crate) struct AckRequest {
    on_ack: Arc<dyn Fn(Args) + Send + Sync>,
    counts: mpsc::UnboundedSender<u64>,
    nodes_expected: usize,
    nodes_answered: usize,
    acks_expected: u64,
    acks_received: u64,
    expires: Instant,
}

impl AckRequest {
    fn complete(&self) -> bool {
        self.nodes_answered >= self.nodes_expected && self.acks_received >= self.acks_expected
    }
}

/// A server-side event sent by this node whose answers are awaited: forgotten once every
/// node answered or its waiter's timeout passed.
pub(crate) struct ServerSideRequest {
    on_answer: Arc<dyn Fn(Args) + Send + Sync>,
    missing: usize,
    expires: Instant,
}

/// Removes a pending request when its waiter is done (or dropped).
struct PendingGuard<'a> {
    core: &'a Core,
    id: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.core
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl Core {
    fn local(&self) -> Option<&LocalNamespace> {
        self.local.get()
    }

    /// Where to answer `request`.
    fn response_channel_for(&self, request: &Value) -> String {
        match (
            self.config.publish_on_specific_response_channel,
            wire::get_str(request, "uid"),
        ) {
            (true, Some(uid)) => format!("{}{}#", self.response_channel, uid),
            _ => self.response_channel.clone(),
        }
    }

    // -----------------------------------------------------------------------------------
    // Incoming
    // -----------------------------------------------------------------------------------

    /// A broadcast published by another node: `[uid, packet, opts]`.
    pub(super) fn on_broadcast(&self, payload: &[u8]) {
        let message = match wire::from_msgpack(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "Redis adapter: ignoring malformed broadcast");
                return;
            }
        };
        let Some([uid, packet, opts]) = message
            .as_array()
            .and_then(|a| a.get(..3))
            .and_then(|a| <&[Value; 3]>::try_from(a).ok())
        else {
            tracing::debug!("Redis adapter: ignoring malformed broadcast");
            return;
        };
        if uid.as_str() == Some(self.uid.as_str()) {
            return; // our own
        }
        if wire::get_str(packet, "nsp").unwrap_or("/") != self.nsp {
            return;
        }
        let Some(local) = self.local() else { return };
        let id = wire::get_u64(packet, "id");
        match wire::encoded_from_object(packet, &self.nsp, id) {
            Ok(encoded) => local.broadcast(&encoded, &wire::opts_from(Some(opts))),
            Err(e) => tracing::debug!(error = %e, "Redis adapter: ignoring broadcast"),
        }
    }

    /// A request published on the request channel (possibly our own).
    pub(super) fn on_request(&self, payload: &[u8]) {
        let request = match wire::from_json_or_msgpack(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "Redis adapter: ignoring malformed request");
                return;
            }
        };
        if wire::get_str(&request, "uid") == Some(self.uid.as_str()) {
            return; // our own request: applied locally already
        }
        let Some(kind) = wire::get_u64(&request, "type") else {
            return;
        };
        let Some(local) = self.local() else { return };
        let request_id = wire::get(&request, "requestId").cloned();
        match kind {
            request_type::SOCKETS => {
                let Some(request_id) = request_id else { return };
                let opts = BroadcastOptions {
                    rooms: wire::rooms_of(wire::get(&request, "rooms")),
                    ..Default::default()
                };
                let ids = local
                    .fetch_sockets(&opts)
                    .into_iter()
                    .map(|s| Value::from(s.id.as_str()))
                    .collect();
                self.answer(
                    &request,
                    wire::map([("requestId", request_id), ("sockets", Value::Array(ids))]),
                );
            }
            request_type::ALL_ROOMS => {
                let Some(request_id) = request_id else { return };
                let mut rooms: Vec<Value> = self
                    .rooms
                    .local_rooms()
                    .iter()
                    .map(|r| Value::from(r.as_ref()))
                    .collect();
                // socket.io counts each socket's own id room as a room.
                rooms.extend(
                    local
                        .fetch_sockets(&BroadcastOptions::default())
                        .into_iter()
                        .map(|s| Value::from(s.id.as_str())),
                );
                self.answer(
                    &request,
                    wire::map([("requestId", request_id), ("rooms", Value::Array(rooms))]),
                );
            }
            request_type::REMOTE_JOIN | request_type::REMOTE_LEAVE => {
                let join = kind == request_type::REMOTE_JOIN;
                if let Some(opts) = wire::get(&request, "opts") {
                    let opts = wire::opts_from(Some(opts));
                    let rooms = wire::rooms_of(wire::get(&request, "rooms"));
                    if join {
                        local.add_sockets(&opts, &rooms);
                    } else {
                        local.del_sockets(&opts, &rooms);
                    }
                    return;
                }
                // Older adapters: one socket id and one room, answered when found here.
                let (Some(opts), Some(room)) = (
                    single_socket(&request),
                    wire::rooms_of(Some(&Value::Array(
                        wire::get(&request, "room").into_iter().cloned().collect(),
                    )))
                    .pop(),
                ) else {
                    return;
                };
                if local.fetch_sockets(&opts).is_empty() {
                    return;
                }
                if join {
                    local.add_sockets(&opts, &[room]);
                } else {
                    local.del_sockets(&opts, &[room]);
                }
                if let Some(request_id) = request_id {
                    self.answer(&request, wire::map([("requestId", request_id)]));
                }
            }
            request_type::REMOTE_DISCONNECT => {
                let close = wire::get_bool(&request, "close");
                if let Some(opts) = wire::get(&request, "opts") {
                    local.disconnect_sockets(&wire::opts_from(Some(opts)), close);
                    return;
                }
                let Some(opts) = single_socket(&request) else {
                    return;
                };
                if local.fetch_sockets(&opts).is_empty() {
                    return;
                }
                local.disconnect_sockets(&opts, close);
                if let Some(request_id) = request_id {
                    self.answer(&request, wire::map([("requestId", request_id)]));
                }
            }
            request_type::REMOTE_FETCH => {
                let Some(request_id) = request_id else { return };
                let opts = wire::opts_from(wire::get(&request, "opts"));
                let sockets = describe_sockets(local, &opts);
                self.answer(
                    &request,
                    wire::map([
                        ("requestId", request_id),
                        ("sockets", Value::Array(sockets)),
                    ]),
                );
            }
            request_type::SERVER_SIDE_EMIT => self.on_server_side_emit(local, &request),
            request_type::BROADCAST => {
                let Some(Value::String(id)) = request_id else {
                    return;
                };
                let Some(id) = id.into_str() else { return };
                if self.acks_lock().contains_key(&id) {
                    return; // our own
                }
                self.relay_broadcast_with_ack(local, &request, id);
            }
            other => tracing::debug!(kind = other, "Redis adapter: ignoring unknown request"),
        }
    }

    /// Another node's `serverSideEmit`: `data` is `[event, ...args]`; with a `requestId`,
    /// the listener's answer goes back on the response channel.
    fn on_server_side_emit(&self, local: &LocalNamespace, request: &Value) {
        let Some(data) = wire::get(request, "data") else {
            return;
        };
        let Ok(args) = Args::parse_event(wire::to_json(data).into()) else {
            tracing::debug!("Redis adapter: ignoring a malformed server-side event");
            return;
        };
        let ack = wire::get(request, "requestId").cloned().map(|request_id| {
            let driver = self.driver.clone();
            // Where the official adapter answers a server-side event (whatever its
            // response-channel setting).
            let channel = self.response_channel.clone();
            ServerSideAck::new(move |json| {
                let data = wire::json_to_value(json, &[]).unwrap_or(Value::Nil);
                let response = wire::map([
                    ("type", Value::from(request_type::SERVER_SIDE_EMIT)),
                    ("requestId", request_id),
                    ("data", data),
                ]);
                let _ = driver.publish(channel, wire::to_json(&response));
            })
        });
        local.server_side_event(args, ack);
    }

    fn answer(&self, request: &Value, response: Value) {
        self.publish(self.response_channel_for(request), wire::to_json(&response));
    }

    /// Runs another node's broadcast with acks on our sockets; answers with how many were
    /// targeted, then relays each client's answer.
    fn relay_broadcast_with_ack(
        &self,
        local: &LocalNamespace,
        request: &Value,
        request_id: String,
    ) {
        let Some(packet) = wire::get(request, "packet") else {
            return;
        };
        let Some(ack_id) = local.0.upgrade().map(|n| n.next_ack_id()) else {
            return;
        };
        let encoded = match wire::encoded_from_object(packet, &self.nsp, Some(ack_id)) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "Redis adapter: ignoring broadcast with acks");
                return;
            }
        };
        let opts = wire::opts_from(wire::get(request, "opts"));
        let opts = BroadcastOptions {
            volatile: false,
            ..opts
        };
        let channel = self.response_channel_for(request);
        let driver = self.driver.clone();
        let id_for_acks = request_id.clone();
        let ack_channel = channel.clone();
        let on_ack: Arc<dyn Fn(Args) + Send + Sync> = Arc::new(move |args: Args| {
            let response = wire::map([
                ("type", Value::from(request_type::BROADCAST_ACK)),
                ("requestId", Value::from(id_for_acks.as_str())),
                ("packet", wire::first_ack_arg(&args)),
            ]);
            let _ = driver.publish(ack_channel.clone(), wire::to_msgpack(&response));
        });
        let count = local.broadcast_with_ack(&encoded, &opts, ack_id, on_ack);
        let response = wire::map([
            ("type", Value::from(request_type::BROADCAST_CLIENT_COUNT)),
            ("requestId", Value::from(request_id.as_str())),
            ("clientCount", Value::from(count as u64)),
        ]);
        self.publish(channel, wire::to_json(&response));
    }

    /// An answer on a response channel.
    pub(super) fn on_response(&self, payload: &[u8]) {
        let response = match wire::from_json_or_msgpack(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "Redis adapter: ignoring malformed response");
                return;
            }
        };
        let Some(request_id) = wire::get_str(&response, "requestId") else {
            return;
        };
        let kind = wire::get_u64(&response, "type");
        if kind == Some(request_type::SERVER_SIDE_EMIT) {
            let on_answer = {
                let mut requests = self.server_side_lock();
                let now = Instant::now();
                requests.retain(|_, r| r.expires > now);
                let request = requests.get_mut(request_id);
                let on_answer = request.map(|r| {
                    r.missing = r.missing.saturating_sub(1);
                    (r.on_answer.clone(), r.missing == 0)
                });
                if let Some((_, true)) = on_answer {
                    requests.remove(request_id);
                }
                on_answer.map(|(f, _)| f)
            };
            if let Some(on_answer) = on_answer {
                let data = wire::get(&response, "data").cloned().unwrap_or(Value::Nil);
                on_answer(wire::ack_args(&data));
            }
            return;
        }
        if matches!(
            kind,
            Some(request_type::BROADCAST_CLIENT_COUNT | request_type::BROADCAST_ACK)
        ) {
            self.on_ack_response(request_id, kind, &response);
            return;
        }
        let pending = self.pending_lock();
        if let Some(p) = pending.get(request_id) {
            let _ = p.answers.send(response.clone());
        }
    }

    fn on_ack_response(&self, request_id: &str, kind: Option<u64>, response: &Value) {
        let mut acks = self.acks_lock();
        let Some(entry) = acks.get_mut(request_id) else {
            return;
        };
        let mut call = None;
        match kind {
            Some(request_type::BROADCAST_CLIENT_COUNT) => {
                let count = wire::get_u64(response, "clientCount").unwrap_or(0);
                entry.nodes_answered += 1;
                entry.acks_expected += count;
                let _ = entry.counts.send(count);
            }
            _ => {
                entry.acks_received += 1;
                let value = wire::get(response, "packet").cloned().unwrap_or(Value::Nil);
                call = Some((entry.on_ack.clone(), value));
            }
        }
        if entry.complete() {
            acks.remove(request_id);
        }
        drop(acks);
        if let Some((on_ack, value)) = call {
            on_ack(wire::ack_args(&value));
        }
    }

    fn pending_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn server_side_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, ServerSideRequest>> {
        self.server_side.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acks_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, AckRequest>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    // -----------------------------------------------------------------------------------
    // Outgoing cluster-wide requests
    // -----------------------------------------------------------------------------------

    /// Sends a request to every other node and gathers one answer per node, up to the
    /// requests timeout. `what` names the request in the timeout error.
    pub(super) async fn gather(
        &self,
        kind: u64,
        extra: Option<(&str, Value)>,
        what: &str,
    ) -> Result<Vec<Value>, AdapterError> {
        let nodes = self.driver.numsub(&self.request_channel).await?;
        if nodes <= 1 {
            return Ok(Vec::new());
        }
        let expected = nodes - 1;
        let request_id = random_id(12);
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending_lock()
            .insert(request_id.clone(), Pending { answers: tx });
        let _guard = PendingGuard {
            core: self,
            id: request_id.clone(),
        };
        let mut entries = vec![
            (Value::from("uid"), Value::from(self.uid.as_str())),
            (Value::from("requestId"), Value::from(request_id.as_str())),
            (Value::from("type"), Value::from(kind)),
        ];
        if let Some((key, value)) = extra {
            entries.push((Value::from(key), value));
        }
        self.driver.publish(
            self.request_channel.clone(),
            wire::to_json(&Value::Map(entries)),
        )?;
        crate::telemetry::adapter_request("redis", kind);
        answers_within(
            &mut rx,
            expected,
            self.config.requests_timeout,
            ("redis", kind),
            &format!("{what} response"),
        )
        .await
    }

    /// Sends a server-side event that waits for answers (`data`: `[event, ...args]`);
    /// resolves to the number of other nodes, whose answers then reach `on_answer` until
    /// all came or `timeout` passed.
    pub(super) async fn server_side_emit_with_ack(
        &self,
        data: Value,
        timeout: std::time::Duration,
        on_answer: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> Result<usize, AdapterError> {
        let nodes = self.driver.numsub(&self.request_channel).await?;
        let expected = nodes.saturating_sub(1);
        if expected == 0 {
            return Ok(0);
        }
        let request_id = random_id(12);
        {
            let now = Instant::now();
            let mut requests = self.server_side_lock();
            requests.retain(|_, r| r.expires > now);
            requests.insert(
                request_id.clone(),
                ServerSideRequest {
                    on_answer,
                    missing: expected,
                    expires: now + timeout,
                },
            );
        }
        let request = wire::map([
            ("uid", Value::from(self.uid.as_str())),
            ("requestId", Value::from(request_id.as_str())),
            ("type", Value::from(request_type::SERVER_SIDE_EMIT)),
            ("data", data),
        ]);
        if let Err(e) = self
            .driver
            .publish(self.request_channel.clone(), wire::to_json(&request))
        {
            self.server_side_lock().remove(&request_id);
            return Err(e);
        }
        crate::telemetry::adapter_request("redis", request_type::SERVER_SIDE_EMIT);
        Ok(expected)
    }

    /// Sends a broadcast with acks to the other nodes; resolves to the number of remote
    /// clients targeted once every node told it (or fails after the requests timeout).
    pub(super) async fn broadcast_with_ack(
        &self,
        packet: Value,
        opts: &BroadcastOptions,
        on_ack: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> Result<usize, AdapterError> {
        let nodes = self.driver.numsub(&self.request_channel).await?;
        if nodes <= 1 {
            return Ok(0);
        }
        let expected = nodes - 1;
        let request_id = random_id(12);
        let (counts_tx, mut counts) = mpsc::unbounded_channel();
        {
            let now = Instant::now();
            let mut acks = self.acks_lock();
            acks.retain(|_, a| a.expires > now);
            acks.insert(
                request_id.clone(),
                AckRequest {
                    on_ack,
                    counts: counts_tx,
                    nodes_expected: expected,
                    nodes_answered: 0,
                    acks_expected: 0,
                    acks_received: 0,
                    expires: now + self.config.ack_retention,
                },
            );
        }
        let request = wire::map([
            ("uid", Value::from(self.uid.as_str())),
            ("requestId", Value::from(request_id.as_str())),
            ("type", Value::from(request_type::BROADCAST)),
            ("packet", packet),
            ("opts", wire::opts_with_flags(opts)),
        ]);
        if let Err(e) = self
            .driver
            .publish(self.request_channel.clone(), wire::to_msgpack(&request))
        {
            self.acks_lock().remove(&request_id);
            return Err(e);
        }
        crate::telemetry::adapter_request("redis", request_type::BROADCAST);
        let counts = answers_within(
            &mut counts,
            expected,
            self.config.requests_timeout,
            ("redis", request_type::BROADCAST),
            "the client counts of a broadcast",
        )
        .await?;
        Ok(counts.iter().sum::<u64>() as usize)
    }
}

/// Gathers `expected` answers from `rx` until `timeout` passes (a closed channel ends it
/// early). On timeout the adapter's timeout metric counts request `kind` and the error says
/// how many nodes answered, waiting for `what`.
pub(super) async fn answers_within<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    expected: usize,
    timeout: std::time::Duration,
    (adapter, kind): (&'static str, u64),
    what: &str,
) -> Result<Vec<T>, AdapterError> {
    let deadline = Instant::now() + timeout;
    let mut answers = Vec::with_capacity(expected);
    while answers.len() < expected {
        match timeout_at(deadline, rx.recv()).await {
            Ok(Some(answer)) => answers.push(answer),
            Ok(None) => break,
            Err(_) => {
                crate::telemetry::adapter_timeout(adapter, kind);
                return Err(AdapterError(format!(
                    "timeout reached while waiting for {what} ({} of {expected} nodes answered)",
                    answers.len()
                )));
            }
        }
    }
    Ok(answers)
}

/// How socket.io describes the matching local sockets to another node (`fetchSockets`):
/// `{id, handshake, rooms, data}` each.
pub(super) fn describe_sockets(local: &LocalNamespace, opts: &BroadcastOptions) -> Vec<Value> {
    let Some(namespace) = local.0.upgrade() else {
        return Vec::new();
    };
    ns::targets(&namespace, opts)
        .into_iter()
        .map(|socket| {
            let rooms = socket
                .rooms()
                .iter()
                .map(|r| Value::from(r.as_ref()))
                .collect();
            wire::map([
                ("id", Value::from(socket.id().as_str())),
                ("handshake", handshake_value(socket.handshake())),
                ("rooms", Value::Array(rooms)),
                ("data", Value::Map(Vec::new())),
            ])
        })
        .collect()
}

/// Options targeting the one socket named by a legacy request's `sid`.
fn single_socket(request: &Value) -> Option<BroadcastOptions> {
    let sid = wire::get_str(request, "sid")?;
    Sid::parse(sid)?;
    Some(BroadcastOptions {
        rooms: vec![sid.into()],
        ..Default::default()
    })
}

/// socket.io's `socket.handshake`, as a remote socket carries it.
fn handshake_value(h: &crate::socketio::Handshake) -> Value {
    let headers: Vec<(Value, Value)> = h
        .joined_headers()
        .into_iter()
        .map(|(name, value)| (Value::from(name), Value::from(value)))
        .collect();
    let query = h
        .query_pairs()
        .into_iter()
        .map(|(k, v)| (Value::from(k), Value::from(v)))
        .collect();
    let auth = serde_json::to_string(&h.auth)
        .ok()
        .and_then(|json| wire::json_to_value(&json, &[]).ok())
        .unwrap_or(Value::Map(Vec::new()));
    wire::map([
        ("headers", Value::Map(headers)),
        ("time", Value::from(wire::iso_from_millis(h.issued()))),
        (
            "address",
            Value::from(h.address().map(|a| a.ip().to_string()).unwrap_or_default()),
        ),
        (
            "xdomain",
            Value::Boolean(h.headers().contains_key(http::header::ORIGIN)),
        ),
        ("secure", Value::Boolean(false)),
        ("issued", Value::from(h.issued())),
        ("url", Value::from(h.url())),
        ("query", Value::Map(query)),
        ("auth", auth),
    ])
}
