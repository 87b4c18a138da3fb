//! Everything a gateway application uses: `use gateway_runtime::prelude::*;`.

pub use std::sync::Arc;

pub use gateway_macros::{
    gateway, injectable, set_metadata, skip_throttle, socket_events, subscribe_message, throttle,
    use_connection_guards, use_filters, use_guards, use_interceptors, use_pipes,
};
pub use serde::{Deserialize, Serialize};
pub use validator::Validate;

pub use crate::app::GatewayRef;
pub use crate::app::{
    App, ArgumentMetadata, Arguments, Checkable, Exception, ExceptionFilter, ExecutionContext,
    FilterHost, Guard, Interceptor, Module, Next, OnGatewayConnection, OnGatewayDisconnect,
    OnGatewayInit, Pipe, Reply, ReplyStream, WsException, WsResponse,
};
pub use crate::jwt::{JwtGuard, JwtService};
pub use crate::socketio::{
    AckSender, AnyValue, Binary, ConnectionStateRecovery, DisconnectReason, Handshake, Namespace,
    Socket, SocketIo,
};
pub use crate::throttle::{ThrottleKey, Throttler};
pub use crate::validation::ValidationPipe;
