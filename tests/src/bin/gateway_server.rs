//! The gateway fixture driven by tests/js/gateway*.test.mjs: every framework feature behind
//! an event. Env: `PORT` (0 = any), `JWT_SECRET` (default `test-secret`), `RECOVERY_MS`
//! (connection state recovery on, with this max disconnection duration).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gateway_runtime::prelude::*;
use gateway_runtime::socketio::Socket as SioSocket;
use gateway_runtime::validation::ValidationOptions;
use serde_json::{json, Value};

/// Hook and guard events, per socket id.
#[derive(Default)]
struct Journal(Mutex<HashMap<String, Vec<String>>>);

impl Journal {
    fn push(&self, socket: &SioSocket, what: impl Into<String>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(socket.id().to_string())
            .or_default()
            .push(what.into());
    }
    fn of(&self, id: &str) -> Vec<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).cloned().unwrap_or_default()
    }
}

#[injectable]
struct RecordingConnectionGuard {
    journal: Arc<Journal>,
}

impl Guard for RecordingConnectionGuard {
    async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
        self.journal.push(ctx.socket(), "connection-guard");
        if ctx.socket().handshake().auth.get("refuse").is_some() {
            return Err(WsException::object(
                json!({ "message": "refused by guard", "reason": "test" }),
            )
            .into());
        }
        Ok(ctx.socket().handshake().auth.get("deny").is_none())
    }
}

#[derive(Deserialize, Validate)]
struct NewMessage {
    #[validate(length(min = 1, max = 10))]
    room: String,
    #[validate(range(min = 1, max = 5))]
    priority: u8,
}

#[gateway(namespace = "/")]
#[use_connection_guards(RecordingConnectionGuard)]
struct MainGateway {
    journal: Arc<Journal>,
}

#[gateway]
impl MainGateway {
    #[subscribe_message("ok")]
    fn ok(&self, #[message_body] body: AnyValue) -> AnyValue {
        body
    }

    #[subscribe_message("zero")]
    fn zero(&self) -> u8 {
        0
    }

    #[subscribe_message("false")]
    fn falsy(&self) -> bool {
        false
    }

    #[subscribe_message("empty")]
    fn empty(&self) -> &'static str {
        ""
    }

    #[subscribe_message("unit")]
    fn unit(&self) {}

    #[subscribe_message("none")]
    fn none(&self) -> Option<u8> {
        None
    }

    #[subscribe_message("emit")]
    fn emit(&self, #[message_body] n: i64) -> WsResponse<i64> {
        WsResponse::new("emitted", n + 1)
    }

    #[subscribe_message("stream")]
    fn stream(
        &self,
        #[message_body] count: u32,
    ) -> ReplyStream<impl futures_util::Stream<Item = WsResponse<u32>> + Send> {
        ReplyStream(futures_util::stream::iter(
            (0..count).map(|i| WsResponse::new("tick", i)),
        ))
    }

    #[subscribe_message("ws-error")]
    fn ws_error(&self) -> Result<u8, WsException> {
        Err(WsException::new("room is full"))
    }

    #[subscribe_message("object-error")]
    fn object_error(&self) -> Result<u8, WsException> {
        Err(WsException::object(
            json!({ "code": "FULL", "message": "room is full" }),
        ))
    }

    #[subscribe_message("internal")]
    async fn internal(&self) -> Result<u8, Exception> {
        Err(std::io::Error::other("disk on fire"))?
    }

    #[subscribe_message("panic")]
    async fn panics(&self, #[message_body] _body: AnyValue) -> u8 {
        tokio::task::yield_now().await;
        panic!("handler bug")
    }

    #[subscribe_message("validate")]
    #[use_pipes(ValidationPipe)]
    fn validate(&self, #[message_body] msg: NewMessage) -> String {
        format!("{}:{}", msg.room, msg.priority)
    }

    #[subscribe_message("field")]
    fn field(&self, #[message_body("name")] name: String) -> String {
        name
    }

    #[subscribe_message("multi")]
    fn multi(&self, #[message_body] all: Vec<AnyValue>) -> usize {
        all.len()
    }

    #[subscribe_message("journal")]
    fn journal(
        &self,
        #[message_body] id: Option<String>,
        #[connected_socket] client: SioSocket,
    ) -> Vec<String> {
        let id = id.unwrap_or_else(|| client.id().to_string());
        self.journal.of(&id)
    }

    #[subscribe_message("slow")]
    async fn slow(&self, #[message_body] ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }
}

impl OnGatewayConnection for MainGateway {
    async fn handle_connection(&self, client: &SioSocket) -> Result<(), Exception> {
        self.journal.push(client, "handle_connection");
        if client.recovered() {
            self.journal.push(client, "recovered");
        }
        if client.handshake().auth.get("fail_hook").is_some() {
            return Err(WsException::new("hook failed").into());
        }
        if client.handshake().auth.get("panic_hook").is_some() {
            panic!("hook bug");
        }
        Ok(())
    }
}

