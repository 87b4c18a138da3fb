//! Socket.IO v5 codec: packet headers, event arguments and binary attachments.
//!
//! A Socket.IO packet travels inside an Engine.IO message:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, for example
//! `2/chat,12["message","hi"]` is an event on `/chat` that asks for ack 12. Binary values
//! are replaced by `{"_placeholder":true,"num":N}` and sent as separate binary messages
//! right after the text (the type becomes 5 or 6 and the header counts the attachments).
//!
//! Decoding is split in two steps so it stays cheap: [`RawPacket::decode`] reads the
//! header and leaves the JSON as a slice; [`Args::parse_event`] then splits an event's JSON array
//! into its arguments without building a value tree, so each argument can later be
//! deserialized straight into the handler's type.
//!
//! ```
//! use gateway_core::socketio::{Args, PacketKind, RawPacket};
//!
//! let raw = RawPacket::decode(r#"2/chat,12["message",{"text":"hi"}]"#).unwrap();
//! assert_eq!((raw.kind, raw.nsp, raw.id), (PacketKind::Event, "/chat", Some(12)));
//! let args = Args::parse_event(raw.data.as_bytes().to_vec().into()).unwrap();
//! assert_eq!(args.event(), "message");
//! assert_eq!(args.raw(0), Some(r#"{"text":"hi"}"#));
//! ```

pub mod any_map;
mod args;
mod binary;
mod encode;
pub mod msgpack;
mod packet;
mod payload;
mod scan;
mod value;
mod value_json;

pub use any_map::AnyMap;
pub use args::Args;
pub use binary::Binary;
pub use encode::{ArgList, EncodeError, Encoded, Encoder};
pub use packet::{PacketKind, ParseError, RawPacket, MAX_ATTACHMENTS};
pub use payload::{Payload, Spread};
pub use value::AnyValue;
