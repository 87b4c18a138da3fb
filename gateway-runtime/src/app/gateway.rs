//! The gateway contract the macros implement, lifecycle hooks, and handler registrations.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::di::{Container, Dependency, DiError};
use serde_json::Value;

use super::context::ExecutionContext;
use super::enhancers::{BoxFuture, DynExceptionFilter, DynGuard, DynInterceptor, Pipe};
use super::exception::Exception;
use super::reply::Reply;
use crate::socketio::{AckSender, DisconnectReason, Namespace, Socket, SocketIo};

/// Where a gateway listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceSpec {
    /// One namespace, by name (`/` by default).
    Name(String),
    /// Every namespace whose name matches the regular expression (dynamic namespaces).
    Regex(String),
}

/// `#[gateway(...)]` options. Engine options set here apply to the application's server;
/// two gateways setting different values is a startup error.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The namespace (default `/`).
    pub namespace: NamespaceSpec,
    /// Errors are sent through the pending acknowledgement (when the client asked for
    /// one) instead of the `exception` event.
    pub ack_errors: Option<bool>,
    /// The engine path.
    pub path: Option<String>,
    /// Ping interval.
    pub ping_interval: Option<Duration>,
    /// Ping timeout.
    pub ping_timeout: Option<Duration>,
    /// Largest accepted payload.
    pub max_payload: Option<usize>,
    /// Bytes a connection may have queued unsent before it is closed as too slow, in
    /// bytes (`#[gateway(max_buffered_bytes = 4_194_304)]`; default 8 MiB; see
    /// [`EngineConfig::max_buffered_bytes`](crate::engine::EngineConfig::max_buffered_bytes)).
    pub max_buffered_bytes: Option<usize>,
    /// Allowed transports, by name (`"polling"`, `"websocket"`).
    pub transports: Option<Vec<String>>,
    /// CORS: allowed origins (`"*"` for any).
    pub cors_origins: Option<Vec<String>>,
    /// CORS: `Access-Control-Allow-Credentials` (cookies and auth headers from browsers).
    pub cors_credentials: Option<bool>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            namespace: NamespaceSpec::Name("/".into()),
            ack_errors: None,
            cors_credentials: None,
            path: None,
            ping_interval: None,
            ping_timeout: None,
            max_payload: None,
            max_buffered_bytes: None,
            transports: None,
            cors_origins: None,
        }
    }
}

/// How to get one enhancer instance at build time.
pub enum EnhancerRef<T: ?Sized> {
    /// A type built by the container (registered, or built on demand from its
    /// `Injectable` implementation).
    Type(Dependency, fn(&Container) -> Result<Arc<T>, DiError>),
    /// An instance made by an expression.
    Instance(fn() -> Arc<T>),
    /// An instance given to the application builder.
    Shared(Arc<T>),
}

impl<T: ?Sized> EnhancerRef<T> {
    pub(crate) fn dependency(&self) -> Option<Dependency> {
        match self {
            EnhancerRef::Type(d, _) => Some(d.clone()),
            EnhancerRef::Instance(_) | EnhancerRef::Shared(_) => None,
        }
    }

    pub(crate) fn get(&self, c: &Container) -> Result<Arc<T>, DiError> {
        match self {
            EnhancerRef::Type(_, f) => f(c),
            EnhancerRef::Instance(f) => Ok(f()),
            EnhancerRef::Shared(v) => Ok(v.clone()),
        }
    }
}

/// Enhancers declared on a gateway or a handler.
#[derive(Default)]
pub struct Enhancers {
    /// `#[use_guards(..)]`.
    pub guards: Vec<EnhancerRef<dyn DynGuard>>,
    /// `#[use_connection_guards(..)]` (gateway level).
    pub connection_guards: Vec<EnhancerRef<dyn DynGuard>>,
    /// `#[use_pipes(..)]`.
    pub pipes: Vec<EnhancerRef<dyn Pipe>>,
    /// `#[use_interceptors(..)]`.
    pub interceptors: Vec<EnhancerRef<dyn DynInterceptor>>,
    /// `#[use_filters(..)]`.
    pub filters: Vec<EnhancerRef<dyn DynExceptionFilter>>,
}

impl Enhancers {
    pub(crate) fn dependencies(&self) -> Vec<Dependency> {
        let mut out = Vec::new();
        out.extend(self.guards.iter().filter_map(EnhancerRef::dependency));
        out.extend(
            self.connection_guards
                .iter()
                .filter_map(EnhancerRef::dependency),
        );
        out.extend(self.pipes.iter().filter_map(EnhancerRef::dependency));
        out.extend(self.interceptors.iter().filter_map(EnhancerRef::dependency));
        out.extend(self.filters.iter().filter_map(EnhancerRef::dependency));
        out
    }
}

/// Where a gateway's `#[websocket_server]` field comes from.
pub trait FromServer: Sized {
    /// The handle for a gateway on `namespace` (`None` for a dynamic gateway).
    fn from_server(io: &SocketIo, namespace: Option<&Namespace>) -> Result<Self, String>;
}

impl FromServer for Namespace {
    fn from_server(_io: &SocketIo, namespace: Option<&Namespace>) -> Result<Self, String> {
        namespace.cloned().ok_or_else(|| {
            "a gateway on a dynamic namespace cannot hold a `Namespace`; use `SocketIo`".into()
        })
    }
}

impl FromServer for SocketIo {
    fn from_server(io: &SocketIo, _namespace: Option<&Namespace>) -> Result<Self, String> {
        Ok(io.clone())
    }
}

