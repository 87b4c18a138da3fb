//! Parsers: how Socket.IO packets are written on the wire (socket.io's `parser` option).
//!
//! The default is socket.io's JSON parser, built in (text packets, binary values as
//! attachments after them). A [`Parser`] set with
//! [`SocketIoBuilder::parser`](super::SocketIoBuilder::parser) writes each packet as one
//! binary message instead: [`MsgpackParser`] is wire-compatible with
//! `socket.io-msgpack-parser`. Handlers, acks, rooms and namespaces work the same with
//! either: packets are converted at the edge, to and from the JSON text form the rest of
//! the server uses.

use bytes::Bytes;
use gateway_core::socketio::msgpack;
pub use gateway_core::socketio::msgpack::{DecodedPacket, MsgpackError};
use gateway_core::socketio::Encoded;

use super::socket::outgoing_shared;
use crate::engine::Outgoing;

/// A parser that writes every packet as one binary message, such as MessagePack.
/// Clients must use the matching parser (socket.io-client's `parser` option).
pub trait Parser: Send + Sync + std::fmt::Debug + 'static {
    /// Writes `packet` (the JSON text form, binary values as attachments) as one message.
    fn encode(&self, packet: &Encoded) -> Result<Vec<u8>, MsgpackError>;
    /// Reads one received binary message; the JSON it gives may hold at most `max_json`
    /// bytes.
    fn decode(&self, message: &Bytes, max_json: usize) -> Result<DecodedPacket, MsgpackError>;
}

/// The MessagePack parser, wire-compatible with `socket.io-msgpack-parser` (what
/// socket.io-client uses with `parser: require("socket.io-msgpack-parser")`): each packet
/// is a map `{type, nsp, data, id}`, binary values are MessagePack `bin` in place, and a
/// JavaScript `Date` sent by a client reaches handlers as its ISO string (as with JSON).
///
/// ```
/// use gateway_runtime::socketio::{MsgpackParser, SocketIo};
/// let io = SocketIo::builder().parser(MsgpackParser).build();
/// # let _ = io;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgpackParser;

impl Parser for MsgpackParser {
    fn encode(&self, packet: &Encoded) -> Result<Vec<u8>, MsgpackError> {
        msgpack::encode(packet)
    }

    fn decode(&self, message: &Bytes, max_json: usize) -> Result<DecodedPacket, MsgpackError> {
        msgpack::decode(message, max_json)
    }
}

/// The parser of a server: `None` is the built-in JSON parser.
pub(crate) type ServerParser = Option<std::sync::Arc<dyn Parser>>;

/// [`wire`] for a packet sent to one connection: the JSON form takes the packet's bytes
/// as they are, without a copy.
pub(crate) fn wire_owned(parser: &ServerParser, packet: Encoded) -> (Outgoing, Vec<Bytes>) {
    match parser {
        None => super::socket::outgoing(packet),
        parser => wire(parser, &packet),
    }
}

/// What the engine sends for `packet`: its text and attachments (JSON), or one binary
/// message. Clones share the bytes (for broadcasts).
pub(crate) fn wire(parser: &ServerParser, packet: &Encoded) -> (Outgoing, Vec<Bytes>) {
    match parser {
        None => outgoing_shared(packet),
        Some(p) => match p.encode(packet) {
            Ok(bytes) => (Outgoing::Binary(bytes.into()), Vec::new()),
            Err(e) => {
                // Our own packets are valid text; this would be a bug, not bad input.
                tracing::error!("cannot encode a packet with {p:?}: {e}");
                outgoing_shared(packet)
            }
        },
    }
}