impl OnGatewayDisconnect for MainGateway {
    async fn handle_disconnect(
        &self,
        client: &SioSocket,
        reason: DisconnectReason,
    ) -> Result<(), Exception> {
        self.journal
            .push(client, format!("handle_disconnect:{reason}"));
        // Runs in the socket's span: the line carries its sid, namespace and reason.
        tracing::info!("client left");
        Ok(())
    }
}

/// The NestJS API details on "/api": acks with several arguments or none, emits with none,
/// argument positions, and the ValidationPipe's options.
/// An order of the typed namespace "/typed".
#[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
struct Order {
    id: u64,
    item: String,
}

/// What `place` acknowledges: the client's confirmation, or why there is none.
#[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
struct Outcome {
    confirmed: Option<u64>,
    error: Option<String>,
}

/// The events of "/typed": checked at compile time on the gateway below.
#[socket_events(namespace = "/typed")]
trait TypedEvents {
    /// Places an order: the server tells the client (`placed`), asks it to confirm
    /// (`confirm`, acknowledged with a number), and acknowledges with the outcome.
    #[client("place")]
    fn place(order: Order) -> Outcome;
    /// An order was placed.
    #[server("placed")]
    fn placed(order: Order);
    /// The client confirms an order.
    #[server("confirm")]
    fn confirm(order: Order) -> u64;
}

#[gateway(namespace = "/typed", events = TypedEvents)]
struct TypedGateway;

#[gateway]
impl TypedGateway {
    #[subscribe_message("place")]
    async fn place(
        &self,
        #[message_body] order: Order,
        #[connected_socket] client: SioSocket,
    ) -> Outcome {
        let _ = TypedEvents::emit(&client).placed(&order);
        match TypedEvents::emit(&client)
            .confirm(&order, Duration::from_millis(1500))
            .await
        {
            Ok(n) => Outcome {
                confirmed: Some(n),
                error: None,
            },
            Err(e) => Outcome {
                confirmed: None,
                error: Some(e.to_string()),
            },
        }
    }
}

#[gateway(namespace = "/api")]
struct ApiGateway;

#[derive(Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Profile {
    #[validate(length(min = 1))]
    display_name: String,
    #[validate(range(min = 0, max = 150))]
    age: u8,
}

#[gateway]
impl ApiGateway {
    /// Node's error-first callback: `cb(null, n * 2)`.
    #[subscribe_message("double")]
    fn double(&self, #[message_body] n: i64) -> Arguments<(Option<()>, i64)> {
        Arguments((None, n * 2))
    }

    /// `cb()`: an acknowledgement with no argument.
    #[subscribe_message("done")]
    fn done(&self) -> Arguments<()> {
        Arguments(())
    }

    /// `cb(...items)`.
    #[subscribe_message("spread")]
    fn spread(&self, #[message_body] items: Vec<AnyValue>) -> Arguments<Vec<AnyValue>> {
        Arguments(items)
    }

    /// `client.emit("tick")`: an emit with no argument.
    #[subscribe_message("tick")]
    fn tick(&self) -> WsResponse<Arguments<()>> {
        WsResponse::new("tick", Arguments(()))
    }

    /// `client.emit("pair", a, b)`.
    #[subscribe_message("pair")]
    fn pair(&self) -> WsResponse<Arguments<(u8, &'static str)>> {
        WsResponse::new("pair", Arguments((1, "two")))
    }

    /// `socket.emit("move", x, y)`: each argument by its position.
    #[subscribe_message("move")]
    fn r#move(
        &self,
        #[message_body(index = 0)] x: i64,
        #[message_body(index = 1)] y: i64,
        #[message_body("label", index = 2)] label: Option<String>,
    ) -> String {
        format!("{x},{y},{}", label.unwrap_or_default())
    }

    #[subscribe_message("strict")]
    #[use_pipes(ValidationPipe::with(ValidationOptions {
        forbid_non_whitelisted: true,
        ..Default::default()
    }))]
    fn strict(&self, #[message_body] p: Profile) -> String {
        p.display_name
    }

    #[subscribe_message("first-error")]
    #[use_pipes(ValidationPipe::with(ValidationOptions {
        stop_at_first_error: true,
        ..Default::default()
    }))]
    fn first_error(&self, #[message_body] p: Profile) -> u8 {
        p.age
    }

    #[subscribe_message("quiet")]
    #[use_pipes(ValidationPipe::with(ValidationOptions {
        disable_error_messages: true,
        ..Default::default()
    }))]
    fn quiet(&self, #[message_body] p: Profile) -> u8 {
        p.age
    }

    #[subscribe_message("factory")]
    #[use_pipes(ValidationPipe::with(ValidationOptions::default().exception_factory(|errors| {
        let fields: Vec<String> = errors.into_iter().map(|e| e.field).collect();
        WsException::object(json!({ "code": "BAD_INPUT", "fields": fields })).into()
    })))]
    fn factory(&self, #[message_body] p: Profile) -> u8 {
        p.age
    }
}

