//! The gateway framework's runtime: our own Engine.IO v4 / Socket.IO v5 server, served
//! through axum.
//!
//! - [`engine`]: Engine.IO sessions over long-polling and WebSocket.
//! - [`socketio`]: namespaces, sockets, rooms, acknowledgements, broadcasts.
//! - [`adapter`]: room bookkeeping and the contract for multi-node adapters.
#![deny(missing_docs)]

pub mod adapter;
pub mod admin;
pub mod app;
mod clock;
pub mod engine;
pub mod events;
pub mod guide;
mod hash;
pub mod jwt;
pub mod prelude;
pub mod socketio;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod validation;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use gateway_core as core;

/// The crates a gateway crate uses beside this one, at the versions it was built with, so
/// that it needs no dependency of its own for them: `serde_json` (`json!` payloads,
/// `Value`), `futures_util` (streams for `ReplyStream`), `axum` (HTTP routes served beside
/// the gateways), `tokio` (`#[deps::tokio::main(crate = "gateway_runtime::deps::tokio")]`).
/// The derives on message bodies (`Deserialize`, `Validate`) expand to paths of `serde`
/// and `validator`: those two stay in the application's `Cargo.toml`.
///
/// ```
/// use gateway_runtime::deps::serde_json::json;
/// assert_eq!(json!({"ok": true})["ok"], true);
/// ```
pub mod deps {
    pub use axum;
    pub use futures_util;
    pub use serde_json;
    pub use tokio;
}
