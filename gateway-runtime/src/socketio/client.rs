//! One client connection (an Engine.IO session) and the namespace sockets on it.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tracing::Instrument;

use bytes::Bytes;
use gateway_core::socketio::{Args, Encoder, PacketKind, RawPacket};

use super::ack::run_now;
use super::error::{ConnectError, DisconnectReason};
use super::handshake::Handshake;
use super::server::ServerInner;
use super::socket::Socket;
use crate::engine::{CloseReason, EngineSocket, Message};
use crate::telemetry::NamespaceMetrics;

/// A binary packet waiting for its attachments.
struct Partial {
    kind: PacketKind,
    nsp: Box<str>,
    id: Option<u64>,
    data: Bytes,
    expected: usize,
    attachments: Vec<Bytes>,
    bytes: usize,
}

pub(crate) struct Client {
    engine: Arc<EngineSocket>,
    /// Event handlers of this connection still running as tasks.
    pending: Mutex<usize>,
    server: Arc<ServerInner>,
    sockets: Mutex<Vec<Socket>>,
    partial: Mutex<Option<Partial>>,
    connecting: Mutex<Vec<Box<str>>>,
}

impl Client {
    pub(crate) fn new(engine: Arc<EngineSocket>, server: Arc<ServerInner>) -> Arc<Self> {
        Arc::new(Self {
            engine,
            pending: Mutex::new(0),
            server,
            sockets: Mutex::default(),
            partial: Mutex::default(),
            connecting: Mutex::default(),
        })
    }

    /// An event handler of this connection continues as a task: counted until the
    /// returned guard drops. At `max_pending_handlers` the connection stops reading until
    /// one finishes (backpressure; nothing is dropped).
    pub(crate) fn handler_started(self: &Arc<Self>) -> PendingHandler {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending += 1;
        self.server.in_flight.started();
        if *pending >= self.server.max_pending_handlers {
            self.engine.hold_reading();
        }
        PendingHandler(self.clone())
    }

    /// Rooms one socket of this connection may be in.
    pub(crate) fn max_rooms(&self) -> usize {
        self.server.max_rooms
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        sockets.iter().find(|s| s.namespace_name() == nsp).cloned()
    }

    pub(crate) fn forget_if_empty(&self, ns: &Arc<super::namespace::NamespaceInner>) {
        self.server.forget_if_empty(ns);
    }

    fn connecting(&self, nsp: &str) -> bool {
        let list = self.connecting.lock().unwrap_or_else(|e| e.into_inner());
        list.iter().any(|n| &**n == nsp)
    }

