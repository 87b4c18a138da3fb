//! The Socket.IO server: namespaces over the engine, as an axum router.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;

use super::client::Client;
use super::namespace::{Hooks, Namespace, NamespaceInner};
use crate::adapter::{AdapterFactory, MemoryAdapter};
use crate::engine::{CloseReason, Engine, EngineConfig, EngineHandler, EngineSocket, Message};

type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub(crate) struct ServerInner {
    namespaces: RwLock<HashMap<Arc<str>, Namespace>>,
    dynamic: RwLock<Vec<(Matcher, Arc<RwLock<Hooks>>)>>,
    adapter: Box<dyn AdapterFactory>,
    connect_timeout: Duration,
    /// Largest accepted message; also bounds the attachments of one binary packet.
    pub(crate) max_payload: usize,
    /// Event handlers of one connection that may run as tasks at once.
    pub(crate) max_pending_handlers: usize,
    /// Namespaces one connection may be connected to at once.
    pub(crate) max_namespaces: usize,
    /// Rooms one socket may be in at once.
    pub(crate) max_rooms: usize,
    /// Event handlers still running as tasks, over all connections (drained on shutdown).
    pub(crate) in_flight: InFlight,
    /// Connection state recovery, when on.
    pub(crate) recovery: Option<super::recovery::ServerRecovery>,
    /// The browser client served under the path, when set.
    client_bundle: Option<super::ClientBundle>,
    /// The parser (`None`: the built-in JSON parser).
    pub(crate) parser: super::parser::ServerParser,
    /// The observer of every namespace (the admin UI), once set.
    pub(crate) observer: super::observe::ObserverSlot,
}

/// A count of running handlers, and a signal when it falls to zero.
#[derive(Default)]
pub(crate) struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl InFlight {
    pub(crate) fn started(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn finished(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no handler runs.
    async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl ServerInner {
    fn create(&self, name: &str, hooks: Arc<RwLock<Hooks>>, dynamic: bool) -> Namespace {
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        if let Some(ns) = namespaces.get(name) {
            return ns.clone();
        }
        let ns = Namespace(NamespaceInner::create(
            name,
            self.adapter.create(name),
            hooks,
            dynamic,
            self.recovery.as_ref(),
            self.parser.clone(),
            self.observer.clone(),
        ));
        namespaces.insert(name.into(), ns.clone());
        ns
    }

    pub(crate) fn of(&self, name: &str) -> Namespace {
        let normalized;
        let name = if name.starts_with('/') {
            name
        } else {
            normalized = format!("/{name}");
            &normalized
        };
        if let Some(ns) = self
            .namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return ns.clone();
        }
        self.create(name, Arc::default(), false)
    }

    /// Drops a child of a dynamic namespace that has no socket and no connection in
    /// progress, so names clients make up do not accumulate.
    pub(crate) fn forget_if_empty(&self, ns: &Arc<NamespaceInner>) {
        if !ns.dynamic {
            return;
        }
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        let idle = ns.connecting.load(Ordering::Acquire) == 0
            && ns.sockets.read().map(|s| s.is_empty()).unwrap_or(false);
        if idle
            && namespaces
                .get(&*ns.name)
                .is_some_and(|n| Arc::ptr_eq(&n.0, ns))
        {
            namespaces.remove(&*ns.name);
            ns.adapter.close();
        }
    }

    /// The namespace a client may connect to: a declared one, or a new child of a
    /// matching dynamic namespace.
    /// The `namespace` metrics label of `name`: its own, or `(unknown)`.
    pub(crate) fn namespace_label(&self, name: &str) -> Arc<str> {
        let namespaces = self.namespaces.read().unwrap_or_else(|e| e.into_inner());
        match namespaces.get(name) {
            Some(ns) => ns.0.metrics.label.clone(),
            None => "(unknown)".into(),
        }
    }

    pub(crate) fn namespace_for(&self, name: &str) -> Option<Arc<NamespaceInner>> {
        // The namespace is counted as connecting before any lock is released, so
        // `forget_if_empty` cannot drop a namespace a client is joining.
        {
            let namespaces = self.namespaces.read().unwrap_or_else(|e| e.into_inner());
            if let Some(ns) = namespaces.get(name) {
                ns.0.connecting.fetch_add(1, Ordering::AcqRel);
                return Some(ns.0.clone());
            }
        }
        let hooks = {
            let dynamic = self.dynamic.read().unwrap_or_else(|e| e.into_inner());
            dynamic
                .iter()
                .find(|(m, _)| m(name))
                .map(|(_, h)| h.clone())?
        };
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        let ns = match namespaces.get(name) {
            Some(ns) => ns.0.clone(),
            None => {
                let ns = NamespaceInner::create(
                    name,
                    self.adapter.create(name),
                    hooks,
                    true,
                    self.recovery.as_ref(),
                    self.parser.clone(),
                    self.observer.clone(),
                );
                namespaces.insert(name.into(), Namespace(ns.clone()));
                ns
            }
        };
        ns.connecting.fetch_add(1, Ordering::AcqRel);
        Some(ns)
    }
}

/// Builds a [`SocketIo`] server.
///
/// ```
/// use std::time::Duration;
/// use gateway_runtime::socketio::SocketIo;
/// let io = SocketIo::builder()
///     .ping_interval(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(5))
///     .max_payload(100_000)
///     .build();
/// assert_eq!(io.engine_config().max_payload, 100_000);
/// ```
pub struct SocketIoBuilder {
    engine: EngineConfig,
    connect_timeout: Duration,
    max_pending_handlers: usize,
    max_namespaces: usize,
    max_rooms: usize,
    adapter: Box<dyn AdapterFactory>,
    recovery: Option<super::recovery::ConnectionStateRecovery>,
    client_bundle: Option<super::ClientBundle>,
    parser: super::parser::ServerParser,
}

impl std::fmt::Debug for SocketIoBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIoBuilder")
            .field("engine", &self.engine)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_pending_handlers", &self.max_pending_handlers)
            .field("max_namespaces", &self.max_namespaces)
            .field("max_rooms", &self.max_rooms)
            .field("recovery", &self.recovery)
            .finish_non_exhaustive()
    }
}

