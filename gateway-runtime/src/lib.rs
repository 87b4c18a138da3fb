//! The gateway framework's runtime: our own Engine.IO v4 / Socket.IO v5 server, served
//! through axum.
//!
//! - [`engine`]: Engine.IO sessions over long-polling and WebSocket.
//! - [`socketio`]: namespaces, sockets, rooms, acknowledgements, broadcasts.
//! - [`adapter`]: room bookkeeping and the contract for multi-node adapters.
#![warn(missing_docs)]

pub mod adapter;
pub mod app;
pub mod engine;
mod hash;
pub mod jwt;
pub mod prelude;
pub mod socketio;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod validation;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use gateway_core as core;