#[derive(Serialize, Deserialize)]
struct User {
    sub: String,
    exp: u64,
}

#[gateway(namespace = "/secure")]
#[use_connection_guards(JwtGuard)]
#[use_guards(JwtGuard)]
struct SecureGateway {
    jwt: Arc<JwtService>,
}

#[gateway]
impl SecureGateway {
    #[subscribe_message("hello")]
    fn hello(&self, #[claims] user: User) -> WsResponse<String> {
        WsResponse::new("hello", user.sub)
    }

    #[subscribe_message("whoami")]
    fn whoami(&self, #[claims] user: User) -> String {
        user.sub
    }

    /// A token refresh without reconnecting.
    #[subscribe_message("refresh-token")]
    fn refresh(
        &self,
        #[message_body] token: String,
        #[connected_socket] client: Socket,
    ) -> Result<bool, WsException> {
        self.jwt
            .refresh(&client, &token)
            .map_err(|e| WsException::new(e.to_string()))?;
        Ok(true)
    }
}

/// Requires the `role` in the auth payload to be listed in the handler's `roles` metadata.
#[injectable]
struct RolesGuard;

impl Guard for RolesGuard {
    async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
        let Some(roles) = ctx.metadata("roles") else {
            return Ok(true);
        };
        let role = ctx
            .socket()
            .handshake()
            .auth
            .get("role")
            .cloned()
            .unwrap_or(Value::Null);
        Ok(roles.as_array().is_some_and(|r| r.contains(&role)))
    }
}

#[gateway(namespace = "/roles")]
#[use_guards(RolesGuard)]
struct RolesGateway;

#[gateway]
impl RolesGateway {
    #[subscribe_message("public")]
    fn public(&self) -> &'static str {
        "public"
    }

    #[subscribe_message("admin")]
    #[set_metadata(roles = ["admin"])]
    fn admin(&self) -> &'static str {
        "admin"
    }
}

#[gateway(namespace = "/ack-errors", ack_errors = true)]
struct AckErrorsGateway;

#[gateway]
impl AckErrorsGateway {
    #[subscribe_message("validate")]
    #[use_pipes(ValidationPipe)]
    fn validate(&self, #[message_body] msg: NewMessage) -> String {
        msg.room
    }

    #[subscribe_message("ws-error")]
    fn ws_error(&self) -> Result<u8, WsException> {
        Err(WsException::new("room is full"))
    }
}

#[gateway(namespace = regex("^/team-\\d+$"))]
#[use_guards(RolesGuard)]
struct TeamGateway {
    #[websocket_server]
    io: SocketIo,
}

#[gateway]
impl TeamGateway {
    #[subscribe_message("where")]
    fn r#where(&self, #[connected_socket] client: SioSocket) -> String {
        let _ = self.io.namespaces().len();
        client.namespace_name().to_string()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // Metrics: the recorder goes in before the app is built (its handles are taken then).
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &[0.001, 0.01, 0.1, 1.0, 10.0],
        )?
        .install_recorder()?;
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "test-secret".into());
    let recovery_ms: Option<u64> = std::env::var("RECOVERY_MS")
        .ok()
        .and_then(|v| v.parse().ok());
    let app = App::builder()
        .provider(Journal::default())
        .provider(JwtService::hs256(secret.as_bytes()))
        .gateway::<MainGateway>()
        .gateway::<SecureGateway>()
        .gateway::<RolesGateway>()
        .gateway::<AckErrorsGateway>()
        .gateway::<TeamGateway>()
        .gateway::<ApiGateway>()
        .gateway::<TypedGateway>()
        .socketio(|b| {
            let b = b
                .ping_interval(Duration::from_millis(1000))
                .ping_timeout(Duration::from_millis(1000));
            match recovery_ms {
                Some(ms) => b.connection_state_recovery(ConnectionStateRecovery {
                    max_disconnection_duration: Duration::from_millis(ms),
                    ..ConnectionStateRecovery::default()
                }),
                None => b,
            }
        })
        .build()
        .await?;
    let listener = gateway_tests::listen("127.0.0.1", 0).await?;
    let routes = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || std::future::ready(prometheus.render())),
        )
        .merge(app.health_routes());
    app.serve(listener, routes).await?;
    Ok(())
}
