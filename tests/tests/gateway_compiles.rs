use gateway_runtime::prelude::*;

#[derive(Deserialize, Validate)]
struct SendMessage {
    #[validate(length(min = 1, max = 64))]
    room: String,
    #[validate(length(min = 1, max = 2000))]
    text: String,
}

#[injectable]
struct Store;

#[injectable]
struct ChatService {
    store: Arc<Store>,
}

#[gateway(namespace = "/chat")]
#[use_guards(AllowAll)]
struct ChatGateway {
    chat: Arc<ChatService>,
    #[websocket_server]
    server: Namespace,
}

#[injectable]
struct AllowAll;

impl Guard for AllowAll {
    async fn can_activate(&self, _ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(true)
    }
}

#[derive(Serialize)]
struct Sent {
    id: u32,
}

#[gateway]
impl ChatGateway {
    #[subscribe_message("send-message")]
    #[use_pipes(ValidationPipe)]
    async fn send(
        &self,
        #[message_body] dto: SendMessage,
        #[connected_socket] client: Socket,
    ) -> Result<Sent, WsException> {
        let _ = (&self.chat.store, &dto.text);
        self.server
            .to(dto.room.as_str())
            .except(client.id().as_str())
            .emit("new-message", &dto.room)
            .map_err(|e| WsException::new(e.to_string()))?;
        Ok(Sent { id: 1 })
    }

    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

impl OnGatewayConnection for ChatGateway {
    async fn handle_connection(&self, _client: &Socket) -> Result<(), Exception> {
        Ok(())
    }
}

#[tokio::test]
async fn builds() {
    let app = App::builder()
        .provider_type::<Store>()
        .provider_type::<ChatService>()
        .gateway::<ChatGateway>()
        .build()
        .await
        .unwrap();
    let _ = app.io();
}
