//! A client's connection to one namespace.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::socketio::{ArgList, Args, Encoded, Encoder};
use serde::Serialize;
use tracing::Instrument;

use super::ack::{poll_now, run_now, AckSender, AckSlot};
use super::client::Client;
use super::error::{AckError, DisconnectReason, EmitError};
use super::handshake::Handshake;
use super::namespace::NamespaceInner;
use super::operators::BroadcastOperator;
use crate::adapter::{IntoRooms, Room};
use crate::engine::{CloseReason, EngineSocket, Outgoing, Sid, Text};

pub(crate) type BoxFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
pub(crate) type EventHandler =
    Arc<dyn Fn(Socket, Args, Option<AckSender>) -> BoxFuture + Send + Sync>;
type DisconnectHandler = Box<dyn FnOnce(Socket, DisconnectReason) -> BoxFuture + Send>;

/// Removes ack slot `id` from `sockets` when dropped.
pub(crate) struct AckSlotGuard<'a> {
    pub(crate) sockets: &'a [Socket],
    pub(crate) id: u64,
}

impl Drop for AckSlotGuard<'_> {
    fn drop(&mut self) {
        for socket in self.sockets {
            socket.remove_ack_slot(self.id);
        }
    }
}

/// A socket was refused a room: it is in `max_rooms_per_socket` rooms already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimitError {
    /// The limit in force.
    pub limit: usize,
}

impl fmt::Display for RoomLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Too many rooms (at most {} per socket)", self.limit)
    }
}

impl std::error::Error for RoomLimitError {}

/// Splits an encoded packet into the engine's text packet and its attachments.
pub(crate) fn outgoing(packet: Encoded) -> (Outgoing, Vec<Bytes>) {
    (
        Outgoing::Text(Text::encoded(packet.text, 0)),
        packet.attachments,
    )
}

/// [`outgoing`] for a packet queued to many sessions: clones share its bytes.
pub(crate) fn outgoing_shared(packet: &Encoded) -> (Outgoing, Vec<Bytes>) {
    (
        Outgoing::Text(Text::encoded(packet.text.clone(), 0).into_shared()),
        packet.attachments.clone(),
    )
}

pub(crate) struct SocketInner {
    pub(crate) id: Sid,
    pub(crate) ns: Arc<NamespaceInner>,
    engine: Arc<EngineSocket>,
    client: Weak<Client>,
    handshake: Handshake,
    /// The private session id of connection state recovery (when on).
    pid: Option<Sid>,
    recovered: bool,
    handlers: RwLock<HashMap<Box<str>, EventHandler>>,
    any: RwLock<Option<EventHandler>>,
    on_disconnect: Mutex<Vec<DisconnectHandler>>,
    pub(crate) acks: Mutex<HashMap<u64, AckSlot>>,
    connected: AtomicBool,
    /// Set once the socket left its namespace; later registrations and joins are ignored.
    closed: AtomicBool,
    closed_signal: tokio::sync::Notify,
    extensions: Mutex<http::Extensions>,
    /// The `socket` span: middleware, hooks and event spans run inside it.
    span: tracing::Span,
    /// The transport this socket is counted under in `socketio_sockets_connected`
    /// (`TransportKind as u8 + 1`; 0: not counted).
    counted: AtomicU8,
}

/// A client's connection to a namespace (socket.io's server-side `socket`). Cheap to clone.
///
/// Register listeners with [`Socket::on`], answer with [`Socket::emit`] or the
/// [`AckSender`] of an event, and group sockets with rooms ([`Socket::join`]).
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.ns.name)
            .finish_non_exhaustive()
    }
}

impl Socket {
    /// A new socket; with `restored`, the socket of a recovered session (its id, private
    /// session id and extensions; its rooms are joined when it is attached).
    pub(crate) fn new(
        ns: Arc<NamespaceInner>,
        engine: Arc<EngineSocket>,
        client: Weak<Client>,
        handshake: Handshake,
        restored: Option<&super::recovery::PersistedSession>,
    ) -> Self {
        let (id, pid, data) = match restored {
            Some(s) => (s.sid, Some(s.pid), s.data.clone()),
            None => (
                Sid::random(),
                ns.recovery.as_ref().map(|_| Sid::random()),
                http::Extensions::new(),
            ),
        };
        let span = tracing::info_span!(
            "socket",
            sid = %id,
            nsp = %ns.name,
            transport = crate::telemetry::transport_label(engine.transport()),
            remote = engine.request().remote_addr.map(tracing::field::display),
            reason = tracing::field::Empty,
        );
        Socket(Arc::new(SocketInner {
            span,
            counted: AtomicU8::new(0),
            id,
            ns,
            engine,
            client,
            handshake,
            pid,
            recovered: restored.is_some(),
            handlers: RwLock::default(),
            any: RwLock::default(),
            on_disconnect: Mutex::default(),
            acks: Mutex::default(),
            connected: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            closed_signal: tokio::sync::Notify::new(),
            extensions: Mutex::new(data),
        }))
    }

