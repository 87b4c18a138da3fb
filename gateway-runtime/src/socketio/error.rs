//! Errors and disconnect reasons of the Socket.IO layer.

use std::fmt;

use gateway_core::socketio::EncodeError;

use crate::engine::{CloseReason, SendError};

/// Why a socket left its namespace, with socket.io's names ([`DisconnectReason::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client disconnected the socket (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
    /// The underlying connection ended; the engine's reason says why.
    Transport(CloseReason),
}

impl DisconnectReason {
    /// The reason as socket.io names it ("client namespace disconnect", "transport close",
    /// "ping timeout", "parse error", "server shutting down", …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::Transport(r) => r.as_str(),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an emit failed.
#[derive(Debug)]
pub enum EmitError {
    /// The payload could not be serialized.
    Encode(EncodeError),
    /// The connection is closed or its queue is full (it is then being closed).
    Send(SendError),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => e.fmt(f),
            Self::Send(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EmitError {}

impl From<EncodeError> for EmitError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl From<SendError> for EmitError {
    fn from(e: SendError) -> Self {
        Self::Send(e)
    }
}

/// A refusal from namespace middleware: the client receives `connect_error` with
/// `err.message` and `err.data`.
///
/// ```
/// use gateway_runtime::socketio::ConnectError;
/// let err = ConnectError::new("unauthorized").with_data(serde_json::json!({"code": 401}));
/// assert_eq!(err.message, "unauthorized");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// `err.message` on the client.
    pub message: String,
    /// `err.data` on the client.
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data` for the client.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

/// Why an acknowledgement did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// No answer within the timeout.
    Timeout,
    /// The socket disconnected before answering.
    Disconnected,
    /// The packet could not be sent.
    Send(SendError),
    /// The other nodes of the cluster could not be asked (see the adapter's log).
    Cluster,
    /// The arguments could not be encoded (to other server nodes: binary values included).
    Encode,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("operation has timed out"),
            Self::Disconnected => f.write_str("socket disconnected before acknowledging"),
            Self::Send(e) => e.fmt(f),
            Self::Cluster => f.write_str("the other nodes of the cluster could not be reached"),
            Self::Encode => f.write_str("the arguments could not be encoded"),
        }
    }
}

impl std::error::Error for AckError {}