impl SocketIoBuilder {
    /// Replaces all Engine.IO options.
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    /// Changes the Engine.IO options in place.
    pub fn configure(mut self, f: impl FnOnce(&mut EngineConfig)) -> Self {
        f(&mut self.engine);
        self
    }

    /// The URL path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.engine.path = path.into();
        self
    }

    /// Time between server pings.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine.ping_interval = d;
        self
    }

    /// Time allowed for a pong.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine.ping_timeout = d;
        self
    }

    /// Largest accepted message or polling body.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.engine.max_payload = bytes;
        self
    }

    /// Bytes a connection may have queued unsent before it is closed as too slow
    /// (default 8 MiB; see [`EngineConfig::max_buffered_bytes`]).
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.engine.max_buffered_bytes = bytes;
        self
    }

    /// Connections open at once, over all clients (default: no limit); see
    /// [`EngineConfig::max_connections`].
    pub fn max_connections(mut self, n: usize) -> Self {
        self.engine.max_connections = Some(n);
        self
    }

    /// Connections open at once from one IP address (default: no limit); see
    /// [`EngineConfig::max_connections_per_ip`].
    pub fn max_connections_per_ip(mut self, n: usize) -> Self {
        self.engine.max_connections_per_ip = Some(n);
        self
    }

    /// Handshakes one IP address may make per `window` (default: no limit); see
    /// [`EngineConfig::max_handshakes_per_ip`].
    pub fn max_handshakes_per_ip(mut self, n: u64, window: Duration) -> Self {
        self.engine.max_handshakes_per_ip = Some((n, window));
        self
    }

    /// Checks each handshake before a session is opened (socket.io's `allowRequest`):
    /// `Err(message)` refuses it with HTTP 403 and the message. The check may wait; it
    /// takes what it needs from the request before its future starts.
    ///
    /// ```
    /// use gateway_runtime::socketio::SocketIo;
    /// let io = SocketIo::builder()
    ///     .allow_request(|req| {
    ///         let origin = req.headers.get("origin").cloned();
    ///         async move {
    ///             match origin {
    ///                 Some(o) if o == "https://example.com" => Ok(()),
    ///                 _ => Err("origin not allowed".to_string()),
    ///             }
    ///         }
    ///     })
    ///     .build();
    /// # let _ = io;
    /// ```
    pub fn allow_request<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.engine.allow_request_async = Some(Arc::new(move |parts| Box::pin(check(parts))));
        self
    }

    /// Turns WebSocket compression on (socket.io's `perMessageDeflate`, off by default):
    /// messages of at least `threshold` bytes (socket.io uses 1024) are compressed for
    /// clients that offer `permessage-deflate`; see
    /// [`EngineConfig::per_message_deflate`].
    pub fn per_message_deflate(mut self, threshold: usize) -> Self {
        self.engine.per_message_deflate = Some(threshold);
        self
    }

    /// Namespaces one connection may be connected to at once (default 256). A CONNECT
    /// beyond it is refused with a `connect_error` ("Too many namespaces on this
    /// connection"); the connection and its other namespaces stay.
    pub fn max_namespaces_per_connection(mut self, n: usize) -> Self {
        self.max_namespaces = n.max(1);
        self
    }

    /// Rooms one socket may be in at once, its own id room not counted (default 10 000).
    /// Beyond it [`Socket::try_join`](super::Socket::try_join) returns
    /// [`RoomLimitError`](super::RoomLimitError) and [`Socket::join`](super::Socket::join)
    /// joins nothing (and logs a warning).
    pub fn max_rooms_per_socket(mut self, n: usize) -> Self {
        self.max_rooms = n;
        self
    }

    /// Time a client has to connect to a namespace after opening its session (default
    /// 45 s); then the connection is closed.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// How many event handlers of one connection may still be running (waiting on
    /// something) at once, default 1024. At the limit the connection's messages are left
    /// unread until one finishes: a client that sends faster than its handlers complete
    /// is slowed down, never dropped, and cannot grow the server's memory without bound.
    /// Handlers that complete without waiting do not count.
    pub fn max_pending_handlers(mut self, n: usize) -> Self {
        self.max_pending_handlers = n.max(1);
        self
    }

    /// Turns on connection state recovery (socket.io's `connectionStateRecovery`; off by
    /// default): a client that lost its connection for less than
    /// `max_disconnection_duration` gets back its socket id, rooms and extensions, and the
    /// events it missed ([`Socket::recovered`](super::Socket::recovered) is then `true`).
    /// Events emitted without an acknowledgement and not volatile then carry an offset as
    /// their last argument, as with socket.io. See [`ConnectionStateRecovery`](super::ConnectionStateRecovery)
    /// for the bounds.
    pub fn connection_state_recovery(
        mut self,
        options: super::recovery::ConnectionStateRecovery,
    ) -> Self {
        self.recovery = Some(options);
        self
    }

    /// The parser (socket.io's `parser` option): the built-in JSON parser by default, or
    /// [`MsgpackParser`](super::MsgpackParser) for clients using `socket.io-msgpack-parser`.
    /// Every client of the server must use the same one.
    pub fn parser(mut self, parser: impl super::Parser) -> Self {
        self.parser = Some(Arc::new(parser));
        self
    }

    /// Serves the official browser client under the path (socket.io's `serveClient`):
    /// `/socket.io/socket.io.js`, `socket.io.min.js`, `socket.io.esm.min.js`,
    /// `socket.io.msgpack.min.js` and their source maps, with an `ETag`. See
    /// [`ClientBundle`](super::ClientBundle) for where the files come from.
    pub fn serve_client(mut self, bundle: super::ClientBundle) -> Self {
        self.client_bundle = Some(bundle);
        self
    }

    /// The adapter factory (one adapter per namespace); in-memory by default.
    pub fn adapter(mut self, factory: impl AdapterFactory) -> Self {
        self.adapter = Box::new(factory);
        self
    }

    /// Builds the server.
    pub fn build(self) -> SocketIo {
        crate::telemetry::describe_metrics();
        let inner = Arc::new(ServerInner {
            namespaces: RwLock::default(),
            dynamic: RwLock::default(),
            adapter: self.adapter,
            connect_timeout: self.connect_timeout,
            max_payload: self.engine.max_payload,
            max_pending_handlers: self.max_pending_handlers,
            max_namespaces: self.max_namespaces,
            max_rooms: self.max_rooms,
            in_flight: InFlight::default(),
            client_bundle: self.client_bundle,
            parser: self.parser,
            observer: Default::default(),
            recovery: self.recovery.map(|options| {
                let unnoticed = self.engine.ping_interval + self.engine.ping_timeout;
                let store = Arc::new(super::recovery::MemorySessionStore::with_detection_delay(
                    options.clone(),
                    unnoticed,
                ));
                (options, store)
            }),
        });
        // Like socket.io, the main namespace always exists.
        inner.of("/");
        let engine = Engine::new(
            SocketIoHandler {
                server: inner.clone(),
            },
            self.engine,
        );
        SocketIo { inner, engine }
    }
}

