//! Engine.IO v4 server: sessions over HTTP long-polling and WebSocket, upgrades,
//! heartbeat, CORS and limits, served by its own accept loop
//! ([`Engine::serve_with_shutdown`]) or as an axum [`Router`](axum::Router).
//!
//! The engine is usable on its own: implement [`EngineHandler`] to receive messages and
//! send with [`EngineSocket`]. Socket.IO ([`crate::socketio`]) is built the same way.
//!
//! ```no_run
//! use std::sync::Arc;
//! use gateway_runtime::engine::*;
//!
//! struct Echo;
//! impl EngineHandler for Echo {
//!     type Conn = ();
//!     fn on_open(&self, _: &Arc<EngineSocket>) {}
//!     fn on_message(&self, _: &(), socket: &Arc<EngineSocket>, message: Message) {
//!         let _ = socket.send_message(message);
//!     }
//!     fn on_close(&self, _: &(), _: &Arc<EngineSocket>, _: CloseReason) {}
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let engine = Engine::new(Echo, EngineConfig { path: "/engine.io/".into(), ..Default::default() });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // Or `axum::serve` with `engine.router()`: the same answers, slower WebSocket handshakes.
//! engine.serve_with_shutdown(listener, axum::Router::new(), std::future::pending()).await
//! # }
//! ```

mod accept;
mod admission;
mod config;
mod handler;
mod http;
mod listen;
mod polling;
mod service;
mod session;
mod sid;
mod socket;
mod text;
mod websocket;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use config::{AllowOrigin, AllowRequest, AllowRequestAsync, Cors, EngineConfig, Transports};
pub use handler::{CloseReason, EngineHandler, Message};
pub(crate) use http::query_pairs;
pub use listen::{bind, shutdown_signal, DEFAULT_BACKLOG};
pub use service::Engine;
pub(crate) use service::EngineInner;
pub use sid::Sid;
pub(crate) use sid::SidMap;
pub use socket::{EngineSocket, Outgoing, RequestInfo, SendError, TransportKind};
pub use text::{NotUtf8, Text};

type Sessions<C> = RwLock<HashMap<Sid, Arc<session::Session<C>>>>;
