//! What the server tells an observer (the admin UI's instrumentation): sockets
//! connecting and leaving, rooms joined and left, events in and out. Nothing is observed
//! until an observer is set; then each hook is one call, and the observer must not block.

use std::sync::{Arc, OnceLock};

use gateway_core::socketio::{Args, Encoded};

use super::{DisconnectReason, Socket};
use crate::adapter::Room;
use crate::engine::Sid;

/// Receives what happens on every namespace of a server.
pub(crate) trait Observer: Send + Sync + 'static {
    /// A socket joined its namespace.
    fn connected(&self, socket: &Socket);
    /// A socket left its namespace.
    fn disconnected(&self, socket: &Socket, reason: DisconnectReason);
    /// A socket's connection moved to WebSocket.
    fn upgraded(&self, socket: &Socket);
    /// A socket joined `rooms`.
    fn joined(&self, socket: &Socket, rooms: &[Room]);
    /// A socket left `room`.
    fn left(&self, socket: &Socket, room: &str);
    /// A socket received an event.
    fn event_in(&self, socket: &Socket, args: &Args);
    /// `packet` (an event) was queued for the sockets `targets` of namespace `nsp`.
    fn event_out(&self, nsp: &str, packet: &Encoded, targets: &[Sid]);
}

/// The server's observer, shared by its namespaces; set once.
pub(crate) type ObserverSlot = Arc<OnceLock<Arc<dyn Observer>>>;