/// A Socket.IO v5 server (protocol v5, compatible with socket.io 3 and 4 clients).
/// Cheap to clone.
///
/// ```no_run
/// use gateway_runtime::socketio::SocketIo;
///
/// # async fn run() -> std::io::Result<()> {
/// let io = SocketIo::builder().build();
/// io.of("/").on_connection(|socket| async move {
///     socket.on("echo", |socket, args, ack| async move {
///         match ack {
///             Some(ack) => { let _ = ack.send(&args); }
///             None => { let _ = socket.emit_args("echo", &args); }
///         }
///     });
/// });
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// // Your axum routes share the port; `axum::serve` with `io.router()` merged works too.
/// io.serve_with_shutdown(listener, axum::Router::new(), std::future::pending()).await
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<ServerInner>,
    engine: Engine<SocketIoHandler>,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl SocketIo {
    /// A builder with socket.io's defaults.
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder {
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_secs(45),
            max_pending_handlers: 1024,
            max_namespaces: 256,
            max_rooms: 10_000,
            recovery: None,
            client_bundle: None,
            parser: None,
            adapter: Box::new(|_: &str| MemoryAdapter::new()),
        }
    }

    /// The namespace `name`, created on first use.
    pub fn of(&self, name: &str) -> Namespace {
        self.inner.of(name)
    }

    /// [`Namespace::server_side_emit`] on the main namespace `/` (socket.io's
    /// `io.serverSideEmit`).
    pub fn server_side_emit(
        &self,
        event: &str,
        args: &(impl super::ArgList + ?Sized),
    ) -> Result<(), super::ServerSideEmitError> {
        self.of("/").server_side_emit(event, args)
    }

    /// [`Namespace::server_side_emit_with_ack`] on the main namespace `/`.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: &(impl super::ArgList + ?Sized),
        timeout: Duration,
    ) -> Result<Vec<super::Args>, super::BroadcastAckError> {
        self.of("/")
            .server_side_emit_with_ack(event, args, timeout)
            .await
    }

    /// [`Namespace::on_server_side`] on the main namespace `/` (socket.io's `io.on(event)`
    /// for events from other servers).
    pub fn on_server_side<F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(super::Args, Option<super::ServerSideAck>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.of("/").on_server_side(event, handler);
    }

    /// Declares dynamic namespaces: any name accepted by `matcher` is created when a
    /// client first connects to it, with the hooks added to the returned [`DynamicNamespace`].
    pub fn dynamic(
        &self,
        matcher: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> DynamicNamespace {
        let hooks: Arc<RwLock<Hooks>> = Arc::default();
        self.inner
            .dynamic
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((Arc::new(matcher), hooks.clone()));
        DynamicNamespace { hooks }
    }

    /// Every namespace created so far (declared or dynamic children).
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.inner
            .namespaces
            .read()
            .map(|n| n.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The Engine.IO options in force.
    pub fn engine_config(&self) -> &EngineConfig {
        self.engine.config()
    }

    /// The observer slot of every namespace (the admin UI sets it).
    pub(crate) fn observer_slot(&self) -> &super::observe::ObserverSlot {
        &self.inner.observer
    }

    /// Number of open client connections.
    pub fn connection_count(&self) -> usize {
        self.engine.session_count()
    }

    #[cfg(test)]
    pub(crate) fn engine_inner(&self) -> Arc<crate::engine::EngineInner<SocketIoHandler>> {
        self.engine.inner().clone()
    }

    /// The router serving the engine path; merge it into your axum app to share a port.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.engine.router().merge(self.client_routes())
    }

    /// Whether this node should receive traffic: it accepts handshakes (not shutting down)
    /// and its adapter is connected (the Redis adapter: both Redis connections up).
    pub fn is_ready(&self) -> bool {
        self.engine.is_accepting() && self.inner.adapter.is_ready()
    }

    /// Liveness and readiness endpoints for orchestrators, to merge into the app's routes in
    /// one line: `GET /health/live` answers 200 while the process serves HTTP;
    /// `GET /health/ready` answers 200 when [`is_ready`](Self::is_ready), 503 otherwise
    /// (during shutdown, or while the Redis adapter is disconnected), so a load balancer
    /// stops sending new clients before the node goes.
    ///
    /// ```no_run
    /// # use gateway_runtime::socketio::SocketIo;
    /// # async fn run(io: SocketIo) -> std::io::Result<()> {
    /// let routes = axum::Router::new().merge(io.health_routes());
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
    /// io.serve_with_shutdown(listener, routes, std::future::pending()).await
    /// # }
    /// ```
    pub fn health_routes<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let io = self.clone();
        axum::Router::new()
            .route("/health/live", axum::routing::get(|| async { "ok" }))
            .route(
                "/health/ready",
                axum::routing::get(move || {
                    let ready = io.is_ready();
                    async move {
                        if ready {
                            (axum::http::StatusCode::OK, "ready")
                        } else {
                            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "not ready")
                        }
                    }
                }),
            )
    }

    /// The routes of the browser client, when served.
    fn client_routes<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        match &self.inner.client_bundle {
            Some(bundle) => bundle.router(&self.engine_config().path),
            None => axum::Router::new(),
        }
    }

    /// Serves the engine and `routes` on `listener` until `shutdown` completes (see
    /// [`Engine::serve_with_shutdown`]: faster WebSocket handshakes than `axum::serve`).
    ///
    /// ```no_run
    /// # use gateway_runtime::socketio::SocketIo;
    /// # async fn run() -> std::io::Result<()> {
    /// let io = SocketIo::builder().build();
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// let on_ctrl_c = {
    ///     let io = io.clone();
    ///     async move {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///         io.shutdown(std::time::Duration::from_secs(5)).await;
    ///     }
    /// };
    /// io.serve_with_shutdown(listener, axum::Router::new(), on_ctrl_c).await
    /// # }
    /// ```
    pub async fn serve_with_shutdown(
        &self,
        listener: tokio::net::TcpListener,
        routes: axum::Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.engine
            .serve_with_shutdown(listener, routes.merge(self.client_routes()), shutdown)
            .await
    }

    /// Shuts the server down gracefully, within about `grace`:
    ///
    /// 1. new handshakes are refused;
    /// 2. event handlers still running get up to half of `grace` to finish, so their
    ///    acknowledgements and emits reach the clients;
    /// 3. every client is disconnected ("server shutting down" on the server side; the
    ///    official client sees `transport close` and reconnects, to another node behind
    ///    a load balancer), and the call waits for them to be gone for the rest of `grace`;
    /// 4. each namespace's adapter is closed (the Redis adapter leaves its channels).
    ///
    /// [`App::serve`](crate::app::App::serve) runs it with 5 s on Ctrl-C or SIGTERM.
    pub async fn shutdown(&self, grace: Duration) {
        let started = tokio::time::Instant::now();
        self.engine.stop_accepting();
        let _ = tokio::time::timeout(grace / 2, self.inner.in_flight.drained()).await;
        self.engine
            .shutdown(grace.saturating_sub(started.elapsed()))
            .await;
        for ns in self.namespaces() {
            ns.adapter().close();
        }
    }
}

