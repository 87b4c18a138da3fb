//! Guards, pipes, interceptors and exception filters: NestJS's enhancers, as one-method
//! traits. Each has an object-safe twin (`Dyn*`) that the pipeline stores; implement the
//! plain trait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::context::ExecutionContext;
use super::exception::Exception;
use super::reply::Reply;
use crate::socketio::AckSender;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Decides whether a message (or, as a connection guard, a connection) is handled.
/// `Ok(false)` becomes `WsException("Forbidden resource")`.
///
/// ```
/// use gateway_runtime::app::{ExecutionContext, Exception, Guard};
/// struct AdminOnly;
/// impl Guard for AdminOnly {
///     async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
///         let roles = ctx.metadata("roles");
///         Ok(roles.is_none() || ctx.socket().handshake().auth.get("admin").is_some())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    note = "implement `Guard` for `{Self}`: `async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception>`"
)]
pub trait Guard: Send + Sync + 'static {
    /// Whether the handler may run.
    fn can_activate(
        &self,
        ctx: &ExecutionContext,
    ) -> impl Future<Output = Result<bool, Exception>> + Send;
}

/// Object-safe form of [`Guard`].
pub trait DynGuard: Send + Sync + 'static {
    /// See [`Guard::can_activate`].
    fn can_activate_dyn<'a>(
        &'a self,
        ctx: &'a ExecutionContext,
    ) -> BoxFuture<'a, Result<bool, Exception>>;

    /// The guard's type, for logs.
    fn guard_name(&self) -> &'static str {
        "guard"
    }
}

impl<G: Guard> DynGuard for G {
    fn can_activate_dyn<'a>(
        &'a self,
        ctx: &'a ExecutionContext,
    ) -> BoxFuture<'a, Result<bool, Exception>> {
        Box::pin(self.can_activate(ctx))
    }

    fn guard_name(&self) -> &'static str {
        let name = std::any::type_name::<G>();
        name.rsplit("::").next().unwrap_or(name)
    }
}

/// Which argument a pipe is looking at.
#[derive(Debug, Clone, Copy)]
pub struct ArgumentMetadata {
    /// `None` for the whole body, or the field of `#[message_body("field")]`.
    pub field: Option<&'static str>,
    /// `None` for the body (the event's first argument, or all of them as an array when
    /// there are several), or the argument of `#[message_body(index = n)]` (0 is the first).
    pub index: Option<usize>,
    /// The Rust type the argument is deserialized into.
    pub type_name: &'static str,
}

/// A deserialized argument, as pipes see it.
pub trait Checkable {
    /// The argument as `validator::Validate`, when its type implements it.
    fn as_validate(&self) -> Option<&dyn validator::Validate>;

    /// The argument's JSON as the client sent it (binary values as placeholders).
    fn received(&self) -> Option<Value> {
        None
    }

    /// The property names the argument's type reads, when it is a struct deriving
    /// `Deserialize` (after serde's renames): what `forbid_non_whitelisted` allows.
    fn declared_fields(&self) -> Option<&'static [&'static str]> {
        None
    }
}

/// Transforms or checks handler arguments (NestJS pipes). `transform` sees the JSON before
/// it is deserialized; `check` sees the typed value after.
pub trait Pipe: Send + Sync + 'static {
    /// Whether `transform` changes anything (when no pipe transforms, arguments are
    /// deserialized straight from the received bytes).
    fn transforms(&self) -> bool {
        false
    }

    /// Rewrites the argument's JSON.
    fn transform(&self, value: Value, _meta: &ArgumentMetadata) -> Result<Value, Exception> {
        Ok(value)
    }

    /// Checks the deserialized argument.
    fn check(&self, _value: &dyn Checkable, _meta: &ArgumentMetadata) -> Result<(), Exception> {
        Ok(())
    }
}

