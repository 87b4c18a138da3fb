//! Namespaces: a named channel multiplexed over each client's connection.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::error::{ConnectError, EmitError};
use super::operators::BroadcastOperator;
use super::socket::{BoxFuture, Socket};
use crate::adapter::{Adapter, Room};
use crate::engine::Sid;

pub(crate) type Middleware = Arc<
    dyn Fn(Socket) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send>>
        + Send
        + Sync,
>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture + Send + Sync>;

/// The hooks a namespace runs for each connection; shared by the children of a dynamic
/// namespace.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) middlewares: Vec<Middleware>,
    pub(crate) on_connection: Vec<ConnectionHandler>,
}

pub(crate) struct NamespaceInner {
    pub(crate) name: Arc<str>,
    pub(crate) sockets: RwLock<HashMap<Sid, Socket>>,
    pub(crate) hooks: Arc<RwLock<Hooks>>,
    pub(crate) adapter: Arc<dyn Adapter>,
    ack_ids: AtomicU64,
}

impl NamespaceInner {
    pub(crate) fn new(name: &str, adapter: Arc<dyn Adapter>, hooks: Arc<RwLock<Hooks>>) -> Self {
        Self {
            name: name.into(),
            sockets: RwLock::default(),
            hooks,
            adapter,
            ack_ids: AtomicU64::new(0),
        }
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
            .on_connection
            .push(handler);
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
            .middlewares
            .push(middleware);
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

    /// Targets `room`.
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Same as [`Namespace::to`].
    pub fn within(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.to(room)
    }

    /// Excludes `room`.
    pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcast().except(room)
    }

    /// Only this node's sockets.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    /// Emits to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.broadcast().emit(event, data)
    }
}
