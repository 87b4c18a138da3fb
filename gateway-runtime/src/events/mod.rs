//! Typed events: a namespace's client→server and server→client events declared once
//! with [`socket_events`](crate::prelude::socket_events), checked by the compiler on
//! both sides of a gateway, and turned into TypeScript ([`typescript`]) and an AsyncAPI
//! 3.0 document ([`asyncapi`]) for the front end.
//!
//! ```
//! use gateway_runtime::prelude::*;
//!
//! #[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
//! pub struct Join { pub room: String }
//!
//! #[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
//! #[serde(rename_all = "camelCase")]
//! pub struct Message { pub room: String, pub sent_by: String, pub text: String }
//!
//! /// The events of "/chat".
//! #[socket_events(namespace = "/chat")]
//! pub trait ChatEvents {
//!     /// Joins a room; the acknowledgement is its history.
//!     #[client("join")]
//!     fn join(join: Join) -> Vec<Message>;
//!     /// A message posted in a room the client is in.
//!     #[server("new-message")]
//!     fn new_message(message: Message);
//! }
//!
//! #[gateway(namespace = "/chat", events = ChatEvents)]
//! struct ChatGateway;
//!
//! #[gateway]
//! impl ChatGateway {
//!     #[subscribe_message("join")] // checked: declared, body `Join`, acknowledges `Vec<Message>`
//!     fn join(&self, #[message_body] join: Join, #[connected_socket] client: Socket) -> Vec<Message> {
//!         client.join(join.room.clone());
//!         let hello = Message { room: join.room, sent_by: "server".into(), text: "hi".into() };
//!         // checked: a declared server event, with its payload type
//!         let _ = ChatEvents::emit(&client).new_message(&hello);
//!         Vec::new()
//!     }
//! }
//!
//! let ts = gateway_runtime::events::typescript::<ChatEvents>();
//! assert!(ts.contains(r#""new-message": (message: Message) => void;"#));
//! assert!(ts.contains(r#""join": (join: Join, callback: (response: Array<Message>) => void) => void;"#));
//! ```
//!
//! A gateway without `events = ..` stays untyped: any event name, any body.

mod asyncapi;
mod check;
mod describe;
mod typescript;

pub use asyncapi::{asyncapi, asyncapi_of, AsyncApiInfo};
pub use check::{
    check_ack, check_body, check_declared, same_str, AckIs, Anything, BodyIs, EmitAckError,
    EmitTarget, Exactly, GatewayEvents, HasClientEvent, Untyped,
};
pub use describe::{Declaration, Direction, EventDoc, EventMap, TypeDesc};
pub use typescript::Collector;
pub use typescript::{typescript, typescript_of};

/// The FNV-1a 128-bit hash of an event name: the key the compiler checks a handler's
/// event against (`#[subscribe_message("join")]` and `#[client("join")]` agree on it).
pub const fn event_key(name: &str) -> u128 {
    let bytes = name.as_bytes();
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u128;
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
        i += 1;
    }
    hash
}