    /// Whether this socket is a recovered session (connection state recovery, socket.io's
    /// `socket.recovered`, read as `client.recovered` in a NestJS gateway): the client
    /// came back within `max_disconnection_duration` with the same id, its rooms and
    /// extensions were restored, and the events it missed were sent again. Visible from
    /// middleware and connection guards (when they run for recovered sockets), connection
    /// handlers and every event handler. Always `false` when recovery is off.
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// The `socket` tracing span (see [`crate::telemetry`]).
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.0.span
    }

    /// The private session id sent in the CONNECT answer (recovery on).
    pub(crate) fn pid(&self) -> Option<Sid> {
        self.0.pid
    }

    /// The socket id: its own per namespace connection, never the Engine.IO session id.
    pub fn id(&self) -> Sid {
        self.0.id
    }

    /// The namespace name.
    pub fn namespace_name(&self) -> &str {
        &self.0.ns.name
    }

    /// The namespace this socket belongs to.
    pub fn namespace(&self) -> super::Namespace {
        super::Namespace(self.0.ns.clone())
    }

    /// The handshake (headers, query, auth, address, url, time).
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// Whether the socket is still connected to its namespace.
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    pub(crate) fn engine(&self) -> &Arc<EngineSocket> {
        &self.0.engine
    }

    /// Registers the listener for `event`; it receives the socket, the arguments and an
    /// [`AckSender`] when the client asked for an acknowledgement. Events of a socket are
    /// dispatched in arrival order.
    pub fn on<F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(Socket, Args, Option<AckSender>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, a, ack| Box::pin(handler(s, a, ack)));
        let mut handlers = self.0.handlers.write().unwrap_or_else(|e| e.into_inner());
        if !self.is_closed() {
            handlers.insert(event.into().into_boxed_str(), handler);
        }
    }

    /// Registers a catch-all listener called for every event (before the event's own
    /// listener); `args.event()` names the event.
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, Args, Option<AckSender>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, a, ack| Box::pin(handler(s, a, ack)));
        let mut any = self.0.any.write().unwrap_or_else(|e| e.into_inner());
        if !self.is_closed() {
            *any = Some(handler);
        }
    }

    /// Registers a listener for the socket's disconnection.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: FnOnce(Socket, DisconnectReason) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut list = self
            .0
            .on_disconnect
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !self.is_closed() {
            list.push(Box::new(move |s, r| Box::pin(handler(s, r))));
        }
    }

    pub(crate) fn dispatch(&self, args: Args, ack_id: Option<u64>) {
        if let Some(observer) = self.0.ns.observer.get() {
            observer.event_in(self, &args);
        }
        let handler = {
            let handlers = self.0.handlers.read().unwrap_or_else(|e| e.into_inner());
            // Gateways dispatch through the namespace: most sockets have no listener.
            if handlers.is_empty() {
                None
            } else {
                handlers.get(args.event()).cloned()
            }
        };
        let handler = handler.or_else(|| {
            let hooks = self.0.ns.hooks.read().unwrap_or_else(|e| e.into_inner());
            hooks.dispatcher.clone()
        });
        let any = self.0.any.read().unwrap_or_else(|e| e.into_inner()).clone();
        if any.is_none() && handler.is_none() {
            return;
        }
        let span = tracing::debug_span!(
            parent: &self.0.span,
            "event",
            event = args.event(),
            ack = ack_id.is_some(),
            acked = tracing::field::Empty,
            outcome = tracing::field::Empty,
            guard = tracing::field::Empty,
            exception = tracing::field::Empty,
        );
        let ack = ack_id.map(|id| AckSender::new(self.clone(), id));
        // Entered before the handlers are called: a gateway's plain handler runs then.
        let _in_span = span.enter();
        match (any, handler) {
            (Some(any), Some(handler)) => {
                self.run_handler(any(self.clone(), args.clone(), None), &span);
                self.run_handler(handler(self.clone(), args, ack), &span);
            }
            (Some(any), None) => self.run_handler(any(self.clone(), args, ack), &span),
            (None, Some(handler)) => self.run_handler(handler(self.clone(), args, ack), &span),
            (None, None) => {}
        }
    }

    /// Runs an event handler now (in `span`, entered by the caller); one that has to
    /// wait continues as a task in `span`, counted against the connection's
    /// `max_pending_handlers`.
    fn run_handler(&self, fut: BoxFuture, span: &tracing::Span) {
        let Some(rest) = poll_now(fut) else {
            return;
        };
        let rest = rest.instrument(span.clone());
        match self.0.client.upgrade() {
            Some(client) => {
                let pending = client.handler_started();
                tokio::spawn(async move {
                    let _pending = pending;
                    rest.await;
                });
            }
            None => {
                tokio::spawn(rest);
            }
        }
    }

    pub(crate) fn on_ack(&self, id: u64, args: Args) {
        self.0.ns.metrics.acks_received.increment(1);
        let slot = self
            .0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        match slot {
            Some(AckSlot::One(tx)) => {
                let _ = tx.send(args);
            }
            Some(AckSlot::Many(f)) => f(args),
            None => {}
        }
    }

    pub(crate) fn add_ack_slot(&self, id: u64, slot: AckSlot) {
        self.0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, slot);
    }

    pub(crate) fn remove_ack_slot(&self, id: u64) {
        self.0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Emits `event` with one argument to this client.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.emit_args(event, &(data,))
    }

    /// Emits `event` with several arguments (a tuple, `()` or received [`Args`]).
    pub fn emit_args(&self, event: &str, args: &(impl ArgList + ?Sized)) -> Result<(), EmitError> {
        let packet = Encoder::event(&self.0.ns.name, None, event, args)?;
        self.0.ns.metrics.events_sent.increment(1);
        let Some(recovery) = &self.0.ns.recovery else {
            return self.send_encoded(packet);
        };
        // Recorded for this socket's id room, so that it is replayed if the client misses it.
        let opts = crate::adapter::BroadcastOptions {
            rooms: vec![Room::from(self.0.id.as_str())],
            ..Default::default()
        };
        let mut sent = Ok(());
        recovery
            .store
            .record(&self.0.ns.name, &packet, &opts, &mut |p| {
                sent = self.send_encoded(p.clone());
            });
        sent
    }

    pub(crate) fn send_encoded(&self, packet: Encoded) -> Result<(), EmitError> {
        if let Some(observer) = self.0.ns.observer.get() {
            observer.event_out(&self.0.ns.name, &packet, &[self.0.id]);
        }
        let (first, attachments) = super::parser::wire_owned(&self.0.ns.parser, packet);
        self.0.engine.send_parts(first, &attachments)?;
        Ok(())
    }

    /// Whether packets go out in the JSON text form (the default parser).
    pub(crate) fn json_parser(&self) -> bool {
        self.0.ns.parser.is_none()
    }

    /// Emits `event` and waits for the client's acknowledgement (up to `timeout`).
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: &(impl ArgList + ?Sized),
        timeout: Duration,
    ) -> Result<Args, AckError> {
        let id = self.0.ns.next_ack_id();
        let packet = Encoder::event(&self.0.ns.name, Some(id), event, args)
            .map_err(|_| AckError::Send(crate::engine::SendError::Closed))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.add_ack_slot(id, AckSlot::One(tx));
        // Removes the slot however this ends (timeout, error, or the caller dropping us).
        let _slot = AckSlotGuard {
            sockets: std::slice::from_ref(self),
            id,
        };
        self.0.ns.metrics.events_sent.increment(1);
        if let Err(e) = self.send_encoded(packet) {
            return Err(match e {
                EmitError::Send(s) => AckError::Send(s),
                EmitError::Encode(_) => AckError::Send(crate::engine::SendError::Closed),
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(args)) => Ok(args),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => Err(AckError::Timeout),
        }
    }

    /// Joins `room` (socket.io's `socket.join`). Beyond the server's
    /// `max_rooms_per_socket` (default 10 000) it joins nothing and logs a warning: use
    /// [`try_join`](Self::try_join) to tell the client.
    pub fn join(&self, room: impl Into<Room>) {
        self.join_all(&[room.into()]);
    }

    /// Joins `room`, or says why not: the socket is in `max_rooms_per_socket` rooms
    /// already. The error converts into a `WsException` ("Too many rooms"), so a handler
    /// can write `client.try_join(room)?`.
    ///
    /// ```no_run
    /// # use gateway_runtime::socketio::{Socket, RoomLimitError};
    /// fn join(client: &Socket, room: &str) -> Result<(), RoomLimitError> {
    ///     client.try_join(room)?;
    ///     assert!(client.in_room(room));
    ///     Ok(())
    /// }
    /// ```
    pub fn try_join(&self, room: impl Into<Room>) -> Result<(), RoomLimitError> {
        self.try_join_all(&[room.into()])
    }

    /// Joins several rooms (nothing once the socket has disconnected). Beyond
    /// `max_rooms_per_socket` it joins none of them and logs a warning.
    pub fn join_all(&self, rooms: &[Room]) {
        if let Err(e) = self.try_join_all(rooms) {
            tracing::warn!(socket = %self.0.id, nsp = %self.0.ns.name, "{e}; join ignored");
        }
    }

    /// Joins several rooms, all or none: none when that would put the socket in more than
    /// `max_rooms_per_socket` rooms.
    pub fn try_join_all(&self, rooms: &[Room]) -> Result<(), RoomLimitError> {
        if self.is_closed() {
            return Ok(());
        }
        let limit = self
            .0
            .client
            .upgrade()
            .map_or(usize::MAX, |c| c.max_rooms());
        let adapter = &self.0.ns.adapter;
        if limit != usize::MAX {
            let mut new: Vec<&str> = rooms
                .iter()
                .map(|r| &**r)
                .filter(|r| !adapter.socket_in_room(self.0.id, r) && *r != self.0.id.as_str())
                .collect();
            new.sort_unstable();
            new.dedup();
            let new = new.len();
            if new > 0 && adapter.socket_room_count(self.0.id) + new > limit {
                return Err(RoomLimitError { limit });
            }
        }
        self.join_unchecked(rooms);
        Ok(())
    }

    /// Whether this socket is in `room` (its own id room included), without copying its
    /// room list (socket.io's `socket.rooms.has(room)`).
    pub fn in_room(&self, room: &str) -> bool {
        room == self.0.id.as_str() || self.0.ns.adapter.socket_in_room(self.0.id, room)
    }

    /// How many rooms this socket is in, its own id room not counted (no copy of the list).
    pub fn room_count(&self) -> usize {
        self.0.ns.adapter.socket_room_count(self.0.id)
    }

    /// Joins with no limit (rooms joined for the socket by the server, e.g. through the
    /// adapter from another node).
    pub(crate) fn join_unchecked(&self, rooms: &[Room]) {
        if self.is_closed() {
            return;
        }
        self.0.ns.adapter.add_all(self.0.id, rooms);
        if self.is_closed() {
            // Closed meanwhile: its rooms may have been cleared before this join.
            self.0.ns.adapter.del_all(self.0.id);
        } else if let Some(observer) = self.0.ns.observer.get() {
            observer.joined(self, rooms);
        }
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        self.0.ns.adapter.del(self.0.id, room);
        if let Some(observer) = self.0.ns.observer.get() {
            observer.left(self, room);
        }
    }

    /// The rooms this socket is in, its own id room first (as in socket.io's
    /// `socket.rooms`, where the socket joins its own room at connection). To test one
    /// room, [`in_room`](Self::in_room) copies nothing (`socket.rooms.has(room)`).
    pub fn rooms(&self) -> Vec<Room> {
        let joined = self.0.ns.adapter.socket_rooms(self.0.id);
        let mut rooms = Vec::with_capacity(joined.len() + 1);
        rooms.push(self.0.id.as_str().into());
        rooms.extend(joined);
        rooms
    }

    /// Broadcast to one room or several (`["a", "b"]`), excluding this socket (socket.io's
    /// `socket.to(room)`).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Socket::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Broadcast excluding sockets in one room or several, and this socket.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Broadcast to every socket of the namespace but this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone()).except(Room::from(self.0.id.as_str()))
    }

    /// Typed per-socket data: stores `value`, replacing one of the same type.
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) {
        self.0
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(value);
    }

    /// Typed per-socket data: a clone of the stored value of type `T`.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.0
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get::<T>()
            .cloned()
    }

    /// Typed per-socket data changed in place (socket.io's `socket.data`, NestJS's
    /// `client.data.x = ..`): `f` gets the stored `T`, inserted as `T::default()` first when
    /// there is none, and its result is returned. The data is the socket's own (restored
    /// with it by connection state recovery); `f` must not call back into this socket's
    /// data (the data is locked while it runs).
    ///
    /// ```no_run
    /// # use gateway_runtime::socketio::Socket;
    /// #[derive(Clone, Default)]
    /// struct Session { messages: u32, nickname: Option<String> }
    ///
    /// fn on_message(client: &Socket) -> u32 {
    ///     client.data_mut(|s: &mut Session| {
    ///         s.messages += 1;
    ///         s.messages
    ///     })
    /// }
    /// ```
    pub fn data_mut<T, R>(&self, f: impl FnOnce(&mut T) -> R) -> R
    where
        T: Clone + Default + Send + Sync + 'static,
    {
        let mut extensions = self.0.extensions.lock().unwrap_or_else(|e| e.into_inner());
        f(extensions.get_or_insert_default::<T>())
    }

    /// Disconnects the socket. The client sees "io server disconnect". With `close`, the
    /// whole underlying connection closes (every namespace of that client).
    pub fn disconnect(&self, close: bool) {
        if close {
            if let Some(client) = self.0.client.upgrade() {
                client.disconnect_all();
            } else {
                self.0.engine.close(CloseReason::ForcedServerClose);
            }
            return;
        }
        if self.connected() {
            let disconnect = Encoder::disconnect(&self.0.ns.name);
            let _ = self.send_encoded(Encoded {
                text: disconnect.to_vec(),
                attachments: Vec::new(),
            });
        }
        self.close(DisconnectReason::ServerNamespaceDisconnect);
    }

    pub(crate) fn mark_connected(&self) {
        self.0.connected.store(true, Ordering::Release);
        let transport = self.0.engine.transport();
        self.0.counted.store(transport as u8 + 1, Ordering::Release);
        self.0.ns.metrics.sockets[transport as usize].increment(1.0);
    }

    /// The connection moved to WebSocket: the socket is counted there now.
    pub(crate) fn transport_changed(&self) {
        let (polling, websocket) = (
            crate::engine::TransportKind::Polling as u8,
            crate::engine::TransportKind::Websocket as u8,
        );
        if self
            .0
            .counted
            .compare_exchange(
                polling + 1,
                websocket + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            let sockets = &self.0.ns.metrics.sockets;
            sockets[polling as usize].decrement(1.0);
            sockets[websocket as usize].increment(1.0);
        }
        if let Some(observer) = self.0.ns.observer.get() {
            observer.upgraded(self);
        }
    }

    /// Leaves the namespace: listeners run, rooms are left, pending acks fail.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if !self.0.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        self.0.closed.store(true, Ordering::Release);
        let counted = self.0.counted.swap(0, Ordering::AcqRel);
        if counted > 0 {
            self.0.ns.metrics.sockets[usize::from(counted - 1)].decrement(1.0);
        }
        self.0.ns.metrics.disconnected(reason.as_str());
        self.0.span.record("reason", reason.as_str());
        self.persist_session(reason);
        if let Some(observer) = self.0.ns.observer.get() {
            observer.disconnected(self, reason);
        }
        // Leave the rooms first: listeners see the socket as socket.io's `disconnect`
        // listeners do.
        self.0.ns.remove(self);
        let client = self.0.client.upgrade();
        if let Some(client) = &client {
            client.remove(&self.0.ns.name);
        }
        let handlers = std::mem::take(
            &mut *self
                .0
                .on_disconnect
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for h in handlers {
            run_now(h(self.clone(), reason).instrument(self.0.span.clone()));
        }
        self.0
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.0
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.0.any.write().unwrap_or_else(|e| e.into_inner()) = None;
        self.0.closed_signal.notify_waiters();
        if let Some(client) = client {
            client.forget_if_empty(&self.0.ns);
        }
    }

    /// Keeps the session for connection state recovery, when on and the client did not
    /// choose to leave.
    fn persist_session(&self, reason: DisconnectReason) {
        let (Some(recovery), Some(pid)) = (&self.0.ns.recovery, self.0.pid) else {
            return;
        };
        if !super::recovery::recoverable(reason) {
            tracing::debug!(socket = %self.0.id, nsp = %self.0.ns.name, %reason, "session not kept: the client chose to leave");
            return;
        }
        tracing::debug!(socket = %self.0.id, nsp = %self.0.ns.name, %reason, "session kept for recovery");
        let data = self
            .0
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        recovery.store.persist(super::recovery::PersistedSession {
            nsp: self.0.ns.name.clone(),
            sid: self.0.id,
            pid,
            rooms: self.rooms(),
            data,
        });
    }

    /// Resolves once the socket has left its namespace.
    pub async fn closed(&self) {
        let notified = self.0.closed_signal.notified();
        if self.0.closed.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Acquire)
    }
}
