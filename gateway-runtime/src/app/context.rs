//! What guards, pipes, interceptors and filters see of the message being handled.

use std::sync::Arc;

use serde_json::Value;

use crate::socketio::{Args, Socket};

/// The static description of a handler: its gateway, method, event and metadata.
#[derive(Debug, Clone)]
pub struct HandlerInfo {
    /// The gateway type's name.
    pub gateway: &'static str,
    /// The handler method's name (`"handle_connection"` etc. for hooks).
    pub method: &'static str,
    /// The event (`"connection"` for connection guards and hooks).
    pub event: String,
    /// `#[set_metadata(key = value)]` entries, method entries first.
    pub metadata: Vec<(&'static str, Value)>,
}

/// The message being handled (NestJS's `ExecutionContext` for websockets).
#[derive(Debug, Clone)]
pub struct ExecutionContext {
    socket: Socket,
    args: Args,
    info: Arc<HandlerInfo>,
}

impl ExecutionContext {
    /// A context for `socket` receiving `args` in the handler described by `info`.
    pub fn new(socket: Socket, args: Args, info: Arc<HandlerInfo>) -> Self {
        Self { socket, args, info }
    }

    /// The client's socket.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The event name (the "pattern").
    pub fn event(&self) -> &str {
        &self.info.event
    }

    /// The raw arguments of the event.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// The message body as NestJS maps it: no argument → `null`, one → that argument,
    /// several → the array of them.
    pub fn body(&self) -> Value {
        match self.args.len() {
            0 => Value::Null,
            1 => self.args.get(0).unwrap_or(Value::Null),
            _ => self.args.get_all().unwrap_or(Value::Null),
        }
    }

    /// The handler's description.
    pub fn handler(&self) -> &HandlerInfo {
        &self.info
    }

    /// The value of `#[set_metadata(key = …)]` on the handler (method level first, then
    /// gateway level).
    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.info
            .metadata
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}
