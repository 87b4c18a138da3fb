//! Namespaces: a named channel multiplexed over each client's connection.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::error::{ConnectError, EmitError};
use super::operators::BroadcastOperator;
use super::socket::{BoxFuture, Socket};
use crate::adapter::{Adapter, IntoRooms};
use crate::engine::{Sid, SidMap};

pub(crate) type Middleware = Arc<
    dyn Fn(Socket) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send>>
        + Send
        + Sync,
>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture + Send + Sync>;
/// Runs once for each new child of a dynamic namespace.
pub(crate) type NamespaceHook = Arc<dyn Fn(Namespace) -> BoxFuture + Send + Sync>;

/// The hooks a namespace runs for each connection; shared by the children of a dynamic
/// namespace. A connection takes a snapshot (a few reference counts, no copy of the lists).
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) middlewares: Arc<Vec<Middleware>>,
    pub(crate) on_connection: Arc<Vec<ConnectionHandler>>,
    /// Handles events a socket has no listener of its own for (the gateways' table).
    pub(crate) dispatcher: Option<super::socket::EventHandler>,
    /// Listeners of events sent by the other server nodes.
    pub(crate) server_side: super::server_side::ServerSideHandlers,
    /// Run once for each namespace, before its first client's middleware.
    pub(crate) on_new_namespace: Arc<Vec<NamespaceHook>>,
}

impl Hooks {
    pub(crate) fn add_middleware(&mut self, middleware: Middleware) {
        Arc::make_mut(&mut self.middlewares).push(middleware);
    }

    pub(crate) fn add_connection_handler(&mut self, handler: ConnectionHandler) {
        Arc::make_mut(&mut self.on_connection).push(handler);
    }

    pub(crate) fn set_server_side(
        &mut self,
        event: String,
        handler: super::server_side::ServerSideHandler,
    ) {
        Arc::make_mut(&mut self.server_side).insert(event, handler);
    }

    pub(crate) fn add_new_namespace_hook(&mut self, hook: NamespaceHook) {
        Arc::make_mut(&mut self.on_new_namespace).push(hook);
    }
}

pub(crate) struct NamespaceInner {
    pub(crate) name: Arc<str>,
    pub(crate) sockets: RwLock<SidMap<Socket>>,
    pub(crate) hooks: Arc<RwLock<Hooks>>,
    pub(crate) adapter: Arc<dyn Adapter>,
    ack_ids: AtomicU64,
    /// A child of a dynamic namespace: dropped once it has no socket.
    pub(crate) dynamic: bool,
    /// Connections running this namespace's middleware.
    pub(crate) connecting: std::sync::atomic::AtomicUsize,
    /// Set once the `on_new_namespace` hooks ran.
    ready: tokio::sync::OnceCell<()>,
    /// Connection state recovery, when the server has it on.
    pub(crate) recovery: Option<Arc<super::recovery::Recovery>>,
    /// The server's parser (`None`: JSON).
    pub(crate) parser: super::parser::ServerParser,
    pub(crate) metrics: crate::telemetry::NamespaceMetrics,
    /// The server's observer (the admin UI), when one is set.
    pub(crate) observer: super::observe::ObserverSlot,
}

impl NamespaceInner {
    fn new(
        name: &str,
        adapter: Arc<dyn Adapter>,
        hooks: Arc<RwLock<Hooks>>,
        dynamic: bool,
        recovery: Option<Arc<super::recovery::Recovery>>,
        parser: super::parser::ServerParser,
        observer: super::observe::ObserverSlot,
    ) -> Self {
        Self {
            name: name.into(),
            sockets: RwLock::default(),
            hooks,
            adapter,
            ack_ids: AtomicU64::new(0),
            dynamic,
            connecting: Default::default(),
            ready: tokio::sync::OnceCell::new(),
            recovery,
            parser,
            metrics: crate::telemetry::NamespaceMetrics::new(name, dynamic),
            observer,
        }
    }

    /// Creates the namespace and binds its adapter to it.
    pub(crate) fn create(
        name: &str,
        adapter: Arc<dyn Adapter>,
        hooks: Arc<RwLock<Hooks>>,
        dynamic: bool,
        recovery: Option<&super::recovery::ServerRecovery>,
        parser: super::parser::ServerParser,
        observer: super::observe::ObserverSlot,
    ) -> Arc<Self> {
        let recovery = recovery.map(|(options, memory)| {
            let store = adapter
                .session_store()
                .unwrap_or_else(|| memory.clone() as Arc<dyn super::recovery::SessionStore>);
            Arc::new(super::recovery::Recovery {
                options: options.clone(),
                store,
            })
        });
        let ns = Arc::new(Self::new(
            name, adapter, hooks, dynamic, recovery, parser, observer,
        ));
        ns.adapter
            .bind(crate::adapter::LocalNamespace(Arc::downgrade(&ns)));
        ns
    }

