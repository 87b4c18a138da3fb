//! Paths used by the code the macros generate. Not a public API.
#![allow(missing_docs, missing_debug_implementations)]

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

pub use std::any::{type_name, Any, TypeId};
pub use std::sync::Arc as StdArc;

pub use inventory;

pub use crate::events::{
    check_ack, check_body, check_declared, event_key, same_str, Direction, EmitAckError,
    EmitTarget, EventDoc, EventMap, Exactly, GatewayEvents, HasClientEvent, TypeDesc, Untyped,
};
pub use crate::socketio::EmitError;
pub use serde_json::{json, Value};
pub use validator::Validate;

pub use crate::app::{
    extract, ArgumentMetadata, BoundHandler, BoxFuture, Container, Dependency, DiError,
    DynExceptionFilter, DynGuard, DynInterceptor, EnhancerRef, Enhancers, Exception,
    ExceptionFilter, ExecutionContext, FromServer, Gateway, GatewayOptions, Guard,
    HandlerRegistration, Hooks, Injectable, Interceptor, IntoReply, Invocation, NamespaceSpec,
    OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit, Pipe, Reply, WsException,
};
pub use crate::socketio::{
    AckSender, AnyValue, DisconnectReason, Handshake, Namespace, Socket, SocketIo,
};

pub type AnyArc = Arc<dyn Any + Send + Sync>;

pub fn guard_type<T: Guard + Injectable>() -> EnhancerRef<dyn DynGuard> {
    fn get<T: Guard + Injectable>(c: &Container) -> Result<Arc<dyn DynGuard>, DiError> {
        Ok(c.get::<T>()?)
    }
    EnhancerRef::Type(Dependency::auto::<T>("guard"), get::<T>)
}

pub fn pipe_type<T: Pipe + Injectable>() -> EnhancerRef<dyn Pipe> {
    fn get<T: Pipe + Injectable>(c: &Container) -> Result<Arc<dyn Pipe>, DiError> {
        Ok(c.get::<T>()?)
    }
    EnhancerRef::Type(Dependency::auto::<T>("pipe"), get::<T>)
}

pub fn interceptor_type<T: Interceptor + Injectable>() -> EnhancerRef<dyn DynInterceptor> {
    fn get<T: Interceptor + Injectable>(c: &Container) -> Result<Arc<dyn DynInterceptor>, DiError> {
        Ok(c.get::<T>()?)
    }
    EnhancerRef::Type(Dependency::auto::<T>("interceptor"), get::<T>)
}

pub fn filter_type<T: ExceptionFilter + Injectable>() -> EnhancerRef<dyn DynExceptionFilter> {
    fn get<T: ExceptionFilter + Injectable>(
        c: &Container,
    ) -> Result<Arc<dyn DynExceptionFilter>, DiError> {
        Ok(c.get::<T>()?)
    }
    EnhancerRef::Type(Dependency::auto::<T>("filter"), get::<T>)
}

pub fn as_guard<T: Guard>(v: T) -> Arc<dyn DynGuard> {
    Arc::new(v)
}
pub fn as_pipe<T: Pipe>(v: T) -> Arc<dyn Pipe> {
    Arc::new(v)
}
pub fn as_interceptor<T: Interceptor>(v: T) -> Arc<dyn DynInterceptor> {
    Arc::new(v)
}
pub fn as_filter<T: ExceptionFilter>(v: T) -> Arc<dyn DynExceptionFilter> {
    Arc::new(v)
}

pub fn from_server<T: FromServer>(
    io: &SocketIo,
    ns: Option<&Namespace>,
    gateway: &'static str,
) -> Result<T, DiError> {
    T::from_server(io, ns).map_err(|message| DiError::Factory {
        provider: gateway,
        message,
    })
}

/// Maps a handler's `Result`.
pub fn reply_result<T: IntoReply, E: Into<Exception>>(r: Result<T, E>) -> Result<Reply, Exception> {
    match r {
        Ok(v) => v.into_reply(),
        Err(e) => Err(e.into()),
    }
}

pub fn require_ack(ack: Option<AckSender>) -> Result<AckSender, Exception> {
    ack.ok_or_else(|| WsException::new("this event expects an acknowledgement callback").into())
}

pub fn claims<T: serde::de::DeserializeOwned>(inv: &Invocation) -> Result<T, Exception> {
    let claims = inv
        .ctx
        .socket()
        .extension::<crate::jwt::Claims>()
        .ok_or_else(|| {
            Exception::from(
                WsException::new("Unauthorized: no verified token on this connection")
                    .with_kind(crate::app::exception::WsKind::Unauthorized),
            )
        })?;
    serde_json::from_value(claims.0).map_err(|e| {
        WsException::new(format!("Unauthorized: unexpected claims: {e}"))
            .with_kind(crate::app::exception::WsKind::Unauthorized)
            .into()
    })
}

