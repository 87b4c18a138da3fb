//! Running a message through guards → interceptors → pipes → handler → result mapping,
//! with exception filters on every error and panic.

use std::any::{Any, TypeId};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::context::{ExecutionContext, HandlerInfo};
use super::enhancers::{
    ArgumentMetadata, BoxFuture, Checkable, DynExceptionFilter, DynGuard, DynInterceptor,
    FilterHost, Next, Pipe,
};
use super::exception::{Exception, WsException};
use super::gateway::{BoundHandler, Invocation};
use super::reply::Reply;
use crate::socketio::{AckSender, AnyValue, Args, Socket};

/// How generated code exposes a body as `validator::Validate` (when its type implements it).
pub type ValidateFn<T> = fn(&T) -> Option<&dyn validator::Validate>;

/// A handler with every enhancer resolved, ready to run.
pub(crate) struct ResolvedHandler {
    pub(crate) info: Arc<HandlerInfo>,
    pub(crate) guards: Vec<Arc<dyn DynGuard>>,
    pub(crate) interceptors: Vec<Arc<dyn DynInterceptor>>,
    pub(crate) pipes: Arc<[Arc<dyn Pipe>]>,
    pub(crate) filters: Vec<Arc<dyn DynExceptionFilter>>,
    pub(crate) call: BoundHandler,
    pub(crate) manual_ack: bool,
    pub(crate) ack_errors: bool,
    /// `socketio_handler_duration_seconds` for this handler.
    pub(crate) duration: metrics::Histogram,
}

impl ResolvedHandler {
    /// The acknowledgement as (the pipeline's, the handler's own): a handler with an
    /// `#[ack]` parameter answers itself.
    fn split_ack(&self, ack: Option<AckSender>) -> (Option<AckSender>, Option<AckSender>) {
        if self.manual_ack {
            (None, ack)
        } else {
            (ack, None)
        }
    }
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `guards` for `ctx`; `Err` when one refuses.
pub(crate) async fn run_guards(
    guards: &[Arc<dyn DynGuard>],
    ctx: &ExecutionContext,
) -> Result<(), Exception> {
    for guard in guards {
        let allowed = guard.can_activate_dyn(ctx).await;
        if !matches!(allowed, Ok(true)) {
            tracing::debug!(
                socket = %ctx.socket().id(), nsp = ctx.socket().namespace_name(), event = ctx.event(),
                guard = guard.guard_name(), "refused by a guard"
            );
            crate::telemetry::record_event("outcome", "refused");
            crate::telemetry::record_event("guard", guard.guard_name());
        }
        if !allowed? {
            return Err(WsException::forbidden().into());
        }
    }
    Ok(())
}

/// Handles one message.
pub(crate) async fn run(
    handler: Arc<ResolvedHandler>,
    socket: Socket,
    args: Args,
    ack: Option<AckSender>,
) {
    let started = std::time::Instant::now();
    let ctx = ExecutionContext::new(socket.clone(), args, handler.info.clone());
    let (auto_ack, manual_ack) = handler.split_ack(ack);
    let manual_ack = Mutex::new(manual_ack);
    let refused = std::sync::atomic::AtomicBool::new(false);
    let outcome = AssertUnwindSafe(async {
        if let Err(e) = run_guards(&handler.guards, &ctx).await {
            refused.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
        let call = |ctx: &ExecutionContext| {
            let ack = manual_ack.lock().ok().and_then(|mut a| a.take());
            handler.call.call(Invocation {
                ctx: ctx.clone(),
                pipes: handler.pipes.clone(),
                ack,
            })
        };
        Next {
            rest: &handler.interceptors,
            ctx: &ctx,
            handler: &call,
        }
        .run()
        .await
    })
    .catch_unwind()
    .await
    .unwrap_or_else(|p| Err(Exception::Panic(panic_message(p))));
    match outcome {
        Ok(reply) => {
            crate::telemetry::record_event("outcome", "ok");
            deliver(reply, &socket, auto_ack)
        }
        Err(e) => {
            if !refused.load(std::sync::atomic::Ordering::Relaxed) {
                crate::telemetry::record_event("outcome", "exception");
            }
            handle_exception(&handler.filters, e, &ctx, auto_ack, handler.ack_errors).await
        }
    }
    handler.duration.record(started.elapsed());
}

/// Handles one message, as [`run`] does, without a future when it can: a plain `fn`
/// handler with no guard or interceptor runs now. Only an exception (its filters may
/// await) or an async handler gives a future to run.
pub(crate) fn run_in_place(
    handler: Arc<ResolvedHandler>,
    socket: Socket,
    args: Args,
    ack: Option<AckSender>,
) -> Option<BoxFuture<'static, ()>> {
    let call = match &handler.call {
        BoundHandler::Direct(call)
            if handler.guards.is_empty() && handler.interceptors.is_empty() =>
        {
            call
        }
        _ => return Some(Box::pin(run(handler, socket, args, ack))),
    };
    let started = std::time::Instant::now();
    let ctx = ExecutionContext::new(socket.clone(), args, handler.info.clone());
    let (auto_ack, manual_ack) = handler.split_ack(ack);
    let inv = Invocation {
        ctx: ctx.clone(),
        pipes: handler.pipes.clone(),
        ack: manual_ack,
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| call(inv)))
        .unwrap_or_else(|p| Err(Exception::Panic(panic_message(p))));
    match outcome {
        Ok(reply) => {
            crate::telemetry::record_event("outcome", "ok");
            // As a listener's future would be: a panic here is logged and goes no further.
            let delivered = std::panic::catch_unwind(AssertUnwindSafe(|| {
                deliver(reply, &socket, auto_ack);
            }));
            if delivered.is_err() {
                tracing::error!("delivering a handler's reply panicked");
            }
            handler.duration.record(started.elapsed());
            None
        }
        Err(e) => Some(Box::pin(async move {
            crate::telemetry::record_event("outcome", "exception");
            handle_exception(&handler.filters, e, &ctx, auto_ack, handler.ack_errors).await;
            handler.duration.record(started.elapsed());
        })),
    }
}

