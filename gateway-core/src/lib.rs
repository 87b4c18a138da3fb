//! IO-free vocabulary of the gateway framework.
//!
//! This crate holds the parts that never touch a socket: the Engine.IO v4 and Socket.IO v5
//! codecs and the WebSocket framing (bytes in, values out — easy to fuzz and benchmark),
//! and the payload types that handlers receive and emit. The network side lives in
//! `gateway-runtime`.
//!
//! ```
//! use gateway_core::engineio::{Packet, PacketKind};
//!
//! let packet = Packet::decode_text("4hello").unwrap();
//! assert_eq!(packet.kind(), PacketKind::Message);
//! ```
#![deny(missing_docs)]

pub mod date;
pub mod di;
pub mod engineio;
mod json_text;
pub mod permessage_deflate;
pub mod socketio;
pub mod websocket;