    /// Runs the `on_new_namespace` hooks the first time it is called; later calls (and
    /// concurrent ones) wait for them to finish.
    pub(crate) async fn ready(self: &Arc<Self>) {
        self.ready
            .get_or_init(|| async {
                let hooks = self
                    .hooks
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .on_new_namespace
                    .clone();
                for hook in hooks.iter() {
                    // A panicking hook is logged; the namespace goes on (its clients are
                    // not left half-connected).
                    let run = std::panic::AssertUnwindSafe(hook(Namespace(self.clone())));
                    if futures_util::FutureExt::catch_unwind(run).await.is_err() {
                        tracing::error!(nsp = %self.name, "a new-namespace hook panicked");
                    }
                }
            })
            .await;
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn insert(&self, socket: &Socket) {
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(socket.id(), socket.clone());
    }

    pub(crate) fn remove(&self, socket: &Socket) {
        self.adapter.del_all(socket.id());
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&socket.id());
    }

    pub(crate) fn hooks(&self) -> Hooks {
        self.hooks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Calls `f` for each local socket matched by `opts`, under the sockets' read lock.
    pub(crate) fn for_each_target(
        &self,
        opts: &crate::adapter::BroadcastOptions,
        mut f: impl FnMut(&Socket),
    ) {
        let sockets = self.sockets.read().unwrap_or_else(|e| e.into_inner());
        if opts.rooms.is_empty() && opts.except.is_empty() {
            // Everyone: no room to look at, no id to look up.
            sockets.values().for_each(f);
            return;
        }
        let mut all = sockets.keys().copied();
        self.adapter.for_each_target(opts, &mut all, &mut |sid| {
            if let Some(s) = sockets.get(&sid) {
                f(s);
            }
        });
    }
}

/// A namespace (`/`, `/chat`, …): its connection listener, middleware, sockets and rooms.
/// Cheap to clone.
///
/// ```no_run
/// # use gateway_runtime::socketio::{SocketIo, ConnectError};
/// let io = SocketIo::builder().build();
/// let admin = io.of("/admin");
/// admin.middleware(|socket| async move {
///     match socket.handshake().auth.get("token").and_then(|t| t.as_str()) {
///         Some("secret") => Ok(()),
///         _ => Err(ConnectError::new("unauthorized")),
///     }
/// });
/// admin.on_connection(|socket| async move {
///     let _ = socket.emit("hello", "admin");
/// });
/// ```
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NamespaceInner>);

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Namespace").field(&self.0.name).finish()
    }
}

impl Namespace {
    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Adds a listener called for each new socket, after the CONNECT answer was sent.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ConnectionHandler = Arc::new(move |s| Box::pin(handler(s)));
        self.0
            .hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add_connection_handler(handler);
    }

    /// Adds middleware (socket.io's `use`): run in order for every connection attempt;
    /// an error refuses the connection with `CONNECT_ERROR {message, data}`.
    pub fn middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let middleware: Middleware = Arc::new(move |s| Box::pin(middleware(s)));
        self.0
            .hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add_middleware(middleware);
    }

    pub(crate) fn set_server_side_handler(
        &self,
        event: String,
        handler: super::server_side::ServerSideHandler,
    ) {
        self.0
            .hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .set_server_side(event, handler);
    }

    /// Sets the handler for events without a socket-level listener.
    pub(crate) fn set_dispatcher(&self, handler: super::socket::EventHandler) {
        self.0
            .hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .dispatcher = Some(handler);
    }

    /// The local sockets, by id.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0
            .sockets
            .read()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A local socket by id.
    pub fn get_socket(&self, id: Sid) -> Option<Socket> {
        self.0.sockets.read().ok()?.get(&id).cloned()
    }

    /// The adapter of this namespace.
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.0.adapter
    }

    /// All sockets, to start an operator chain.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.clone())
    }

    /// Targets rooms: one (`"lobby"`, a socket id) or several (`["a", "b"]`), as
    /// socket.io's `io.to(..)`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Namespace::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Excludes the sockets of one room or several.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Packets that may be lost: skipped for a socket that still has packets waiting
    /// (socket.io's `io.volatile.emit(..)`).
    pub fn volatile(&self) -> BroadcastOperator {
        self.broadcast().volatile()
    }

    /// Only this node's sockets.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    /// Emits to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.broadcast().emit(event, data)
    }

    /// Emits several arguments (or none: `&()`) to every socket of the namespace
    /// (socket.io's `io.emit("event", a, b)`).
    pub fn emit_args(
        &self,
        event: &str,
        args: &(impl gateway_core::socketio::ArgList + ?Sized),
    ) -> Result<(), EmitError> {
        self.broadcast().emit_args(event, args)
    }

    /// Every socket of the namespace, on this node and the others (socket.io's
    /// `io.fetchSockets()`).
    pub async fn fetch_sockets(
        &self,
    ) -> Result<Vec<crate::adapter::SocketInfo>, crate::adapter::AdapterError> {
        self.broadcast().fetch_sockets().await
    }
}

