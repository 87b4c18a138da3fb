//! What clients send and receive. The types derive `ts_rs::TS` and `schemars::JsonSchema`
//! so that the declared events (`events.rs`) become TypeScript and an AsyncAPI document.

use gateway_runtime::prelude::*;
use schemars::JsonSchema;
use ts_rs::TS;

/// The claims of a chat user's token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// The user name.
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

/// A room to join, leave, or type in.
#[derive(Debug, Serialize, Deserialize, Validate, TS, JsonSchema)]
pub struct RoomRequest {
    /// The room name, 1 to 64 characters.
    #[validate(length(min = 1, max = 64))]
    pub room: String,
}

/// A message to post in a room the sender is in.
#[derive(Debug, Serialize, Deserialize, Validate, TS, JsonSchema)]
pub struct SendMessage {
    /// The room, 1 to 64 characters.
    #[validate(length(min = 1, max = 64))]
    pub room: String,
    /// The text, 1 to 2000 characters.
    #[validate(length(min = 1, max = 2000))]
    pub text: String,
}

/// A stored message, as broadcast with `new-message` and in a room's history.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ChatMessage {
    /// Increasing with each message of the server.
    pub id: u64,
    /// The room it was posted in.
    pub room: String,
    /// Who posted it.
    pub user: String,
    /// The text.
    pub text: String,
    /// When it was posted, in milliseconds since the epoch.
    pub at: u64,
}

/// The acknowledgement of `send-message`.
#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
pub struct Sent {
    /// The id of the stored message.
    pub id: u64,
}

/// Someone joining, leaving, or typing in a room.
#[derive(Debug, Serialize, Deserialize, TS, JsonSchema)]
pub struct Presence {
    /// The room.
    pub room: String,
    /// The user name.
    pub user: String,
}
