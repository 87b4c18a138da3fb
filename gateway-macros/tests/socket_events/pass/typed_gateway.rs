//! A typed gateway: handlers and emits that match the declaration compile, with
//! `Result`, `Option` and no acknowledgement, several arguments as a tuple, and emits to a
//! socket, a room and a namespace.
use gateway_runtime::prelude::*;

#[derive(Serialize, Deserialize, Validate, ts_rs::TS, schemars::JsonSchema)]
pub struct Join {
    pub room: String,
}

#[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Notice {
    Joined { room: String },
    Left { room: String },
}

/// The events of "/rooms".
#[socket_events(namespace = "/rooms", ack_errors)]
pub trait RoomEvents {
    #[client("join")]
    fn join(join: Join) -> Vec<String>;
    #[client("move")]
    fn r#move(from: String, to: String) -> bool;
    #[client("ping")]
    fn ping();
    #[server("notice")]
    fn notice(notice: Notice);
    #[server("pair")]
    fn pair(a: u32, b: String);
    /// The client confirms with how many notices it has.
    #[server("confirm")]
    fn confirm(notice: Notice) -> u64;
}

#[gateway(namespace = "/rooms", events = RoomEvents)]
#[use_pipes(ValidationPipe)]
pub struct Rooms {
    #[websocket_server]
    server: Namespace,
}

#[gateway]
impl Rooms {
    #[subscribe_message("join")]
    fn join(&self, #[message_body] join: Join, #[connected_socket] client: Socket) -> Result<Vec<String>, WsException> {
        client.join(join.room.clone());
        let _ = RoomEvents::emit(&client).notice(&Notice::Joined { room: join.room.clone() });
        let _ = RoomEvents::emit(&client.to(join.room.as_str())).pair(&1, &"x".to_string());
        let _ = RoomEvents::emit(&self.server).notice(&Notice::Left { room: join.room });
        Ok(Vec::new())
    }

    #[subscribe_message("move")]
    async fn r#move(&self, #[message_body] rooms: (String, String)) -> Option<bool> {
        Some(rooms.0 != rooms.1)
    }

    #[subscribe_message("ping")]
    async fn ping(&self, #[connected_socket] client: Socket) {
        let answer: Result<u64, gateway_runtime::events::EmitAckError> = RoomEvents::emit(&client)
            .confirm(&Notice::Left { room: "r".into() }, std::time::Duration::from_secs(1))
            .await;
        let _ = answer;
    }
}

fn main() {
    let _ = App::builder().gateway::<Rooms>();
    let ts = gateway_runtime::events::typescript::<RoomEvents>();
    assert!(ts.contains("\"move\": (from: string, to: string, callback: (response: boolean | ErrorResponse) => void) => void;"));
    assert!(ts.contains("\"confirm\": (notice: Notice, callback: (response: number) => void) => void;"), "{ts}");
}