/// The rest of the chain, handed to an [`Interceptor`]: call [`Next::run`] to go on.
pub struct Next<'a> {
    pub(crate) rest: &'a [Arc<dyn DynInterceptor>],
    pub(crate) ctx: &'a ExecutionContext,
    pub(crate) handler:
        &'a (dyn Fn(&'a ExecutionContext) -> BoxFuture<'a, Result<Reply, Exception>> + Send + Sync),
}

impl<'a> Next<'a> {
    /// Runs the following interceptors, the pipes and the handler.
    pub fn run(self) -> BoxFuture<'a, Result<Reply, Exception>> {
        match self.rest.split_first() {
            Some((first, rest)) => first.intercept_dyn(
                self.ctx,
                Next {
                    rest,
                    ctx: self.ctx,
                    handler: self.handler,
                },
            ),
            None => (self.handler)(self.ctx),
        }
    }
}

/// Wraps the handler: code before `next.run()` runs before it, code after sees (and may
/// change) its result.
///
/// ```
/// use gateway_runtime::app::{ExecutionContext, Exception, Interceptor, Next, Reply};
/// struct Timing;
/// impl Interceptor for Timing {
///     async fn intercept(&self, ctx: &ExecutionContext, next: Next<'_>) -> Result<Reply, Exception> {
///         let start = std::time::Instant::now();
///         let reply = next.run().await;
///         tracing::debug!(event = ctx.event(), elapsed = ?start.elapsed());
///         reply
///     }
/// }
/// ```
pub trait Interceptor: Send + Sync + 'static {
    /// Runs around the handler.
    fn intercept(
        &self,
        ctx: &ExecutionContext,
        next: Next<'_>,
    ) -> impl Future<Output = Result<Reply, Exception>> + Send;
}

/// Object-safe form of [`Interceptor`].
pub trait DynInterceptor: Send + Sync + 'static {
    /// See [`Interceptor::intercept`].
    fn intercept_dyn<'a>(
        &'a self,
        ctx: &'a ExecutionContext,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<Reply, Exception>>;
}

impl<I: Interceptor> DynInterceptor for I {
    fn intercept_dyn<'a>(
        &'a self,
        ctx: &'a ExecutionContext,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<Reply, Exception>> {
        Box::pin(self.intercept(ctx, next))
    }
}

/// What an exception filter gets besides the exception.
pub struct FilterHost<'a> {
    /// The message (or hook) that failed.
    pub ctx: &'a ExecutionContext,
    ack: Option<AckSender>,
}

impl<'a> FilterHost<'a> {
    pub(crate) fn new(ctx: &'a ExecutionContext, ack: Option<AckSender>) -> Self {
        Self { ctx, ack }
    }

    /// The acknowledgement the client is waiting for, if any (taking it lets the filter
    /// answer through it).
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }
}

/// Handles exceptions (NestJS filters). Filters are tried method → gateway → global; the
/// first whose `catches` returns true handles the exception.
pub trait ExceptionFilter: Send + Sync + 'static {
    /// Whether this filter handles `exception` (NestJS's `@Catch(Type)`); all by default.
    fn catches(&self, _exception: &Exception) -> bool {
        true
    }

    /// Handles the exception (e.g. emits something to `host.ctx.socket()`).
    fn catch(&self, exception: Exception, host: FilterHost<'_>) -> impl Future<Output = ()> + Send;
}

/// Object-safe form of [`ExceptionFilter`].
pub trait DynExceptionFilter: Send + Sync + 'static {
    /// See [`ExceptionFilter::catches`].
    fn catches_dyn(&self, exception: &Exception) -> bool;
    /// See [`ExceptionFilter::catch`].
    fn catch_dyn<'a>(&'a self, exception: Exception, host: FilterHost<'a>) -> BoxFuture<'a, ()>;
}

impl<F: ExceptionFilter> DynExceptionFilter for F {
    fn catches_dyn(&self, exception: &Exception) -> bool {
        self.catches(exception)
    }
    fn catch_dyn<'a>(&'a self, exception: Exception, host: FilterHost<'a>) -> BoxFuture<'a, ()> {
        Box::pin(self.catch(exception, host))
    }
}
