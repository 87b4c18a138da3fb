//! Socket.IO v5 on top of the engine: namespaces, sockets, events and acknowledgements
//! in both directions, binary attachments, rooms and broadcast operators.
//!
//! Data flow: the engine hands each message of a connection to its client, which decodes
//! the packet, finds the socket of the packet's namespace and calls its listener — in
//! arrival order, the synchronous part of each listener running before the next packet
//! is read. Emits are encoded once and queued on the connection; a broadcast queues the
//! same bytes on every target.
//!
//! ```no_run
//! use gateway_runtime::socketio::SocketIo;
//! let io = SocketIo::builder().build();
//! io.of("/").on_connection(|socket| async move {
//!     socket.join("lobby");
//!     socket.on("chat", |socket, args, _ack| async move {
//!         let _ = socket.to("lobby").emit_args("chat", &args);
//!     });
//! });
//! ```

mod ack;
mod client;
mod client_bundle;
mod error;
mod handshake;
mod namespace;
pub(crate) mod observe;
pub(crate) use namespace::internals as namespace_internals;
mod operators;
mod parser;
mod recovery;
mod server;
mod server_side;
mod socket;

pub use ack::AckSender;
pub use client_bundle::ClientBundle;
pub use error::{AckError, ConnectError, DisconnectReason, EmitError};
pub use gateway_core::socketio::{AnyMap, AnyValue, ArgList, Args, Binary, Payload};
pub use handshake::Handshake;
pub use namespace::Namespace;
pub use operators::{BroadcastAckError, BroadcastOperator, DEFAULT_ACK_TIMEOUT};
pub use parser::{DecodedPacket, MsgpackError, MsgpackParser, Parser};
pub use recovery::{
    ConnectionStateRecovery, MemorySessionStore, PersistedSession, RestoredSession, SessionStore,
};
pub use server::{DynamicNamespace, SocketIo, SocketIoBuilder};
pub use server_side::{ServerSideAck, ServerSideEmitError};
pub(crate) use socket::EventHandler;
pub use socket::{RoomLimitError, Socket};