/// Sends what a handler returned.
pub(crate) fn deliver(reply: Reply, socket: &Socket, ack: Option<AckSender>) {
    match reply {
        Reply::None => {}
        Reply::Value(value) => {
            if let Some(ack) = ack {
                let _ = ack.send_payload(value);
            }
        }
        Reply::Emit { event, data } => {
            let _ = socket.emit_args(&event, &data);
        }
        Reply::Arguments(args) => {
            if let Some(ack) = ack {
                let _ = ack.send(&gateway_core::socketio::Spread(&args));
            }
        }
        Reply::EmitArguments { event, args } => {
            let _ = socket.emit_args(&event, &gateway_core::socketio::Spread(&args));
        }
        Reply::Stream(mut stream) => {
            let socket = socket.clone();
            tokio::spawn(async move {
                let emit_all = async {
                    while let Some(item) = stream.next().await {
                        if socket.emit_args(&item.event, &item.data).is_err() {
                            break;
                        }
                    }
                };
                // Ends with the socket, even while the stream has nothing to say.
                tokio::select! {
                    _ = emit_all => {}
                    _ = socket.closed() => {}
                }
            });
        }
    }
}

/// NestJS's `exception` payload for `e`: `{"status":"error","message":…,"cause":{"pattern":…,"data":…}}`,
/// or the exception's own object.
pub fn exception_payload(e: &Exception, ctx: &ExecutionContext) -> Value {
    let message = match e {
        Exception::Ws(ws) => match ws.error() {
            obj @ Value::Object(_) => return obj.clone(),
            Value::String(s) => Value::String(s.clone()),
            other => other.clone(),
        },
        _ => Value::String("Internal server error".into()),
    };
    let mut cause = serde_json::Map::new();
    cause.insert("pattern".into(), Value::String(ctx.event().to_string()));
    let body = ctx.body();
    if !ctx.args().is_empty() {
        cause.insert("data".into(), body);
    }
    json!({ "status": "error", "message": message, "cause": Value::Object(cause) })
}

/// Gives `e` to the first filter that catches it, or to the default filter.
pub(crate) async fn handle_exception(
    filters: &[Arc<dyn DynExceptionFilter>],
    e: Exception,
    ctx: &ExecutionContext,
    ack: Option<AckSender>,
    ack_errors: bool,
) {
    let kind = e.kind();
    crate::telemetry::record_event("exception", kind);
    crate::telemetry::exception(&ctx.socket().0.ns.metrics.label, ctx.event(), kind);
    if let Some(filter) = filters.iter().find(|f| f.catches_dyn(&e)) {
        let filter = filter.clone();
        let caught = AssertUnwindSafe(filter.catch_dyn(e, FilterHost::new(ctx, ack)))
            .catch_unwind()
            .await;
        if let Err(p) = caught {
            tracing::error!(
                event = ctx.event(),
                "exception filter panicked: {}",
                panic_message(p)
            );
        }
        return;
    }
    if !matches!(e, Exception::Ws(_)) {
        tracing::error!(
            gateway = ctx.handler().gateway,
            handler = ctx.handler().method,
            event = ctx.event(),
            "{e}"
        );
    }
    let payload = exception_payload(&e, ctx);
    match ack {
        Some(ack) if ack_errors => {
            let _ = ack.send(&(payload,));
        }
        _ => {
            let _ = ctx.socket().emit("exception", &payload);
        }
    }
}

