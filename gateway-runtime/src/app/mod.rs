//! The gateway framework: NestJS-style gateways with dependency injection, guards, pipes,
//! interceptors, exception filters and lifecycle hooks, on the Socket.IO server.
//!
//! A message flows through: guards (global → gateway → method) → interceptors (before) →
//! pipes (on each argument) → the handler → interceptors (after) → result mapping (the
//! return value is the acknowledgement; [`WsResponse`] emits; `Err` and panics go to the
//! exception filters: method → gateway → global → the default, which emits NestJS's
//! `exception` event).

mod builder;
mod context;
mod enhancers;
pub(crate) mod exception;
mod gateway;
mod gateway_ref;
mod pipeline;
mod reply;
mod wiring;

pub use builder::{App, AppBuilder, BuildError, Module};
pub use context::{ExecutionContext, HandlerInfo};
pub use enhancers::{
    ArgumentMetadata, BoxFuture, Checkable, DynExceptionFilter, DynGuard, DynInterceptor,
    ExceptionFilter, FilterHost, Guard, Interceptor, Next, Pipe,
};
pub use exception::{Exception, WsException};
pub use gateway::{
    BoundHandler, DisconnectHookFn, EnhancerRef, Enhancers, FromServer, Gateway, GatewayOptions,
    HandlerRegistration, Hooks, Invocation, NamespaceSpec, OnGatewayConnection,
    OnGatewayDisconnect, OnGatewayInit,
};
pub use gateway_core::di::{Container, Dependency, DiError, Injectable};
pub use gateway_ref::GatewayRef;
pub use pipeline::{exception_payload, extract, ValidateFn};
pub(crate) use reply::any_reply;
pub use reply::{Arguments, IntoReply, Reply, ReplyStream, WsResponse};