    fn set_connecting(&self, nsp: &str, on: bool) {
        let mut list = self.connecting.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            list.push(nsp.into());
        } else {
            list.retain(|n| &**n != nsp);
        }
    }

    pub(crate) fn remove(&self, nsp: &str) {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        sockets.retain(|s| s.namespace_name() != nsp);
    }

    /// Sends a control packet of the text form (CONNECT answer, CONNECT_ERROR), through
    /// the server's parser.
    fn send_text(&self, text: impl Into<Vec<u8>>) {
        let packet = gateway_core::socketio::Encoded {
            text: text.into(),
            attachments: Vec::new(),
        };
        let (first, _) = super::parser::wire_owned(&self.server.parser, packet);
        let _ = self.engine.send(first);
    }

    fn parse_error(&self) {
        self.engine.close(CloseReason::ParseError);
    }

    pub(crate) fn on_message(self: &Arc<Self>, message: Message) {
        if let Some(parser) = &self.server.parser {
            // One binary message per packet; a text message is not a packet.
            let Message::Binary(data) = message else {
                return self.parse_error();
            };
            return match parser.decode(&data, self.server.max_payload.saturating_mul(2)) {
                Ok(p) => {
                    let data = Bytes::from(p.data.unwrap_or_default());
                    self.route(p.kind, &p.nsp, p.id, data, Some(p.attachments), 0);
                }
                Err(e) => {
                    tracing::debug!(sid = %self.engine.sid(), "{e}");
                    self.parse_error()
                }
            };
        }
        match message {
            Message::Text(frame) => match std::str::from_utf8(&frame) {
                Ok(text) => self.on_text(frame.clone(), text),
                Err(_) => self.parse_error(),
            },
            Message::Binary(data) => self.on_binary(data),
        }
    }

    /// A text packet: `text` is `frame` read as UTF-8.
    pub(crate) fn on_text(self: &Arc<Self>, frame: Bytes, text: &str) {
        if self
            .partial
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return self.parse_error(); // text while waiting for attachments
        }
        let Ok(raw) = RawPacket::decode_header(text) else {
            return self.parse_error();
        };
        let data = frame.slice_ref(raw.data.as_bytes());
        self.route(raw.kind, raw.nsp, raw.id, data, None, raw.attachments);
    }

    /// Handles a decoded packet: `attachments` are its binary values when they came with
    /// it (a binary parser), `None` when `expected` of them follow (the JSON parser).
    #[inline(always)]
    fn route(
        self: &Arc<Self>,
        kind: PacketKind,
        nsp: &str,
        id: Option<u64>,
        data: Bytes,
        attachments: Option<Vec<Bytes>>,
        expected: usize,
    ) {
        // Any packet but CONNECT must target a namespace this client joined, and CONNECT
        // one it did not (socket.io closes the connection otherwise).
        let socket = self.socket(nsp);
        let joined = socket.is_some() || self.connecting(nsp);
        if (kind == PacketKind::Connect) == joined {
            tracing::debug!(
                sid = %self.engine.sid(), nsp, ?kind,
                "{}: closing the connection (parse error)",
                if joined { "CONNECT to a namespace already joined" } else { "packet for a namespace this client has not joined" }
            );
            return self.parse_error();
        }
        match kind {
            PacketKind::Connect => match std::str::from_utf8(&data) {
                Ok(auth) => self.connect(nsp, auth),
                Err(_) => self.parse_error(),
            },
            PacketKind::Disconnect => {
                if let Some(socket) = socket {
                    socket.close(DisconnectReason::ClientNamespaceDisconnect);
                }
            }
            PacketKind::ConnectError => self.parse_error(),
            // EVENT, ACK and their binary forms.
            _ if attachments.is_some() || expected == 0 => {
                if let Some(socket) = socket {
                    let attachments = attachments.unwrap_or_default();
                    self.deliver_to(&socket, kind, id, data, attachments);
                }
            }
            _ => {
                // The JSON form: the attachments follow as binary messages.
                *self.partial.lock().unwrap_or_else(|e| e.into_inner()) = Some(Partial {
                    kind,
                    nsp: nsp.into(),
                    id,
                    expected,
                    attachments: Vec::with_capacity(expected.min(16)),
                    // The header counts too: one binary packet holds max_payload at most.
                    bytes: data.len(),
                    data,
                });
            }
        }
    }

    fn on_binary(self: &Arc<Self>, data: Bytes) {
        let complete = {
            let mut slot = self.partial.lock().unwrap_or_else(|e| e.into_inner());
            let Some(partial) = slot.as_mut() else {
                drop(slot);
                return self.parse_error(); // binary without a binary packet header
            };
            partial.bytes += data.len();
            if partial.bytes > self.server.max_payload {
                drop(slot);
                return self.parse_error(); // attachments beyond max_payload in total
            }
            partial.attachments.push(data);
            if partial.attachments.len() < partial.expected {
                return;
            }
            slot.take()
        };
        if let Some(p) = complete {
            self.deliver(p.kind, &p.nsp, p.id, p.data, p.attachments);
        }
    }

    fn deliver(
        &self,
        kind: PacketKind,
        nsp: &str,
        id: Option<u64>,
        data: Bytes,
        attachments: Vec<Bytes>,
    ) {
        match self.socket(nsp) {
            Some(socket) => self.deliver_to(&socket, kind, id, data, attachments),
            // Left the namespace meanwhile; the packet is still checked.
            None => {
                if Self::parse_args(kind, data, &attachments).is_none() {
                    self.parse_error();
                }
            }
        }
    }

    /// The arguments of an EVENT or ACK packet; `None` when they are not valid.
    fn parse_args(kind: PacketKind, data: Bytes, attachments: &[Bytes]) -> Option<Args> {
        let parsed = if matches!(kind, PacketKind::Event | PacketKind::BinaryEvent) {
            Args::parse_event(data)
        } else {
            Args::parse_ack(data)
        };
        let args = parsed.ok()?;
        // A placeholder must name an attachment that came.
        (!kind.is_binary() || args.placeholders_within(attachments.len())).then_some(args)
    }

    fn deliver_to(
        &self,
        socket: &Socket,
        kind: PacketKind,
        id: Option<u64>,
        data: Bytes,
        attachments: Vec<Bytes>,
    ) {
        let Some(mut args) = Self::parse_args(kind, data, &attachments) else {
            return self.parse_error();
        };
        args.set_attachments(attachments);
        if matches!(kind, PacketKind::Event | PacketKind::BinaryEvent) {
            socket.0.ns.metrics.events_received.increment(1);
            socket.dispatch(args, id);
        } else if let Some(id) = id {
            socket.on_ack(id, args);
        }
    }

    fn connect(self: &Arc<Self>, nsp: &str, auth: &str) {
        let auth: serde_json::Value = if auth.trim().is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            match serde_json::from_str(auth) {
                Ok(v) => v,
                Err(_) => return self.parse_error(),
            }
        };
        let joined = self.sockets.lock().unwrap_or_else(|e| e.into_inner()).len();
        let connecting = self
            .connecting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        if joined + connecting >= self.server.max_namespaces {
            // Only this namespace is refused: the connection and its others stay.
            tracing::debug!(sid = %self.engine.sid(), nsp, "refusing a namespace beyond max_namespaces_per_connection");
            NamespaceMetrics::refused(&self.server.namespace_label(nsp), "too_many_namespaces");
            self.send_text(Encoder::connect_error(
                nsp,
                "Too many namespaces on this connection",
                None,
            ));
            return;
        }
        let Some(ns) = self.server.namespace_for(nsp) else {
            tracing::debug!(sid = %self.engine.sid(), nsp, "CONNECT to a namespace the server does not have: connect_error \"Invalid namespace\"");
            NamespaceMetrics::refused("(unknown)", "invalid_namespace");
            self.send_text(Encoder::connect_error(nsp, "Invalid namespace", None));
            return;
        };
        let client = self.clone();
        self.set_connecting(nsp, true);
        run_now(Box::pin(async move {
            ns.ready().await;
            let restored = client.restore(&ns, &auth).await;
            let handshake = Handshake::new(client.engine.request().clone(), auth);
            let socket = Socket::new(
                ns.clone(),
                client.engine.clone(),
                Arc::downgrade(&client),
                handshake,
                restored.as_ref().map(|r| &r.session),
            );
            let span = socket.span().clone();
            client.admit(ns, socket, restored).instrument(span).await;
        }));
    }

    /// Runs the namespace's middleware for `socket`, then attaches it (or refuses it)
    /// and runs the connection handlers.
    async fn admit(
        self: Arc<Self>,
        ns: Arc<super::namespace::NamespaceInner>,
        socket: Socket,
        restored: Option<super::recovery::RestoredSession>,
    ) {
        let client = self;
        {
            let hooks = ns.hooks();
            let skip = restored.is_some()
                && ns
                    .recovery
                    .as_ref()
                    .is_some_and(|r| r.options.skip_middlewares);
            let middlewares = if skip {
                &[][..]
            } else {
                &hooks.middlewares[..]
            };
            for middleware in middlewares {
                let outcome = AssertUnwindSafe(middleware(socket.clone()))
                    .catch_unwind()
                    .await;
                let refusal = match outcome {
                    Ok(Ok(())) => continue,
                    Ok(Err(err)) => {
                        tracing::debug!(nsp = %ns.name, message = %err.message, "connection refused by middleware or a connection guard");
                        NamespaceMetrics::refused(&ns.metrics.label, "middleware");
                        err
                    }
                    Err(_) => {
                        tracing::error!(nsp = %ns.name, "namespace middleware panicked");
                        ConnectError::new("Internal server error")
                    }
                };
                // Cleared first, so a client retrying at once is not taken for a duplicate.
                client.set_connecting(&ns.name, false);
                client.send_text(Encoder::connect_error(
                    &ns.name,
                    &refusal.message,
                    refusal.data.as_ref(),
                ));
                ns.connecting.fetch_sub(1, Ordering::AcqRel);
                client.server.forget_if_empty(&ns);
                return;
            }
            client.set_connecting(&ns.name, false);
            let attached = match (&restored, &ns.recovery) {
                (Some(restored), Some(recovery)) => {
                    recovery.store.resume(restored, &mut |missed| {
                        client.attach(&ns, &socket, &restored.session.rooms, missed)
                    })
                }
                _ => {
                    client.attach(&ns, &socket, &[], &[]);
                    true
                }
            };
            ns.connecting.fetch_sub(1, Ordering::AcqRel);
            if !attached {
                // The events it missed are no longer all kept: the client reconnects and
                // gets a fresh session.
                tracing::debug!(sid = %socket.id(), nsp = %ns.name, "missed events dropped during recovery; closing");
                NamespaceMetrics::refused(&ns.metrics.label, "recovery_lost");
                client.engine.close(CloseReason::ForcedServerClose);
                client.server.forget_if_empty(&ns);
                return;
            }
            // The connection may have closed while middleware ran: `on_close` then either
            // saw this socket or runs after this check, so the socket never outlives it.
            if let Some(reason) = client.engine.close_reason() {
                socket.close(DisconnectReason::Transport(reason));
                return;
            }
            for handler in hooks.on_connection.iter() {
                run_now(handler(socket.clone()));
            }
        }
    }

    /// With connection state recovery on, the session the client asks to recover (its
    /// `auth` carries `pid` and `offset`), when the store still has it.
    async fn restore(
        &self,
        ns: &super::namespace::NamespaceInner,
        auth: &serde_json::Value,
    ) -> Option<super::recovery::RestoredSession> {
        let recovery = ns.recovery.as_ref()?;
        let pid = auth.get("pid")?.as_str()?;
        let offset = auth.get("offset")?.as_str()?;
        match recovery.store.restore(&ns.name, pid, offset).await {
            Ok(found) => {
                if found.is_none() {
                    tracing::debug!(nsp = %ns.name, "no session to recover (expired, or its events were dropped): a fresh session");
                }
                found
            }
            Err(e) => {
                tracing::warn!(nsp = %ns.name, "cannot restore a session: {e}");
                None
            }
        }
    }

    /// Makes `socket` live: in its namespace and this client's list, in `rooms` (a
    /// recovered session's), then sends the `missed` events and the CONNECT answer.
    fn attach(
        &self,
        ns: &super::namespace::NamespaceInner,
        socket: &Socket,
        rooms: &[crate::adapter::Room],
        missed: &[gateway_core::socketio::Encoded],
    ) {
        self.engine.established();
        socket.mark_connected();
        ns.insert(socket);
        if let Some(observer) = ns.observer.get() {
            observer.connected(socket);
        }
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(socket.clone());
        if self.engine.transport() == crate::engine::TransportKind::Websocket {
            // Upgraded while it was being counted: `on_upgrade` may have missed it.
            socket.transport_changed();
        }
        if !rooms.is_empty() {
            socket.join_unchecked(rooms);
        }
        // As socket.io: the missed events come first; the client holds them until the
        // CONNECT answer, then emits them before `connect`.
        for packet in missed {
            let _ = socket.send_encoded(packet.clone());
        }
        let pid = socket.pid();
        let connected = Encoder::connect_with_pid(
            &ns.name,
            socket.id().as_str(),
            pid.as_ref().map(|p| p.as_str()),
        );
        self.send_text(connected);
    }

    /// Disconnects every socket of this client, then closes the connection.
    pub(crate) fn disconnect_all(&self) {
        let sockets = std::mem::take(&mut *self.sockets.lock().unwrap_or_else(|e| e.into_inner()));
        for socket in sockets {
            socket.disconnect(false);
        }
        self.engine.close(CloseReason::ForcedServerClose);
    }

    /// The connection moved to WebSocket.
    pub(crate) fn on_upgrade(&self) {
        let sockets = self
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for socket in sockets {
            socket.transport_changed();
        }
    }

    pub(crate) fn on_close(&self, reason: CloseReason) {
        let sockets = std::mem::take(&mut *self.sockets.lock().unwrap_or_else(|e| e.into_inner()));
        for socket in sockets {
            socket.close(DisconnectReason::Transport(reason));
        }
    }
}

/// Counts one running event handler of a connection (see [`Client::handler_started`]).
pub(crate) struct PendingHandler(Arc<Client>);

impl Drop for PendingHandler {
    fn drop(&mut self) {
        let client = &self.0;
        let mut pending = client.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending -= 1;
        client.server.in_flight.finished();
        if *pending < client.server.max_pending_handlers {
            client.engine.release_reading();
        }
    }
}