type HookFuture = BoxFuture<'static, Result<(), Exception>>;
/// A gateway's `handle_disconnect`, as a function of the gateway instance.
pub type DisconnectHookFn<G> = fn(Arc<G>, Socket, DisconnectReason) -> HookFuture;

/// Lifecycle hooks a gateway implements (found by the macro).
pub struct Hooks<G> {
    /// [`OnGatewayInit::after_init`].
    pub after_init: Option<fn(Arc<G>, Namespace) -> HookFuture>,
    /// [`OnGatewayConnection::handle_connection`].
    pub connection: Option<fn(Arc<G>, Socket) -> HookFuture>,
    /// [`OnGatewayDisconnect::handle_disconnect`].
    pub disconnect: Option<DisconnectHookFn<G>>,
}

/// A gateway: a struct whose handlers serve a namespace. `#[gateway]` implements it.
pub trait Gateway: Send + Sync + Sized + 'static {
    /// The type's name.
    const NAME: &'static str;
    /// `#[gateway(...)]` options.
    fn options() -> GatewayOptions;
    /// The injected fields.
    fn dependencies() -> Vec<Dependency>;
    /// Builds the gateway from the container and its server handle.
    fn construct(
        container: &Container,
        io: &SocketIo,
        namespace: Option<&Namespace>,
    ) -> Result<Self, DiError>;
    /// Gateway-level enhancers.
    fn enhancers() -> Enhancers;
    /// Gateway-level `#[set_metadata]`.
    fn metadata() -> Vec<(&'static str, Value)>;
    /// The lifecycle hooks it implements.
    fn hooks() -> Hooks<Self>;
}

/// Called once the gateway's namespace exists (NestJS's `afterInit`). For a gateway on a
/// dynamic namespace (`namespace = regex(..)`), once for each child namespace, when it is
/// created: its first clients wait until it is done. A child is dropped when its last
/// client leaves, so the same name can be initialised again later: tie what the hook
/// starts to the namespace (or make it idempotent).
pub trait OnGatewayInit: Send + Sync + 'static {
    /// Runs at application start (for a dynamic namespace: as each child is created).
    fn after_init(&self, server: &Namespace) -> impl Future<Output = Result<(), Exception>> + Send;
}

/// Called for each new client, after connection guards (NestJS's `handleConnection`).
pub trait OnGatewayConnection: Send + Sync + 'static {
    /// Runs when `client` connects.
    fn handle_connection(
        &self,
        client: &Socket,
    ) -> impl Future<Output = Result<(), Exception>> + Send;
}

/// Called when a client leaves (NestJS's `handleDisconnect`).
pub trait OnGatewayDisconnect: Send + Sync + 'static {
    /// Runs when `client` disconnects, with socket.io's reason.
    fn handle_disconnect(
        &self,
        client: &Socket,
        reason: DisconnectReason,
    ) -> impl Future<Output = Result<(), Exception>> + Send;
}

/// What a generated handler receives per message.
pub struct Invocation {
    /// The message.
    pub ctx: ExecutionContext,
    /// Pipes in force (global → gateway → method).
    pub pipes: Arc<[Arc<dyn Pipe>]>,
    /// The acknowledgement, for handlers with an `#[ack]` parameter.
    pub ack: Option<AckSender>,
}

/// A handler bound to its gateway instance.
#[derive(Clone)]
pub enum BoundHandler {
    /// An `async fn` handler: each call is a boxed future.
    Async(Arc<dyn Fn(Invocation) -> BoxFuture<'static, Result<Reply, Exception>> + Send + Sync>),
    /// A plain `fn` handler: called where the message is read. With no guard or
    /// interceptor in force, its message is handled without any future.
    Direct(Arc<dyn Fn(Invocation) -> Result<Reply, Exception> + Send + Sync>),
}

impl BoundHandler {
    /// The handler's outcome as a future (a sync handler has run when this returns).
    pub(crate) fn call(&self, inv: Invocation) -> BoxFuture<'static, Result<Reply, Exception>> {
        match self {
            BoundHandler::Async(f) => f(inv),
            BoundHandler::Direct(f) => Box::pin(std::future::ready(f(inv))),
        }
    }
}

impl std::fmt::Debug for BoundHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BoundHandler::Async(_) => "BoundHandler::Async(..)",
            BoundHandler::Direct(_) => "BoundHandler::Direct(..)",
        })
    }
}

/// One `#[subscribe_message]` method, collected at link time by `inventory`.
pub struct HandlerRegistration {
    /// The gateway type.
    pub gateway: fn() -> TypeId,
    /// The event.
    pub event: &'static str,
    /// The method.
    pub method: &'static str,
    /// Whether the handler takes the acknowledgement itself (`#[ack]`).
    pub manual_ack: bool,
    /// Method-level enhancers.
    pub enhancers: fn() -> Enhancers,
    /// Method-level metadata.
    pub metadata: fn() -> Vec<(&'static str, Value)>,
    /// Binds the handler to the gateway instance (an `Arc<Gateway>` as `Any`).
    pub bind: fn(Arc<dyn Any + Send + Sync>) -> Option<BoundHandler>,
}

inventory::collect!(HandlerRegistration);

/// The registrations of gateway type `id`.
pub(crate) fn handlers_of(id: TypeId) -> Vec<&'static HandlerRegistration> {
    inventory::iter::<HandlerRegistration>
        .into_iter()
        .filter(|r| (r.gateway)() == id)
        .collect()
}
