//! Broadcast operators: `to`, `except`, `local`, `volatile`, `timeout`, and the
//! operations they scope (emit, emit with acks, fetch/join/leave/disconnect sockets).

use std::sync::Arc;
use std::time::Duration;

use gateway_core::socketio::{ArgList, Args, Encoder};
use serde::Serialize;
use tokio::sync::mpsc;

use super::error::{AckError, EmitError};
use super::namespace::internals;
use super::namespace::NamespaceInner;
use super::socket::{AckSlotGuard, Socket};
use crate::adapter::{AdapterError, BroadcastOptions, IntoRooms, Room, SocketInfo};

/// Default wait for broadcast acknowledgements when no `timeout` is set.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A set of target sockets, built by chaining operators; consumed by an operation.
///
/// ```no_run
/// # use gateway_runtime::socketio::SocketIo;
/// # let io = SocketIo::builder().build();
/// io.of("/").to("room1").to("room2").except("banned").emit("news", "hello").unwrap();
/// ```
#[derive(Clone)]
#[must_use = "an operator does nothing until an operation (emit, ...) is called"]
pub struct BroadcastOperator {
    ns: Arc<NamespaceInner>,
    opts: BroadcastOptions,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("nsp", &self.ns.name)
            .field("opts", &self.opts)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Acknowledgements gathered from a broadcast; `Err` when some did not arrive in time.
#[derive(Debug)]
pub struct BroadcastAckError {
    /// Why the collection ended early.
    pub error: AckError,
    /// The answers that did arrive.
    pub responses: Vec<Args>,
}

impl std::fmt::Display for BroadcastAckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} answers arrived)",
            self.error,
            self.responses.len()
        )
    }
}

impl std::error::Error for BroadcastAckError {}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NamespaceInner>) -> Self {
        Self {
            ns,
            opts: BroadcastOptions::default(),
            timeout: None,
        }
    }

    /// Adds target rooms: one (`"lobby"`, a `String`, a socket id) or several
    /// (`["a", "b"]`, a `Vec`): sockets in any of them get the packet, once.
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        rooms.push_rooms(&mut self.opts.rooms);
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Excludes sockets in any of `rooms` (one or several, as for [`to`](Self::to)).
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        rooms.push_rooms(&mut self.opts.except);
        self
    }

    /// Only this node's sockets.
    pub fn local(mut self) -> Self {
        self.opts.local = true;
        self
    }

    /// The packet may be dropped for clients that are not ready to receive it.
    pub fn volatile(mut self) -> Self {
        self.opts.volatile = true;
        self
    }

    /// How long `emit_with_ack` waits for acknowledgements.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The target description.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits `event` with one argument to every target. The packet is encoded once.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.emit_args(event, &(data,))
    }

    /// Emits `event` with several arguments to every target.
    pub fn emit_args(&self, event: &str, args: &(impl ArgList + ?Sized)) -> Result<(), EmitError> {
        let packet = Encoder::event(&self.ns.name, None, event, args)?;
        internals::deliver(&self.ns, &packet, &self.opts);
        if !self.opts.local {
            self.ns.adapter.remote_broadcast(&packet, &self.opts);
        }
        Ok(())
    }

    /// Emits `event` to every target and gathers their acknowledgements, up to the
    /// `timeout` (10 s when none is set).
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: &(impl ArgList + ?Sized),
    ) -> Result<Vec<Args>, BroadcastAckError> {
        let id = self.ns.next_ack_id();
        let packet = Encoder::event(&self.ns.name, Some(id), event, args).map_err(|_| {
            BroadcastAckError {
                error: AckError::Encode,
                responses: Vec::new(),
            }
        })?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Args>();
        let on_ack: Arc<dyn Fn(Args) + Send + Sync> = Arc::new(move |args| {
            let _ = tx.send(args);
        });
        let targets =
            internals::deliver_with_ack_to(&self.ns, &packet, &self.opts, id, on_ack.clone());
        let _slots = AckSlotGuard {
            sockets: &targets,
            id,
        };
        let timeout = self.timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
        let deadline = tokio::time::Instant::now() + timeout;
        // How many remote sockets will answer; `Err` when the other nodes could not tell,
        // in which case answers are gathered until the deadline.
        let remote: Result<usize, AckError> = if self.opts.local {
            Ok(0)
        } else {
            let request =
                self.ns
                    .adapter
                    .remote_broadcast_with_ack(&packet, &self.opts, on_ack.clone());
            match tokio::time::timeout_at(deadline, request).await {
                Ok(Ok(n)) => Ok(n),
                Ok(Err(e)) => {
                    tracing::warn!(nsp = %self.ns.name, "broadcast acks from other nodes unavailable: {e}");
                    Err(AckError::Cluster)
                }
                Err(_) => Err(AckError::Timeout),
            }
        };
        drop(on_ack);
        let expected = match remote {
            Ok(n) => targets.len() + n,
            Err(_) => usize::MAX,
        };
        let mut responses = Vec::with_capacity(targets.len());
        let mut error = None;
        while responses.len() < expected {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(args)) => responses.push(args),
                Ok(None) => {
                    error = Some(AckError::Disconnected);
                    break;
                }
                Err(_) => {
                    error = Some(AckError::Timeout);
                    break;
                }
            }
        }
        match (remote, error) {
            (Ok(_), None) => Ok(responses),
            (Err(error), _) | (Ok(_), Some(error)) => Err(BroadcastAckError { error, responses }),
        }
    }

    /// The local target sockets.
    pub fn sockets(&self) -> Vec<Socket> {
        internals::targets(&self.ns, &self.opts)
    }

    /// Every target socket, on this node and (through the adapter) on the others.
    pub async fn fetch_sockets(&self) -> Result<Vec<SocketInfo>, AdapterError> {
        let mut out: Vec<SocketInfo> = self
            .sockets()
            .into_iter()
            .map(|s| SocketInfo {
                id: s.id(),
                rooms: s.rooms(),
            })
            .collect();
        if !self.opts.local {
            out.extend(self.ns.adapter.remote_fetch_sockets(&self.opts).await?);
        }
        Ok(out)
    }

    /// Makes every target socket join `rooms`.
    pub fn sockets_join(&self, rooms: &[Room]) {
        for s in self.sockets() {
            s.join_unchecked(rooms);
        }
        if !self.opts.local {
            self.ns.adapter.remote_add_sockets(&self.opts, rooms);
        }
    }

    /// Makes every target socket leave `rooms`.
    pub fn sockets_leave(&self, rooms: &[Room]) {
        for s in self.sockets() {
            for room in rooms {
                s.leave(room);
            }
        }
        if !self.opts.local {
            self.ns.adapter.remote_del_sockets(&self.opts, rooms);
        }
    }

    /// Disconnects every target socket (and their whole connection with `close`).
    pub fn disconnect_sockets(&self, close: bool) {
        for s in self.sockets() {
            s.disconnect(close);
        }
        if !self.opts.local {
            self.ns.adapter.remote_disconnect_sockets(&self.opts, close);
        }
    }
}
