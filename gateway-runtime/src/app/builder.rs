//! The application builder: providers, modules, gateways and global enhancers, wired into
//! one Socket.IO server at `build()`.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use gateway_core::di::{Container, Dependency, DiError, Injectable, ModuleDef, Registry};

use super::context::{ExecutionContext, HandlerInfo};
use super::enhancers::{
    DynExceptionFilter, DynGuard, DynInterceptor, ExceptionFilter, Guard, Interceptor, Pipe,
};
use super::exception::Exception;
use super::gateway::{handlers_of, EnhancerRef, Enhancers, Gateway, GatewayOptions};
use super::pipeline::{self, ResolvedHandler};
use super::wiring::{self, GatewayInstance};
use crate::socketio::{Args, SocketIo, SocketIoBuilder};

/// Why the application could not start. Its `Debug` form is its message, so that
/// `main` returning `build().await?` prints what to fix rather than the enum.
pub enum BuildError {
    /// The provider graph is incomplete or cyclic.
    Di(DiError),
    /// Gateways or options contradict each other.
    Config(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Di(e) => e.fmt(f),
            BuildError::Config(m) => f.write_str(m),
        }
    }
}

impl std::fmt::Debug for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BuildError {}

impl From<DiError> for BuildError {
    fn from(e: DiError) -> Self {
        BuildError::Di(e)
    }
}

type RegistryOp = Box<dyn FnOnce(&mut Registry, usize) + Send>;
type OptionOverride = Box<dyn Fn(&mut GatewayOptions) + Send>;

/// What a gateway needs to be wired, without its type.
pub(crate) struct GatewayDecl {
    pub(crate) name: &'static str,
    pub(crate) type_id: TypeId,
    pub(crate) options: GatewayOptions,
    deps: fn() -> Vec<Dependency>,
    pub(crate) instantiate: fn(
        &Container,
        &SocketIo,
        Option<&crate::socketio::Namespace>,
    ) -> Result<GatewayInstance, BuildError>,
    /// Registers the gateway's empty [`GatewayRef`](super::GatewayRef).
    register_ref: fn(&mut Registry),
    /// Fills it once the gateway is built.
    pub(crate) fill_ref: fn(&Container, &AnyGateway),
}

fn gateway_decl<G: Gateway>() -> GatewayDecl {
    fn deps<G: Gateway>() -> Vec<Dependency> {
        let mut deps = G::dependencies();
        deps.extend(G::enhancers().dependencies());
        for h in handlers_of(TypeId::of::<G>()) {
            deps.extend((h.enhancers)().dependencies());
        }
        deps
    }
    GatewayDecl {
        name: G::NAME,
        type_id: TypeId::of::<G>(),
        options: G::options(),
        deps: deps::<G>,
        instantiate: wiring::instantiate::<G>,
        register_ref: super::GatewayRef::<G>::register,
        fill_ref: super::GatewayRef::<G>::fill,
    }
}

/// A group of providers and gateways with imports and exports (NestJS's `@Module`).
///
/// ```
/// # use gateway_runtime::app::Module;
/// struct UserStore;
/// let users = Module::new("UsersModule").provider(UserStore).export::<UserStore>();
/// let chat = Module::new("ChatModule").import("UsersModule");
/// # let _ = (users, chat);
/// ```
pub struct Module {
    name: String,
    ops: Vec<RegistryOp>,
    gateways: Vec<GatewayDecl>,
    imports: Vec<String>,
    exports: HashSet<TypeId>,
    global: bool,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("imports", &self.imports)
            .finish_non_exhaustive()
    }
}

impl Module {
    /// An empty module.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ops: Vec::new(),
            gateways: Vec::new(),
            imports: Vec::new(),
            exports: HashSet::new(),
            global: false,
        }
    }

    /// Registers a value.
    pub fn provider<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.ops
            .push(Box::new(move |r, m| r.value_in(m, Arc::new(value))));
        self
    }

    /// Registers a type built from its dependencies.
    pub fn provider_type<T: Injectable>(mut self) -> Self {
        self.ops.push(Box::new(|r, m| r.injectable_in::<T>(m)));
        self
    }

    /// Registers an async factory; it sees the providers registered before it.
    pub fn factory<T, F, Fut, E>(mut self, factory: F) -> Self
    where
        T: Send + Sync + 'static,
        F: FnOnce(Container) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.ops.push(Box::new(move |r, m| {
            r.factory_in::<T, F, Fut, E>(m, factory)
        }));
        self
    }

    /// Adds a gateway.
    pub fn gateway<G: Gateway>(mut self) -> Self {
        self.gateways.push(gateway_decl::<G>());
        self
    }

    /// Imports the exports of the module named `name`.
    pub fn import(mut self, name: impl Into<String>) -> Self {
        self.imports.push(name.into());
        self
    }

    /// Makes provider `T` visible to modules importing this one.
    pub fn export<T: 'static>(mut self) -> Self {
        self.exports.insert(TypeId::of::<T>());
        self
    }

    /// Exports to every module without an import.
    pub fn global(mut self) -> Self {
        self.global = true;
        self
    }
}

