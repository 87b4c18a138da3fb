//! The local side of a namespace, as an adapter sees it: what a remote node's request
//! acts on.

use std::sync::{Arc, Weak};

use gateway_core::socketio::{Args, Encoded};

use super::{BroadcastOptions, Room, SocketInfo};
use crate::socketio::namespace_internals::{self as ns, NamespaceInner};

/// A handle on this node's part of a namespace, given to the adapter by [`super::Adapter::bind`].
/// Operations act on local sockets only; it does not keep the namespace alive.
#[derive(Clone)]
pub struct LocalNamespace(pub(crate) Weak<NamespaceInner>);

impl std::fmt::Debug for LocalNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalNamespace")
    }
}

impl LocalNamespace {
    fn get(&self) -> Option<Arc<NamespaceInner>> {
        self.0.upgrade()
    }

    /// The namespace name (empty once the namespace is gone).
    pub fn name(&self) -> String {
        self.get().map(|n| n.name.to_string()).unwrap_or_default()
    }

    /// Delivers an encoded packet to the matching local sockets.
    pub fn broadcast(&self, packet: &Encoded, opts: &BroadcastOptions) {
        if let Some(n) = self.get() {
            ns::deliver(&n, packet, opts);
        }
    }

    /// Delivers a packet that expects acks; each ack calls `on_ack`. Returns the number of
    /// local sockets targeted.
    pub fn broadcast_with_ack(
        &self,
        packet: &Encoded,
        opts: &BroadcastOptions,
        ack_id: u64,
        on_ack: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> usize {
        self.get().map_or(0, |n| {
            ns::deliver_with_ack(&n, packet, opts, ack_id, on_ack)
        })
    }

    /// The matching local sockets.
    pub fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.get()
            .map(|n| ns::socket_infos(&n, opts))
            .unwrap_or_default()
    }

    /// Makes the matching local sockets join `rooms`.
    pub fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if let Some(n) = self.get() {
            ns::add_sockets(&n, opts, rooms);
        }
    }

    /// Makes the matching local sockets leave `rooms`.
    pub fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if let Some(n) = self.get() {
            ns::del_sockets(&n, opts, rooms);
        }
    }

    /// Disconnects the matching local sockets.
    pub fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if let Some(n) = self.get() {
            ns::disconnect_sockets(&n, opts, close);
        }
    }

    /// Runs this node's listener of a server-side event another node sent (`args.event()`
    /// names it); `ack` when that node waits for an answer.
    pub fn server_side_event(&self, args: Args, ack: Option<crate::socketio::ServerSideAck>) {
        if let Some(n) = self.get() {
            ns::server_side_event(&n, args, ack);
        }
    }

    /// Number of local sockets.
    pub fn socket_count(&self) -> usize {
        self.get()
            .map_or(0, |n| n.sockets.read().map(|s| s.len()).unwrap_or(0))
    }
}
