//! What clients send and receive.

use gateway_runtime::prelude::*;

/// The claims of a chat user's token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// The user name.
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

/// `join` / `leave`.
#[derive(Debug, Deserialize, Validate)]
pub struct RoomRequest {
    #[validate(length(min = 1, max = 64))]
    pub room: String,
}

/// `send-message`.
#[derive(Debug, Deserialize, Validate)]
pub struct SendMessage {
    #[validate(length(min = 1, max = 64))]
    pub room: String,
    #[validate(length(min = 1, max = 2000))]
    pub text: String,
}

/// A stored message, as broadcast with `new-message`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatMessage {
    pub id: u64,
    pub room: String,
    pub user: String,
    pub text: String,
    pub at: u64,
}

/// The acknowledgement of `send-message`.
#[derive(Debug, Serialize)]
pub struct Sent {
    pub id: u64,
}
