//! The contract between the engine and the layer above it (Socket.IO, or your own).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::EngineSocket;

/// A message received from a client.
#[derive(Debug, Clone)]
pub enum Message {
    /// A text message (the bytes are valid UTF-8).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// Why an Engine.IO session ended, with socket.io's names (see [`CloseReason::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection or sent a close packet.
    TransportClose,
    /// The connection failed, or the client broke a transport rule (oversize payload,
    /// overlapping polls).
    TransportError,
    /// No pong arrived within `ping_timeout`.
    PingTimeout,
    /// The client sent something that is not a valid packet.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server closed the session while disconnecting a socket with `close = true`.
    ForcedServerClose,
    /// The server is shutting down.
    ServerShutdown,
    /// The client did not read what it was sent fast enough: its outgoing queue went over
    /// `max_buffered_bytes` or `max_buffered_packets`. What waited unsent is dropped; a
    /// WebSocket client gets close code 1008 with the reason `outgoing buffer full`, a
    /// polling client a close packet on its next poll (socket.io-client then reports
    /// `transport close` and reconnects).
    BufferFull,
}

impl CloseReason {
    /// The reason as socket.io names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::ForcedServerClose => "forced server close",
            Self::ServerShutdown => "server shutting down",
            Self::BufferFull => "outgoing buffer full",
        }
    }
}

impl CloseReason {
    /// Whether the server decided the close (the client may still be listening).
    pub fn is_server_side(self) -> bool {
        matches!(
            self,
            Self::ForcedClose | Self::ForcedServerClose | Self::ServerShutdown | Self::BufferFull
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What runs on top of the engine. Each session gets a `Conn` value from [`on_open`];
/// messages of a session are delivered one at a time, in arrival order.
///
/// [`on_open`]: EngineHandler::on_open
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-session state.
    type Conn: Send + Sync + 'static;

    /// A session was opened.
    fn on_open(&self, socket: &Arc<EngineSocket>) -> Self::Conn;

    /// A message arrived.
    fn on_message(&self, conn: &Self::Conn, socket: &Arc<EngineSocket>, message: Message);

    /// A text message arrived: `text` is `frame` already checked as UTF-8, for handlers
    /// that read it as a string (no second check). By default, [`on_message`] with
    /// [`Message::Text`].
    ///
    /// [`on_message`]: EngineHandler::on_message
    fn on_text(&self, conn: &Self::Conn, socket: &Arc<EngineSocket>, frame: Bytes, text: &str) {
        let _ = text;
        self.on_message(conn, socket, Message::Text(frame));
    }

    /// The session moved from polling to WebSocket. By default, nothing.
    fn on_upgrade(&self, conn: &Self::Conn, socket: &Arc<EngineSocket>) {
        let _ = (conn, socket);
    }

    /// The session ended; called once.
    fn on_close(&self, conn: &Self::Conn, socket: &Arc<EngineSocket>, reason: CloseReason);
}
