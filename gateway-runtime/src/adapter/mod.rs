//! Adapters keep track of rooms and carry broadcasts and cluster-wide requests.
//!
//! The in-memory adapter ([`MemoryAdapter`], the default) serves one process. An adapter for
//! many nodes implements the `remote_*` methods as requests to the other nodes; each has a
//! single-node default, so a local adapter only implements room bookkeeping.
//!
//! Local delivery is always synchronous: a broadcast is queued on every local target
//! before `emit` returns, so packets to one socket leave in the order they were emitted.

mod local;
mod memory;
#[cfg(feature = "redis")]
pub mod redis;
mod rooms;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use gateway_core::socketio::Encoded;

pub use local::LocalNamespace;
pub use memory::MemoryAdapter;
pub use rooms::IntoRooms;

use crate::engine::Sid;

/// A room name.
pub type Room = Arc<str>;

/// A boxed future, as returned by the adapter's cluster-wide requests.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which sockets an operation targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target rooms (all sockets of the namespace when empty).
    pub rooms: Vec<Room>,
    /// Sockets in these rooms are skipped.
    pub except: Vec<Room>,
    /// Only this node's sockets.
    pub local: bool,
    /// The packet may be dropped for sockets that are not ready to receive it.
    pub volatile: bool,
}

/// A socket as described by `fetch_sockets`, local or on another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// The socket id.
    pub id: Sid,
    /// Its rooms (its own id room included).
    pub rooms: Vec<Room>,
}

/// Why a cluster-wide request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterError(pub String);

impl std::fmt::Display for AdapterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "adapter error: {}", self.0)
    }
}

impl std::error::Error for AdapterError {}

/// Room bookkeeping and cluster communication for one namespace.
pub trait Adapter: Send + Sync + 'static {
    /// Adds socket `sid` to `rooms`.
    fn add_all(&self, sid: Sid, rooms: &[Room]);
    /// Removes socket `sid` from `room`.
    fn del(&self, sid: Sid, room: &str);
    /// Removes socket `sid` from every room.
    fn del_all(&self, sid: Sid);
    /// The rooms socket `sid` joined (its own id room not included).
    fn socket_rooms(&self, sid: Sid) -> Vec<Room>;
    /// How many rooms socket `sid` joined (its own id room not included).
    fn socket_room_count(&self, sid: Sid) -> usize {
        self.socket_rooms(sid).len()
    }
    /// Whether socket `sid` joined `room`.
    fn socket_in_room(&self, sid: Sid, room: &str) -> bool {
        self.socket_rooms(sid).iter().any(|r| &**r == room)
    }
    /// Calls `f` once for every local socket matched by `opts.rooms`/`opts.except`;
    /// `is_local` says whether a socket id belongs to this node (for id rooms).
    fn for_each_target(
        &self,
        opts: &BroadcastOptions,
        all: &mut dyn Iterator<Item = Sid>,
        f: &mut dyn FnMut(Sid),
    );
    /// Every room with at least one local socket.
    fn local_rooms(&self) -> HashSet<Room>;

    /// Called once when the namespace is created, with a handle the adapter uses to apply
    /// requests from other nodes to local sockets.
    fn bind(&self, _local: LocalNamespace) {}

    /// Called when the namespace is dropped (an empty child of a dynamic namespace):
    /// release subscriptions and the like.
    fn close(&self) {}

    /// Sends a broadcast to the other nodes (local delivery is already done).
    fn remote_broadcast(&self, _packet: &Encoded, _opts: &BroadcastOptions) {}
    /// Sends a broadcast that expects acks to the other nodes; resolves to how many
    /// remote sockets were targeted. Acks then arrive through `on_ack`.
    fn remote_broadcast_with_ack(
        &self,
        _packet: &Encoded,
        _opts: &BroadcastOptions,
        _on_ack: Arc<dyn Fn(gateway_core::socketio::Args) + Send + Sync>,
    ) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async { Ok(0) })
    }
    /// Sockets matched on the other nodes.
    fn remote_fetch_sockets(
        &self,
        _opts: &BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Makes matching sockets on the other nodes join `rooms`.
    fn remote_add_sockets(&self, _opts: &BroadcastOptions, _rooms: &[Room]) {}
    /// Makes matching sockets on the other nodes leave `rooms`.
    fn remote_del_sockets(&self, _opts: &BroadcastOptions, _rooms: &[Room]) {}
    /// Disconnects matching sockets on the other nodes.
    fn remote_disconnect_sockets(&self, _opts: &BroadcastOptions, _close: bool) {}
    /// Number of nodes in the cluster (this one included).
    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async { Ok(1) })
    }
    /// Sends a server-side event (`packet`: the JSON array `["event", ...args]`) to the
    /// other nodes (socket.io's `serverSideEmit`).
    fn server_side_emit(&self, _packet: &str) -> Result<(), AdapterError> {
        Ok(())
    }
    /// Sends a server-side event whose listeners answer; resolves to how many nodes will
    /// answer. The answers (one value each) then arrive through `on_answer`, for up to
    /// `timeout` (the adapter may forget the request after that).
    fn server_side_emit_with_ack(
        &self,
        _packet: &str,
        _timeout: std::time::Duration,
        _on_answer: Arc<dyn Fn(gateway_core::socketio::Args) + Send + Sync>,
    ) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async { Ok(0) })
    }
    /// Where connection state recovery keeps sessions and recorded events for this
    /// namespace, when the adapter keeps them itself (so that a client recovers on another
    /// node). `None`, the default, uses the server's in-memory store.
    fn session_store(&self) -> Option<Arc<dyn crate::socketio::SessionStore>> {
        None
    }

    /// Rooms with sockets on the other nodes.
    fn remote_rooms(&self) -> BoxFuture<'_, Result<HashSet<Room>, AdapterError>> {
        Box::pin(async { Ok(HashSet::new()) })
    }
}

/// Builds an adapter for each namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of namespace `nsp`.
    fn create(&self, nsp: &str) -> Arc<dyn Adapter>;

    /// Whether the adapter can serve the cluster now (its broker connected), for the
    /// readiness check ([`SocketIo::health_routes`](crate::socketio::SocketIo::health_routes)).
    /// Always true for a single-process adapter.
    fn is_ready(&self) -> bool {
        true
    }
}

impl<F, A> AdapterFactory for F
where
    F: Fn(&str) -> A + Send + Sync + 'static,
    A: Adapter,
{
    fn create(&self, nsp: &str) -> Arc<dyn Adapter> {
        Arc::new(self(nsp))
    }
}
