use gateway_runtime::prelude::*;

#[injectable]
struct Store;

#[injectable]
struct Service {
    store: Arc<Store>,
    #[default]
    hits: std::sync::atomic::AtomicU64,
}

#[injectable]
struct Allow;

impl Guard for Allow {
    async fn can_activate(&self, _ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(true)
    }
}

#[derive(Deserialize, Validate)]
struct Dto {
    #[validate(length(min = 1))]
    name: String,
}

#[use_guards(Allow)]
#[gateway(namespace = "/chat", ack_errors = true, transports = ["websocket", "polling"], ping_interval = 1000)]
#[set_metadata(area = "chat")]
struct Chat {
    service: Arc<Service>,
    #[websocket_server]
    server: Namespace,
}

#[gateway(namespace = regex("^/room-\\d+$"))]
struct Rooms {
    #[websocket_server]
    io: SocketIo,
}

#[gateway]
impl Rooms {
    #[subscribe_message("where")]
    fn r#where(&self, #[connected_socket] s: Socket) -> String {
        let _ = &self.io;
        s.namespace_name().to_string()
    }
}

#[gateway]
impl Chat {
    #[subscribe_message("hello")]
    #[use_pipes(ValidationPipe)]
    #[use_guards(Allow)]
    #[set_metadata(roles = ["admin", "user"])]
    async fn hello(
        &self,
        #[message_body] dto: Dto,
        #[connected_socket] socket: Socket,
        #[event_name] event: String,
        #[handshake] handshake: Handshake,
    ) -> Result<String, WsException> {
        let _ = (&self.service.store, &self.server, socket, handshake);
        Ok(format!("{event}:{}", dto.name))
    }

    #[subscribe_message("field")]
    fn field(&self, #[message_body("name")] name: String, #[ack] ack: Option<AckSender>) {
        if let Some(ack) = ack {
            let _ = ack.send(&(name,));
        }
    }

    #[subscribe_message("emit")]
    fn emit(&self) -> WsResponse<u8> {
        WsResponse::new("pong", 1)
    }
}

impl OnGatewayConnection for Chat {
    async fn handle_connection(&self, _client: &Socket) -> Result<(), Exception> {
        Ok(())
    }
}

fn main() {
    let _ = App::builder().provider_type::<Store>().provider_type::<Service>().gateway::<Chat>().gateway::<Rooms>();
}