/// Extracts the message body (or one of its fields), running the pipes. Used by the code
/// `#[subscribe_message]` generates.
pub fn extract<T: DeserializeOwned + 'static>(
    inv: &Invocation,
    meta: ArgumentMetadata,
    validate: Option<ValidateFn<T>>,
) -> Result<T, Exception> {
    let args = inv.ctx.args();
    let transforming = inv.pipes.iter().any(|p| p.transforms());
    let value: T = if meta.field.is_none() && !transforming {
        // Straight from the received bytes into the handler's type.
        match (any_body(args, meta.index), meta.index) {
            (Some(value), _) => value,
            (None, Some(i)) => args.get(i),
            (None, None) => match args.len() {
                0 | 1 => args.get(0),
                _ => args.get_all(),
            },
        }
        .map_err(|e| bad_body::<T>(inv, &meta, e))?
    } else {
        let mut json = argument_json(inv, &meta);
        for pipe in inv.pipes.iter().filter(|p| p.transforms()) {
            json = pipe.transform(json, &meta)?;
        }
        // Re-read with the packet's attachments in scope, so binary values still resolve.
        args_single_with(args, &json).map_err(|e| bad_body_in::<T>(&meta, json, e))?
    };
    if !inv.pipes.is_empty() {
        struct Probe<'a, T> {
            value: &'a T,
            validate: Option<ValidateFn<T>>,
            inv: &'a Invocation,
            meta: &'a ArgumentMetadata,
        }
        impl<T: DeserializeOwned> Checkable for Probe<'_, T> {
            fn as_validate(&self) -> Option<&dyn validator::Validate> {
                self.validate.and_then(|f| f(self.value))
            }
            fn received(&self) -> Option<Value> {
                Some(argument_json(self.inv, self.meta))
            }
            fn declared_fields(&self) -> Option<&'static [&'static str]> {
                crate::validation::declared_fields::<T>()
            }
        }
        let probe = Probe {
            value: &value,
            validate,
            inv,
            meta: &meta,
        };
        for pipe in inv.pipes.iter() {
            pipe.check(&probe, &meta)?;
        }
    }
    Ok(value)
}

/// The JSON of the argument `meta` names: the body (the first argument, or all of them as
/// an array when there are several), or argument `meta.index`; then its `meta.field`.
fn argument_json(inv: &Invocation, meta: &ArgumentMetadata) -> Value {
    let json = match meta.index {
        Some(i) => inv.ctx.args().get(i).unwrap_or(Value::Null),
        None => inv.ctx.body(),
    };
    match meta.field {
        Some(field) => json.get(field).cloned().unwrap_or(Value::Null),
        None => json,
    }
}

/// An [`AnyValue`] body, read by the direct JSON reader rather than through serde's
/// visitor (the same value, built faster, floats correctly rounded); `None` for any
/// other type.
fn any_body<T: 'static>(args: &Args, index: Option<usize>) -> Option<Result<T, serde_json::Error>> {
    if TypeId::of::<T>() != TypeId::of::<AnyValue>() {
        return None;
    }
    let mut value = Some(match (index, args.len()) {
        (Some(i), _) => args.get_any(i),
        (None, 0 | 1) => args.get_any(0),
        (None, _) => args.get_all_any(),
    });
    (&mut value as &mut dyn Any)
        .downcast_mut::<Option<Result<T, serde_json::Error>>>()?
        .take()
}

/// Deserializes a transformed single argument, keeping binary attachments resolvable.
fn args_single_with<T: DeserializeOwned>(
    args: &Args,
    json: &Value,
) -> Result<T, serde_json::Error> {
    let text = serde_json::to_string(json)?;
    let mut wrapped = Args::parse_ack(format!("[{text}]").into_bytes().into()).map_err(|_| {
        <serde_json::Error as serde::de::Error>::custom("invalid transformed value")
    })?;
    wrapped.set_attachments(args.attachments().to_vec());
    wrapped.get(0)
}

/// The error for a body that does not fit the handler's type: which field (its JSON
/// path, serde's renames included) and what is wrong, without Rust type names or byte
/// positions.
#[cold]
fn bad_body<T: DeserializeOwned>(
    inv: &Invocation,
    meta: &ArgumentMetadata,
    e: serde_json::Error,
) -> Exception {
    let mut body = inv.ctx.body();
    if let Some(field) = meta.field {
        body = body.get(field).cloned().unwrap_or(Value::Null);
    }
    bad_body_in::<T>(meta, body, e)
}

#[cold]
fn bad_body_in<T: DeserializeOwned>(
    meta: &ArgumentMetadata,
    body: Value,
    e: serde_json::Error,
) -> Exception {
    // Read again, on this rare path only, to learn where it failed.
    let (mut path, message) = match serde_path_to_error::deserialize::<_, T>(body) {
        Err(located) => {
            let path = located.path().to_string();
            (
                if path == "." { String::new() } else { path },
                located.into_inner().to_string(),
            )
        }
        Ok(_) => (String::new(), e.to_string()),
    };
    if let Some(field) = meta.field {
        path = if path.is_empty() {
            field.to_string()
        } else {
            format!("{field}.{path}")
        };
    }
    WsException::new(format!("Invalid message: {}", describe(&path, &message)))
        .with_kind(super::exception::WsKind::Validation)
        .into()
}

/// serde's message made for the client: the field's JSON path first, no byte position,
/// no Rust type name (`expected struct NewMessage` becomes `expected an object`).
fn describe(path: &str, message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    let message = match message.find("expected struct ") {
        Some(at) => format!("{}expected an object", &message[..at]),
        None => match message.find("expected enum ") {
            Some(at) => format!("{}expected one of its variants", &message[..at]),
            None => message.to_string(),
        },
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        let full = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return format!("`{full}` is missing");
    }
    if path.is_empty() {
        message
    } else {
        format!("`{path}`: {message}")
    }
}