/// Local operations used by the operators and by adapters applying remote requests.
pub(crate) mod internals {
    use std::sync::Arc;

    use gateway_core::socketio::{Args, Encoded};

    pub(crate) use super::NamespaceInner;
    use crate::adapter::{BroadcastOptions, Room, SocketInfo};
    use crate::socketio::ack::AckSlot;
    use crate::socketio::parser::wire;
    use crate::socketio::socket::Socket;

    /// Runs the listener of a server-side event sent by another node (none: ignored).
    pub(crate) fn server_side_event(
        ns: &NamespaceInner,
        args: Args,
        ack: Option<crate::socketio::server_side::ServerSideAck>,
    ) {
        let handler = {
            let hooks = ns.hooks.read().unwrap_or_else(|e| e.into_inner());
            hooks.server_side.get(args.event()).cloned()
        };
        match handler {
            Some(handler) => crate::socketio::ack::run_now(handler(args, ack)),
            None => {
                tracing::debug!(nsp = %ns.name, event = args.event(), "server-side event without a listener")
            }
        }
    }

    /// Delivers `packet` to the local targets; with connection state recovery, a packet
    /// that is not volatile is recorded first (and sent with its offset).
    pub(crate) fn deliver(ns: &NamespaceInner, packet: &Encoded, opts: &BroadcastOptions) {
        match &ns.recovery {
            Some(recovery) if !opts.volatile => {
                recovery
                    .store
                    .record(&ns.name, packet, opts, &mut |p| deliver_now(ns, p, opts));
            }
            _ => deliver_now(ns, packet, opts),
        }
    }

    fn deliver_now(ns: &NamespaceInner, packet: &Encoded, opts: &BroadcastOptions) {
        let (first, attachments) = wire(&ns.parser, packet);
        let volatile = opts.volatile;
        let (mut sent, mut dropped) = (0, 0);
        let observer = ns.observer.get();
        let mut observed = Vec::new();
        ns.for_each_target(opts, |socket| {
            if observer.is_some() {
                observed.push(socket.id());
            }
            let queued = if volatile {
                let queued = socket.engine().send_volatile(first.clone(), &attachments);
                dropped += u64::from(!queued);
                queued
            } else {
                socket
                    .engine()
                    .send_parts(first.clone(), &attachments)
                    .is_ok()
            };
            sent += u64::from(queued);
        });
        ns.metrics.events_sent.increment(sent);
        if let Some(observer) = observer {
            observer.event_out(&ns.name, packet, &observed);
        }
        if dropped > 0 {
            ns.metrics.volatile_dropped.increment(dropped);
        }
    }

    /// Delivers `packet` (already carrying `ack_id`) and registers `on_ack` on each target;
    /// returns the targeted sockets.
    pub(crate) fn deliver_with_ack_to(
        ns: &NamespaceInner,
        packet: &Encoded,
        opts: &BroadcastOptions,
        ack_id: u64,
        on_ack: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> Vec<Socket> {
        let (first, attachments) = wire(&ns.parser, packet);
        let mut targets = Vec::new();
        ns.for_each_target(opts, |socket| {
            socket.add_ack_slot(ack_id, AckSlot::Many(on_ack.clone()));
            if socket
                .engine()
                .send_parts(first.clone(), &attachments)
                .is_ok()
            {
                targets.push(socket.clone());
            } else {
                socket.remove_ack_slot(ack_id);
            }
        });
        ns.metrics.events_sent.increment(targets.len() as u64);
        targets
    }

    pub(crate) fn deliver_with_ack(
        ns: &NamespaceInner,
        packet: &Encoded,
        opts: &BroadcastOptions,
        ack_id: u64,
        on_ack: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> usize {
        deliver_with_ack_to(ns, packet, opts, ack_id, on_ack).len()
    }

    pub(crate) fn targets(ns: &NamespaceInner, opts: &BroadcastOptions) -> Vec<Socket> {
        let mut out = Vec::new();
        ns.for_each_target(opts, |s| out.push(s.clone()));
        out
    }

    pub(crate) fn socket_infos(ns: &NamespaceInner, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        targets(ns, opts)
            .into_iter()
            .map(|s| SocketInfo {
                id: s.id(),
                rooms: s.rooms(),
            })
            .collect()
    }

    pub(crate) fn add_sockets(ns: &NamespaceInner, opts: &BroadcastOptions, rooms: &[Room]) {
        for s in targets(ns, opts) {
            s.join_unchecked(rooms);
        }
    }

    pub(crate) fn del_sockets(ns: &NamespaceInner, opts: &BroadcastOptions, rooms: &[Room]) {
        for s in targets(ns, opts) {
            for room in rooms {
                s.leave(room);
            }
        }
    }

    pub(crate) fn disconnect_sockets(ns: &NamespaceInner, opts: &BroadcastOptions, close: bool) {
        for s in targets(ns, opts) {
            s.disconnect(close);
        }
    }
}