/// Application-wide enhancers.
#[derive(Default)]
pub(crate) struct Globals {
    pub(crate) enhancers: Enhancers,
    pub(crate) ack_errors: bool,
}

/// Builds an [`App`]; see [`App::builder`].
pub struct AppBuilder {
    root: Module,
    modules: Vec<Module>,
    overrides: Vec<RegistryOp>,
    globals: Globals,
    socketio: SocketIoBuilder,
    option_overrides: Vec<(TypeId, OptionOverride)>,
}

impl std::fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppBuilder")
            .field("modules", &self.modules)
            .finish_non_exhaustive()
    }
}

/// A built application: the Socket.IO server with its gateways wired, and the providers.
#[derive(Clone)]
pub struct App {
    io: SocketIo,
    container: Container,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("io", &self.io)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Starts a builder (the root module).
    pub fn builder() -> AppBuilder {
        AppBuilder {
            root: Module::new("AppModule"),
            modules: Vec::new(),
            overrides: Vec::new(),
            globals: Globals::default(),
            socketio: SocketIo::builder(),
            option_overrides: Vec::new(),
        }
    }

    /// The Socket.IO server.
    pub fn io(&self) -> &SocketIo {
        &self.io
    }

    /// A provider, or a gateway (NestJS's `app.get(ChatGateway)`).
    pub fn get<T: Send + Sync + 'static>(&self) -> Result<Arc<T>, DiError> {
        match self.container.get() {
            Ok(provider) => Ok(provider),
            Err(e) => self
                .container
                .try_get::<super::GatewayRef<T>>()
                .and_then(|g| g.try_get())
                .ok_or(e),
        }
    }

    /// `GET /health/live` and `GET /health/ready` for orchestrators
    /// ([`SocketIo::health_routes`]): `app.serve(listener, routes.merge(app.health_routes()))`.
    pub fn health_routes<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.io.health_routes()
    }

    /// The engine's router, to merge with other axum routes.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.io.router()
    }

    /// Merges the engine into `router` (your HTTP routes on the same port).
    pub fn into_router(self, router: axum::Router) -> axum::Router {
        router.merge(self.io.router())
    }

    /// Serves the application on `addr` until the process ends (listen backlog 511, as
    /// Node's; see [`bind`](crate::engine::bind) for another).
    pub async fn listen(self, addr: &str) -> std::io::Result<()> {
        let listener = crate::engine::bind(addr, crate::engine::DEFAULT_BACKLOG).await?;
        self.serve(listener, axum::Router::new()).await
    }

    /// Serves the application with `routes` on `listener`; on Ctrl-C or SIGTERM (what
    /// orchestrators send), clients are disconnected with "server shutting down" before
    /// the server stops.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        routes: axum::Router,
    ) -> std::io::Result<()> {
        let io = self.io.clone();
        let on_ctrl_c = async move {
            crate::engine::shutdown_signal().await;
            io.shutdown(std::time::Duration::from_secs(5)).await;
        };
        self.io
            .serve_with_shutdown(listener, routes, on_ctrl_c)
            .await
    }
}

macro_rules! global_enhancer {
    ($value:ident, $of_type:ident, $field:ident, $trait:ident, $dyn:ident, $doc:literal) => {
        #[doc = $doc]
        pub fn $value(mut self, enhancer: impl $trait) -> Self {
            let shared: Arc<dyn $dyn> = Arc::new(enhancer);
            self.globals
                .enhancers
                .$field
                .push(EnhancerRef::Shared(shared));
            self
        }

        #[doc = $doc]
        #[doc = " Built by the container (its dependencies injected)."]
        pub fn $of_type<T: $trait + Injectable>(mut self) -> Self {
            fn get<T: $trait + Injectable>(c: &Container) -> Result<Arc<dyn $dyn>, DiError> {
                Ok(c.get::<T>()?)
            }
            self.globals
                .enhancers
                .$field
                .push(EnhancerRef::Type(Dependency::auto::<T>("global"), get::<T>));
            self
        }
    };
}

