//! Turning declared gateways into namespace listeners: instances, resolved enhancers,
//! dispatch tables, connection guards and lifecycle hooks.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use gateway_core::di::Container;

use super::builder::{
    hook_context, resolve_all, run_hook, AnyGateway, BuildError, GatewayDecl, Globals, Handlers,
};
use super::context::HandlerInfo;
use super::enhancers::{BoxFuture, DynExceptionFilter, DynGuard};
use super::exception::Exception;
use super::gateway::{handlers_of, Gateway, NamespaceSpec};
use super::pipeline::{self, ResolvedHandler};
use crate::engine::{AllowOrigin, Cors, Transports};
use crate::socketio::{
    ConnectError, DisconnectReason, EventHandler, Namespace, Socket, SocketIo, SocketIoBuilder,
};

type ConnectionHook =
    Arc<dyn Fn(Socket) -> BoxFuture<'static, Result<(), Exception>> + Send + Sync>;
type DisconnectHook = Arc<
    dyn Fn(Socket, DisconnectReason) -> BoxFuture<'static, Result<(), Exception>> + Send + Sync,
>;
type InitHook = Arc<dyn Fn(Namespace) -> BoxFuture<'static, Result<(), Exception>> + Send + Sync>;

/// A constructed gateway, its type erased.
pub(crate) struct GatewayInstance {
    name: &'static str,
    type_id: TypeId,
    instance: AnyGateway,
    enhancers: super::gateway::Enhancers,
    metadata: Vec<(&'static str, serde_json::Value)>,
    ack_errors: Option<bool>,
    after_init: Option<InitHook>,
    connection: Option<ConnectionHook>,
    disconnect: Option<DisconnectHook>,
}

pub(crate) fn instantiate<G: Gateway>(
    c: &Container,
    io: &SocketIo,
    ns: Option<&Namespace>,
) -> Result<GatewayInstance, BuildError> {
    let gateway = Arc::new(G::construct(c, io, ns)?);
    let hooks = G::hooks();
    let after_init = hooks.after_init.map(|f| {
        let g = gateway.clone();
        Arc::new(move |ns: Namespace| f(g.clone(), ns)) as InitHook
    });
    let connection = hooks.connection.map(|f| {
        let g = gateway.clone();
        Arc::new(move |s: Socket| f(g.clone(), s)) as ConnectionHook
    });
    let disconnect = hooks.disconnect.map(|f| {
        let g = gateway.clone();
        Arc::new(move |s: Socket, r: DisconnectReason| f(g.clone(), s, r)) as DisconnectHook
    });
    Ok(GatewayInstance {
        name: G::NAME,
        type_id: TypeId::of::<G>(),
        instance: gateway,
        enhancers: G::enhancers(),
        metadata: G::metadata(),
        ack_errors: G::options().ack_errors,
        after_init,
        connection,
        disconnect,
    })
}

/// Applies the engine options gateways declare; conflicting values are an error.
pub(crate) fn configure(
    mut builder: SocketIoBuilder,
    decls: &[(usize, GatewayDecl)],
) -> Result<SocketIoBuilder, BuildError> {
    fn agree<T: PartialEq + Clone + std::fmt::Debug>(
        what: &str,
        current: &mut Option<(T, &'static str)>,
        value: &Option<T>,
        gateway: &'static str,
    ) -> Result<(), BuildError> {
        if let Some(v) = value {
            match current {
                Some((existing, other)) if existing != v => {
                    return Err(BuildError::Config(format!(
                        "gateways `{other}` and `{gateway}` set different `{what}` ({existing:?} and {v:?}); they share one server"
                    )))
                }
                _ => *current = Some((v.clone(), gateway)),
            }
        }
        Ok(())
    }
    let (mut path, mut ping_interval, mut ping_timeout, mut max_payload, mut transports, mut cors) =
        (None, None, None, None, None, None);
    let mut max_buffered_bytes = None;
    let mut credentials = None;
    for (_, d) in decls {
        let o = &d.options;
        agree("path", &mut path, &o.path, d.name)?;
        agree(
            "ping_interval",
            &mut ping_interval,
            &o.ping_interval,
            d.name,
        )?;
        agree("ping_timeout", &mut ping_timeout, &o.ping_timeout, d.name)?;
        agree("max_payload", &mut max_payload, &o.max_payload, d.name)?;
        agree(
            "max_buffered_bytes",
            &mut max_buffered_bytes,
            &o.max_buffered_bytes,
            d.name,
        )?;
        agree("transports", &mut transports, &o.transports, d.name)?;
        agree("cors", &mut cors, &o.cors_origins, d.name)?;
        agree("credentials", &mut credentials, &o.cors_credentials, d.name)?;
    }
    let mut error = None;
    builder = builder.configure(|c| {
        if let Some((p, _)) = path {
            c.path = p;
        }
        if let Some((v, _)) = ping_interval {
            c.ping_interval = v;
        }
        if let Some((v, _)) = ping_timeout {
            c.ping_timeout = v;
        }
        if let Some((v, _)) = max_payload {
            c.max_payload = v;
        }
        if let Some((v, _)) = max_buffered_bytes {
            c.max_buffered_bytes = v;
        }
        if let Some((list, gateway)) = transports {
            let mut t = Transports { polling: false, websocket: false };
            for name in &list {
                match name.as_str() {
                    "polling" => t.polling = true,
                    "websocket" => t.websocket = true,
                    other => error = Some(format!("gateway `{gateway}`: unknown transport `{other}` (use \"polling\" or \"websocket\")")),
                }
            }
            c.transports = t;
        }
        if let Some((origins, _)) = cors {
            c.cors = if origins.iter().any(|o| o == "*") {
                Cors::any()
            } else {
                Cors {
                    origin: AllowOrigin::List(origins.iter().filter_map(|o| o.parse().ok()).collect()),
                    ..Cors::default()
                }
            };
        }
        if let Some((on, _)) = credentials {
            c.cors.credentials = on;
        }
    });
    match error {
        Some(e) => Err(BuildError::Config(e)),
        None => Ok(builder),
    }
}

struct Group {
    spec: NamespaceSpec,
    gateways: Vec<GatewayInstance>,
}

/// Builds every gateway and installs them on their namespaces.
pub(crate) async fn install(
    io: &SocketIo,
    c: &Container,
    globals: &Globals,
    decls: Vec<GatewayDecl>,
) -> Result<(), BuildError> {
    let global_guards = resolve_all(&globals.enhancers.guards, c)?;
    let global_conn_guards = resolve_all(&globals.enhancers.connection_guards, c)?;
    let global_pipes = resolve_all(&globals.enhancers.pipes, c)?;
    let global_interceptors = resolve_all(&globals.enhancers.interceptors, c)?;
    let global_filters = resolve_all(&globals.enhancers.filters, c)?;

    let mut groups: Vec<Group> = Vec::new();
    for decl in decls {
        let spec = decl.options.namespace.clone();
        let ns = match &spec {
            NamespaceSpec::Name(name) => Some(io.of(name)),
            NamespaceSpec::Regex(_) => None,
        };
        let instance = (decl.instantiate)(c, io, ns.as_ref())?;
        (decl.fill_ref)(c, &instance.instance);
        match groups.iter_mut().find(|g| g.spec == spec) {
            Some(g) => g.gateways.push(instance),
            None => groups.push(Group {
                spec,
                gateways: vec![instance],
            }),
        }
    }

    for group in groups {
        let mut table = Handlers::default();
        let mut owners: HashMap<String, String> = HashMap::new();
        let mut conn_guards: Vec<Arc<dyn DynGuard>> = global_conn_guards.clone();
        let mut conn_metadata = Vec::new();
        let mut connection_hooks = Vec::new();
        let mut disconnect_hooks = Vec::new();
        let mut init_hooks = Vec::new();
        for gw in group.gateways {
            let class_guards = resolve_all(&gw.enhancers.guards, c)?;
            let class_pipes = resolve_all(&gw.enhancers.pipes, c)?;
            let class_interceptors = resolve_all(&gw.enhancers.interceptors, c)?;
            let class_filters = resolve_all(&gw.enhancers.filters, c)?;
            conn_guards.extend(resolve_all(&gw.enhancers.connection_guards, c)?);
            // Connection guards read the gateways' metadata (`#[throttle]` on the struct).
            conn_metadata.extend(gw.metadata.iter().cloned());
            let mut gw_filters: Vec<Arc<dyn DynExceptionFilter>> = class_filters.clone();
            gw_filters.extend(global_filters.iter().cloned());
            let ack_errors = gw.ack_errors.unwrap_or(globals.ack_errors);
            for reg in handlers_of(gw.type_id) {
                let owner = format!("{}::{}", gw.name, reg.method);
                if let Some(other) = owners.insert(reg.event.to_string(), owner.clone()) {
                    return Err(BuildError::Config(format!(
                        "event `{}` on namespace {:?} is handled by both `{other}` and `{owner}`",
                        reg.event, group.spec
                    )));
                }
                let method = (reg.enhancers)();
                let mut metadata = (reg.metadata)();
                metadata.extend(gw.metadata.iter().cloned());
                let call = (reg.bind)(gw.instance.clone()).ok_or_else(|| {
                    BuildError::Config(format!(
                        "handler `{owner}` does not belong to `{}`",
                        gw.name
                    ))
                })?;
                let cat = |g: &[Arc<dyn DynGuard>],
                           cl: &[Arc<dyn DynGuard>],
                           m: Vec<Arc<dyn DynGuard>>| {
                    g.iter().chain(cl).cloned().chain(m).collect::<Vec<_>>()
                };
                let pipes: Vec<_> = global_pipes
                    .iter()
                    .chain(&class_pipes)
                    .cloned()
                    .chain(resolve_all(&method.pipes, c)?)
                    .collect();
                let interceptors: Vec<_> = global_interceptors
                    .iter()
                    .chain(&class_interceptors)
                    .cloned()
                    .chain(resolve_all(&method.interceptors, c)?)
                    .collect();
                let mut filters = resolve_all(&method.filters, c)?;
                filters.extend(gw_filters.iter().cloned());
                let namespace_label = match &group.spec {
                    NamespaceSpec::Name(name) => name.as_str(),
                    NamespaceSpec::Regex(_) => "(dynamic)",
                };
                let handler = ResolvedHandler {
                    duration: crate::telemetry::handler_duration(namespace_label, reg.event),
                    info: Arc::new(HandlerInfo {
                        gateway: gw.name,
                        method: reg.method,
                        event: reg.event.to_string(),
                        metadata,
                    }),
                    guards: cat(
                        &global_guards,
                        &class_guards,
                        resolve_all(&method.guards, c)?,
                    ),
                    interceptors,
                    pipes: pipes.into(),
                    filters,
                    call,
                    manual_ack: reg.manual_ack,
                    ack_errors,
                };
                table.insert(reg.event.to_string(), Arc::new(handler));
            }
            let filters: Arc<[Arc<dyn DynExceptionFilter>]> = gw_filters.into();
            if let Some(h) = gw.connection {
                connection_hooks.push((gw.name, h, filters.clone(), gw.metadata.clone()));
            }
            if let Some(h) = gw.disconnect {
                disconnect_hooks.push((h, filters.clone()));
            }
            if let Some(h) = gw.after_init {
                init_hooks.push(h);
            }
        }
        let table = Arc::new(table);
        let dispatcher: EventHandler = Arc::new(move |socket, args, ack| {
            // `Done` is zero-sized, so boxing it allocates nothing: a plain handler's
            // message costs no future.
            match table.get(args.event()).cloned() {
                Some(handler) => pipeline::run_in_place(handler, socket, args, ack)
                    .unwrap_or_else(|| Box::pin(Done)),
                None => {
                    if tracing::enabled!(tracing::Level::DEBUG) {
                        let mut known: Vec<&str> = table.keys().map(String::as_str).collect();
                        known.sort_unstable();
                        tracing::debug!(
                            socket = %socket.id(), nsp = socket.namespace_name(), event = args.event(),
                            known = ?known, "no handler for this event: ignored"
                        );
                    }
                    Box::pin(Done)
                }
            }
        });
        let conn_guards: Arc<[Arc<dyn DynGuard>]> = conn_guards.into();
        let middleware = move |socket: Socket| {
            let guards = conn_guards.clone();
            let metadata = conn_metadata.clone();
            async move {
                if guards.is_empty() {
                    return Ok(());
                }
                let ctx = hook_context(&socket, "connection guard", "can_activate", metadata);
                match pipeline::run_guards(&guards, &ctx).await {
                    Ok(()) => Ok(()),
                    Err(Exception::Ws(e)) => {
                        let err = ConnectError::new(e.message());
                        Err(match e.error() {
                            obj @ serde_json::Value::Object(_) => err.with_data(obj.clone()),
                            _ => err,
                        })
                    }
                    Err(other) => {
                        tracing::error!("connection guard failed: {other}");
                        Err(ConnectError::new("Internal server error"))
                    }
                }
            }
        };
        let connection_hooks = Arc::new(connection_hooks);
        let disconnect_hooks = Arc::new(disconnect_hooks);
        let on_connection = move |socket: Socket| {
            let connection_hooks = connection_hooks.clone();
            let disconnect_hooks = disconnect_hooks.clone();
            async move {
                if !disconnect_hooks.is_empty() {
                    let hooks = disconnect_hooks.clone();
                    socket.on_disconnect(move |socket, reason| async move {
                        for (hook, filters) in hooks.iter() {
                            run_hook(hook(socket.clone(), reason), filters, None).await;
                        }
                    });
                }
                for (name, hook, filters, metadata) in connection_hooks.iter() {
                    let ctx = hook_context(&socket, name, "handle_connection", metadata.clone());
                    run_hook(hook(socket.clone()), filters, Some(ctx)).await;
                }
            }
        };
        match &group.spec {
            NamespaceSpec::Name(name) => {
                let ns = io.of(name);
                ns.middleware(middleware);
                ns.on_connection(on_connection);
                ns.set_dispatcher(dispatcher);
                for hook in init_hooks {
                    run_hook(hook(ns.clone()), &[], None).await;
                }
            }
            NamespaceSpec::Regex(pattern) => {
                let re = regex::Regex::new(pattern).map_err(|e| {
                    BuildError::Config(format!("invalid namespace pattern `{pattern}`: {e}"))
                })?;
                let dynamic = io.dynamic(move |name| re.is_match(name));
                dynamic.middleware(middleware);
                dynamic.on_connection(on_connection);
                dynamic.set_dispatcher(dispatcher);
                if !init_hooks.is_empty() {
                    // Each child namespace is initialised when it is created.
                    let init_hooks = Arc::new(init_hooks);
                    dynamic.on_new_namespace(move |ns| {
                        let init_hooks = init_hooks.clone();
                        async move {
                            for hook in init_hooks.iter() {
                                run_hook(hook(ns.clone()), &[], None).await;
                            }
                        }
                    });
                }
            }
        }
    }
    Ok(())
}

/// A future that is already done, of size zero (`std::future::Ready<()>` is not: it holds
/// an `Option<()>`).
struct Done;

impl std::future::Future for Done {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}