pub fn assert_validate<T: Validate>() {}
pub fn assert_body<T: serde::de::DeserializeOwned>() {}
pub fn assert_provider<T: Send + Sync + 'static>() {}

// Probes: find out at the expansion site whether a type implements a trait.

pub struct ValidateProbe<'a, T>(pub &'a T);
pub trait ValidateYes<'a> {
    fn probe(&self) -> Option<&'a dyn Validate>;
}
impl<'a, T: Validate> ValidateYes<'a> for &ValidateProbe<'a, T> {
    fn probe(&self) -> Option<&'a dyn Validate> {
        Some(self.0)
    }
}
pub trait ValidateNo<'a> {
    fn probe(&self) -> Option<&'a dyn Validate>;
}
impl<'a, T> ValidateNo<'a> for ValidateProbe<'a, T> {
    fn probe(&self) -> Option<&'a dyn Validate> {
        None
    }
}

/// A handler's return value written `AnyValue`: the crate's `AnyValue` is written by the
/// direct JSON writer, another type of that name goes through [`IntoReply`]. Called as
/// `(&&ReplyProbe::new(v)).reply()`.
pub struct ReplyProbe<T>(Cell<Option<T>>);
impl<T> ReplyProbe<T> {
    pub fn new(value: T) -> Self {
        ReplyProbe(Cell::new(Some(value)))
    }
}
pub trait ReplyAny {
    fn reply(&self) -> Result<Reply, Exception>;
}
impl ReplyAny for &ReplyProbe<AnyValue> {
    fn reply(&self) -> Result<Reply, Exception> {
        Ok(crate::app::any_reply(&self.0.take().unwrap_or_default()))
    }
}
pub trait ReplyOther {
    fn reply(&self) -> Result<Reply, Exception>;
}
impl<T: IntoReply> ReplyOther for ReplyProbe<T> {
    fn reply(&self) -> Result<Reply, Exception> {
        match self.0.take() {
            Some(value) => value.into_reply(),
            None => Ok(Reply::None),
        }
    }
}

pub struct HookProbe<G>(PhantomData<G>);
impl<G> HookProbe<G> {
    pub fn new() -> Self {
        HookProbe(PhantomData)
    }
}
impl<G> Default for HookProbe<G> {
    fn default() -> Self {
        Self::new()
    }
}

type HookFut = BoxFuture<'static, Result<(), Exception>>;

pub trait InitYes<G> {
    fn init_hook(&self) -> Option<fn(Arc<G>, Namespace) -> HookFut>;
}
impl<G: OnGatewayInit> InitYes<G> for &HookProbe<G> {
    fn init_hook(&self) -> Option<fn(Arc<G>, Namespace) -> HookFut> {
        Some(|g, ns| Box::pin(async move { g.after_init(&ns).await }))
    }
}
pub trait InitNo<G> {
    fn init_hook(&self) -> Option<fn(Arc<G>, Namespace) -> HookFut>;
}
impl<G> InitNo<G> for HookProbe<G> {
    fn init_hook(&self) -> Option<fn(Arc<G>, Namespace) -> HookFut> {
        None
    }
}

pub trait ConnYes<G> {
    fn conn_hook(&self) -> Option<fn(Arc<G>, Socket) -> HookFut>;
}
impl<G: OnGatewayConnection> ConnYes<G> for &HookProbe<G> {
    fn conn_hook(&self) -> Option<fn(Arc<G>, Socket) -> HookFut> {
        Some(|g, s| Box::pin(async move { g.handle_connection(&s).await }))
    }
}
pub trait ConnNo<G> {
    fn conn_hook(&self) -> Option<fn(Arc<G>, Socket) -> HookFut>;
}
impl<G> ConnNo<G> for HookProbe<G> {
    fn conn_hook(&self) -> Option<fn(Arc<G>, Socket) -> HookFut> {
        None
    }
}

pub trait DiscYes<G> {
    fn disc_hook(&self) -> Option<crate::app::DisconnectHookFn<G>>;
}
impl<G: OnGatewayDisconnect> DiscYes<G> for &HookProbe<G> {
    fn disc_hook(&self) -> Option<crate::app::DisconnectHookFn<G>> {
        Some(|g, s, r| Box::pin(async move { g.handle_disconnect(&s, r).await }))
    }
}
pub trait DiscNo<G> {
    fn disc_hook(&self) -> Option<crate::app::DisconnectHookFn<G>>;
}
impl<G> DiscNo<G> for HookProbe<G> {
    fn disc_hook(&self) -> Option<crate::app::DisconnectHookFn<G>> {
        None
    }
}