impl AppBuilder {
    /// Registers a value in the root module (visible everywhere).
    pub fn provider<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.root = self.root.provider(value);
        self
    }

    /// Registers a type built from its dependencies in the root module.
    pub fn provider_type<T: Injectable>(mut self) -> Self {
        self.root = self.root.provider_type::<T>();
        self
    }

    /// Registers an async factory in the root module.
    pub fn factory<T, F, Fut, E>(mut self, factory: F) -> Self
    where
        T: Send + Sync + 'static,
        F: FnOnce(Container) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.root = self.root.factory(factory);
        self
    }

    /// Replaces the provider of `T`, wherever it is registered, with `value` (for tests).
    pub fn override_provider<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.overrides
            .push(Box::new(move |r, _| r.value_in(0, Arc::new(value))));
        self
    }

    /// Adds a gateway to the root module.
    pub fn gateway<G: Gateway>(mut self) -> Self {
        self.root = self.root.gateway::<G>();
        self
    }

    /// Adds a module.
    pub fn module(mut self, module: Module) -> Self {
        self.modules.push(module);
        self
    }

    global_enhancer!(
        global_guard,
        global_guard_type,
        guards,
        Guard,
        DynGuard,
        "Adds a guard run before every handler of every gateway."
    );
    global_enhancer!(global_connection_guard, global_connection_guard_type, connection_guards, Guard, DynGuard, "Adds a guard run for every connection, before `handle_connection`; a refusal is a `connect_error`.");
    global_enhancer!(
        global_interceptor,
        global_interceptor_type,
        interceptors,
        Interceptor,
        DynInterceptor,
        "Adds an interceptor around every handler."
    );
    global_enhancer!(
        global_filter,
        global_filter_type,
        filters,
        ExceptionFilter,
        DynExceptionFilter,
        "Adds an exception filter tried after the method's and the gateway's."
    );

    /// Adds a pipe applied to every handler argument.
    pub fn global_pipe(mut self, pipe: impl Pipe) -> Self {
        let shared: Arc<dyn Pipe> = Arc::new(pipe);
        self.globals
            .enhancers
            .pipes
            .push(EnhancerRef::Shared(shared));
        self
    }

    /// Adds a pipe built by the container, applied to every handler argument.
    pub fn global_pipe_type<T: Pipe + Injectable>(mut self) -> Self {
        fn get<T: Pipe + Injectable>(c: &Container) -> Result<Arc<dyn Pipe>, DiError> {
            Ok(c.get::<T>()?)
        }
        self.globals
            .enhancers
            .pipes
            .push(EnhancerRef::Type(Dependency::auto::<T>("global"), get::<T>));
        self
    }

    /// Sends errors through the client's pending acknowledgement, when there is one,
    /// instead of the `exception` event (gateways may override).
    pub fn ack_errors(mut self, on: bool) -> Self {
        self.globals.ack_errors = on;
        self
    }

    /// Overrides the `#[gateway(...)]` options of `G` (e.g. its namespace from config).
    pub fn gateway_options<G: Gateway>(
        mut self,
        f: impl Fn(&mut GatewayOptions) + Send + 'static,
    ) -> Self {
        self.option_overrides.push((TypeId::of::<G>(), Box::new(f)));
        self
    }

    /// The adapter for rooms and broadcasts (in-memory by default; a Redis adapter for
    /// many nodes).
    pub fn adapter(mut self, factory: impl crate::adapter::AdapterFactory) -> Self {
        self.socketio = self.socketio.adapter(factory);
        self
    }

    /// Configures the Socket.IO server (engine options, adapter, connect timeout).
    pub fn socketio(mut self, f: impl FnOnce(SocketIoBuilder) -> SocketIoBuilder) -> Self {
        self.socketio = f(self.socketio);
        self
    }

    /// Resolves the provider graph, builds the gateways and wires them. Fails if a
    /// provider is missing or cyclic, or gateways conflict.
    pub async fn build(self) -> Result<App, BuildError> {
        let AppBuilder {
            root,
            modules,
            overrides,
            globals,
            socketio,
            option_overrides,
        } = self;
        let mut registry = Registry::new();
        let mut all = vec![root];
        all.extend(modules);
        let names: HashMap<String, usize> = all
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        let mut decls: Vec<(usize, GatewayDecl)> = Vec::new();
        let option_overrides: HashMap<TypeId, OptionOverride> =
            option_overrides.into_iter().collect();
        let mut indexes = Vec::new();
        for (i, m) in all.iter().enumerate() {
            let index = if i == 0 {
                0
            } else {
                registry.module(ModuleDef {
                    name: m.name.clone(),
                    imports: Vec::new(),
                    exports: m.exports.clone(),
                    global: m.global,
                })
            };
            indexes.push(index);
        }
        for (i, m) in all.into_iter().enumerate() {
            let index = indexes[i];
            let mut imports = Vec::new();
            for name in &m.imports {
                let target = names.get(name).ok_or_else(|| {
                    BuildError::Config(format!(
                        "module `{}` imports `{name}`, which is not registered with `.module(..)`",
                        m.name
                    ))
                })?;
                imports.push(indexes[*target]);
            }
            if let Some(def) = registry.module_mut(index) {
                def.imports = imports;
            }
            for op in m.ops {
                op(&mut registry, index);
            }
            for g in m.gateways {
                decls.push((index, g));
            }
        }
        for op in overrides {
            op(&mut registry, 0);
        }
        registry.require("global enhancers", 0, globals.enhancers.dependencies());
        for (module, decl) in &decls {
            registry.require(decl.name, *module, (decl.deps)());
        }
        for (_, decl) in decls.iter_mut() {
            if let Some(f) = option_overrides.get(&decl.type_id) {
                f(&mut decl.options);
            }
        }
        // The server exists before any provider is built, so services can inject
        // `Arc<SocketIo>` and emit from construction on.
        let io = wiring::configure(socketio, &decls)?.build();
        registry.value(io.clone());
        for (_, decl) in &decls {
            (decl.register_ref)(&mut registry);
        }
        let container = registry
            .build()
            .await
            .map_err(|e| gateway_hint(e, &decls))?;
        wiring::install(
            &io,
            &container,
            &globals,
            decls.into_iter().map(|(_, d)| d).collect(),
        )
        .await?;
        Ok(App { io, container })
    }
}

