//! Engine.IO v4 codec: packets, HTTP long-polling payloads and the handshake body.
//!
//! Engine.IO is the transport layer under Socket.IO. A packet is one type digit followed by
//! its data (`4hello` is a message, `2` a ping). Over HTTP long-polling several packets
//! travel in one body, separated by the record separator `\x1e`; binary packets are written
//! there as `b` followed by base64. Over WebSocket each packet is one frame and binary
//! packets are raw binary frames.
//!
//! ```
//! use gateway_core::engineio::{decode_payload, Packet};
//!
//! let packets: Vec<_> = decode_payload(b"4hi\x1ebAQI=").collect::<Result<_, _>>().unwrap();
//! assert_eq!(packets[0], Packet::Message("hi"));
//! assert_eq!(packets[1], Packet::Binary(vec![1, 2].into()));
//! ```

mod handshake;
mod packet;
mod payload;

pub use handshake::OpenPacket;
pub use packet::{DecodeError, Packet, PacketKind};
pub use payload::{decode_payload, PayloadDecoder, PayloadEncoder, SEPARATOR};