/// Hooks shared by every namespace created from a dynamic matcher.
#[derive(Clone)]
pub struct DynamicNamespace {
    hooks: Arc<RwLock<Hooks>>,
}

impl std::fmt::Debug for DynamicNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynamicNamespace")
    }
}

impl DynamicNamespace {
    /// Adds a connection listener for every child namespace.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(super::Socket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let handler: super::namespace::ConnectionHandler = Arc::new(move |s| Box::pin(handler(s)));
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add_connection_handler(handler);
        self
    }

    /// Runs `hook` for each child namespace when it is created, before the middleware of
    /// its first client (socket.io's `new_namespace` event, for this matcher's children).
    /// Clients connecting meanwhile wait for it. An empty child is dropped, so a name can
    /// be created (and hooked) again.
    pub fn on_new_namespace<F, Fut>(&self, hook: F) -> &Self
    where
        F: Fn(super::Namespace) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let hook: super::namespace::NamespaceHook = Arc::new(move |ns| Box::pin(hook(ns)));
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add_new_namespace_hook(hook);
        self
    }

    /// Sets the listener of server-side event `event` for every child namespace (see
    /// [`Namespace::on_server_side`](super::Namespace::on_server_side)).
    pub fn on_server_side<F, Fut>(&self, event: impl Into<String>, handler: F) -> &Self
    where
        F: Fn(super::Args, Option<super::ServerSideAck>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let handler: super::server_side::ServerSideHandler =
            Arc::new(move |args, ack| Box::pin(handler(args, ack)));
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .set_server_side(event.into(), handler);
        self
    }

    pub(crate) fn set_dispatcher(&self, handler: super::socket::EventHandler) {
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .dispatcher = Some(handler);
    }

    /// Adds middleware for every child namespace.
    pub fn middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(super::Socket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), super::ConnectError>> + Send + 'static,
    {
        let middleware: super::namespace::Middleware = Arc::new(move |s| Box::pin(middleware(s)));
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add_middleware(middleware);
        self
    }
}

/// Connects the engine to the Socket.IO layer.
pub(crate) struct SocketIoHandler {
    server: Arc<ServerInner>,
}

impl EngineHandler for SocketIoHandler {
    type Conn = Arc<Client>;

    fn on_open(&self, socket: &Arc<EngineSocket>) -> Arc<Client> {
        // A client that joins no namespace within `connect_timeout` is closed; the
        // engine's heartbeat task keeps that time.
        socket.establish_within(self.server.connect_timeout);
        Client::new(socket.clone(), self.server.clone())
    }

    fn on_message(&self, conn: &Arc<Client>, _socket: &Arc<EngineSocket>, message: Message) {
        conn.on_message(message);
    }

    fn on_text(&self, conn: &Arc<Client>, _socket: &Arc<EngineSocket>, frame: Bytes, text: &str) {
        conn.on_text(frame, text);
    }

    fn on_upgrade(&self, conn: &Arc<Client>, _socket: &Arc<EngineSocket>) {
        conn.on_upgrade();
    }

    fn on_close(&self, conn: &Arc<Client>, _socket: &Arc<EngineSocket>, reason: CloseReason) {
        conn.on_close(reason);
    }
}
