//! The events of `/chat`, declared once: the gateway's handlers and emits are checked
//! against them, and they are the source of the front end's TypeScript
//! (`web/src/generated/chat-events.ts`) and of `asyncapi.json`.

use gateway_runtime::prelude::*;

use crate::dto::{ChatMessage, Presence, RoomRequest, SendMessage, Sent};

/// The chat's events on namespace `/chat`. Errors reach the client's acknowledgement
/// callback when it gave one, else the `exception` event.
#[socket_events(namespace = "/chat", ack_errors)]
pub trait ChatEvents {
    /// Joins a room (at most 20 at once); acknowledged with its recent history.
    #[client("join")]
    fn join(request: RoomRequest) -> Vec<ChatMessage>;

    /// Leaves a room.
    #[client("leave")]
    fn leave(request: RoomRequest) -> bool;

    /// Posts a message in a room the sender is in (5 per second at most); acknowledged
    /// with the message id.
    #[client("send-message")]
    fn send_message(message: SendMessage) -> Sent;

    /// Tells the room the sender is typing.
    #[client("typing")]
    fn typing(request: RoomRequest);

    /// A message posted in a room the client is in.
    #[server("new-message")]
    fn new_message(message: ChatMessage);

    /// Someone joined a room the client is in.
    #[server("user-joined")]
    fn user_joined(presence: Presence);

    /// Someone left a room the client is in.
    #[server("user-left")]
    fn user_left(presence: Presence);

    /// Someone is typing in a room the client is in (volatile: dropped for clients that
    /// are behind).
    #[server("typing")]
    fn someone_typing(presence: Presence);
}

/// The TypeScript the front end imports, as committed.
pub const TYPESCRIPT_PATH: &str = "chat/web/src/generated/chat-events.ts";
/// The AsyncAPI document, as committed (and served at `/asyncapi.json`).
pub const ASYNCAPI_PATH: &str = "chat/asyncapi.json";

/// The generated TypeScript.
pub fn typescript() -> String {
    gateway_runtime::events::typescript::<ChatEvents>()
}

/// The generated AsyncAPI document.
pub fn asyncapi() -> String {
    let info = gateway_runtime::events::AsyncApiInfo {
        title: "Chat".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: Some(
            "The chat example: log in with `POST /login`, then connect to `/chat` with `auth: { token }`."
                .into(),
        ),
    };
    let doc = gateway_runtime::events::asyncapi::<ChatEvents>(&info);
    let mut out = serde_json::to_string_pretty(&doc).expect("a JSON value serializes");
    out.push('\n');
    out
}

/// Writes both files under `root` (the `examples` directory); the paths written.
pub fn write_generated(root: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for (path, text) in [(TYPESCRIPT_PATH, typescript()), (ASYNCAPI_PATH, asyncapi())] {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed TypeScript and AsyncAPI document are what the declaration generates:
    /// `UPDATE_GENERATED=1 cargo test --example chat` (or `cargo run --example chat --
    /// generate`) rewrites them.
    #[test]
    fn generated_files_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_GENERATED").is_some() {
            write_generated(root).unwrap();
        }
        for (path, text) in [(TYPESCRIPT_PATH, typescript()), (ASYNCAPI_PATH, asyncapi())] {
            let committed = std::fs::read_to_string(root.join(path)).unwrap_or_default();
            assert!(
                committed == text,
                "examples/{path} is stale: run `UPDATE_GENERATED=1 cargo test --example chat` and commit it"
            );
        }
    }
}