/// A provider that depends on a gateway itself gets told how to reach it.
fn gateway_hint(e: DiError, decls: &[(usize, GatewayDecl)]) -> BuildError {
    if let DiError::Missing { missing, chain } = &e {
        let short = missing.rsplit("::").next().unwrap_or(missing);
        if let Some((_, decl)) = decls.iter().find(|(_, d)| d.name == short) {
            let by = chain.last().copied().unwrap_or("a provider");
            let by = by.rsplit("::").next().unwrap_or(by);
            return BuildError::Config(format!(
                "`{by}` depends on the gateway `{}`: gateways are built after the providers (they inject them), so a provider holds `Arc<GatewayRef<{}>>` instead and calls `.get()` when it needs the gateway (NestJS: injecting the gateway, with `forwardRef`)",
                decl.name, decl.name
            ));
        }
    }
    BuildError::Di(e)
}

/// Runs a lifecycle hook with panics caught; errors go through the filters.
pub(crate) async fn run_hook(
    fut: super::enhancers::BoxFuture<'static, Result<(), Exception>>,
    filters: &[Arc<dyn DynExceptionFilter>],
    ctx: Option<ExecutionContext>,
) {
    use futures_util::FutureExt;
    let outcome = std::panic::AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|p| Err(Exception::Panic(pipeline::panic_message(p))));
    if let Err(e) = outcome {
        match ctx {
            Some(ctx) => pipeline::handle_exception(filters, e, &ctx, None, false).await,
            None => tracing::error!("gateway hook failed: {e}"),
        }
    }
}

pub(crate) fn hook_context(
    socket: &crate::socketio::Socket,
    gateway: &'static str,
    method: &'static str,
    metadata: Vec<(&'static str, serde_json::Value)>,
) -> ExecutionContext {
    ExecutionContext::new(
        socket.clone(),
        Args::default(),
        Arc::new(HandlerInfo {
            gateway,
            method,
            event: "connection".into(),
            metadata,
        }),
    )
}

pub(crate) fn resolve_all<T: ?Sized>(
    refs: &[EnhancerRef<T>],
    c: &Container,
) -> Result<Vec<Arc<T>>, BuildError> {
    refs.iter()
        .map(|r| r.get(c).map_err(BuildError::from))
        .collect()
}

pub(crate) type AnyGateway = Arc<dyn Any + Send + Sync>;
pub(crate) type Handlers = crate::hash::FastMap<String, Arc<ResolvedHandler>>;
