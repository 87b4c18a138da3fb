//! Guides: [`from_nestjs`] maps a NestJS gateway to this framework, [`recipes`] shows the
//! patterns a real-time application needs. Every example here is compiled by `cargo test`.

pub mod from_nestjs {
    //! # From NestJS
    //!
    //! Each NestJS decorator, option and pattern of a typical `@nestjs/websockets` +
    //! socket.io gateway, and what to write here. Search this page for the NestJS name.
    //!
    //! ## Decorators and classes
    //!
    //! | NestJS | here |
    //! |---|---|
    //! | `@WebSocketGateway({ namespace: 'chat', cors: { origin: '*', credentials: true } })` | `#[gateway(namespace = "/chat", cors = "*", credentials = true)]` on the struct, `#[gateway]` on its impl block; every option is on the [`gateway`](crate::prelude::gateway) macro |
    //! | `@WebSocketGateway(3001)` (a port) | the port is the app's: `app.listen("0.0.0.0:3001")` |
    //! | `pingInterval: 10000` | `ping_interval = 10000` or `ping_interval = "10s"` |
    //! | `@WebSocketServer() server: Server` | `#[websocket_server] io: SocketIo` (or `ns: Namespace` for the gateway's namespace) |
    //! | `@SubscribeMessage('events')` | `#[subscribe_message("events")]` |
    //! | `@MessageBody() data: Dto` | `#[message_body] data: Dto` (`Dto: Deserialize`) |
    //! | `@MessageBody('id') id: number` | `#[message_body("id")] id: u64` |
    //! | the second argument of `socket.emit('move', x, y)` | `#[message_body(index = 1)] y: f64` (the first is `index = 0`) |
    //! | `@ConnectedSocket() client: Socket` | `#[connected_socket] client: Socket` |
    //! | `return data` (acknowledgement) | return the value (`()`/`None` send nothing; `0`, `false`, `""` are sent) |
    //! | `return { event: 'events', data }` | `WsResponse::new("events", data)` |
    //! | `return from([1, 2, 3]).pipe(map(...))` (Observable) | `ReplyStream(stream)` of `WsResponse`s |
    //! | the ack callback with several arguments, `cb()`, `cb(null, data)` | return `Arguments((a, b))`, `Arguments(())`, `Arguments((None::<()>, data))`; or `#[ack] ack: AckSender` then `ack.send(&(a, b))` |
    //! | `client.emit('tick')` with no argument | `WsResponse::new("tick", Arguments(()))`, or `client.emit_args("tick", &())` |
    //! | `throw new WsException('Invalid')` | `Err(WsException::new("Invalid"))` (the client gets NestJS's `exception` event payload) |
    //! | `@UseGuards(AuthGuard)`, `CanActivate` | `#[use_guards(AuthGuard)]`, `impl Guard` |
    //! | `@UsePipes(new ValidationPipe())`, class-validator | `#[use_pipes(ValidationPipe)]`, `#[derive(Validate)]` with `#[validate(..)]` |
    //! | `new ValidationPipe({ whitelist: true })` | the default: properties the DTO does not declare are ignored by serde |
    //! | `new ValidationPipe({ forbidNonWhitelisted: true, stopAtFirstError: true })` | `ValidationPipe::with(ValidationOptions { forbid_non_whitelisted: true, stop_at_first_error: true, ..Default::default() })` ("property x should not exist", as NestJS) |
    //! | `disableErrorMessages: true` | `ValidationOptions { disable_error_messages: true, .. }` |
    //! | `transform: true` | always: the body is deserialized into the DTO's type (a wrong type is refused with the field's path) |
    //! | `exceptionFactory: (errors) => new WsException(..)` | `ValidationOptions::default().exception_factory(\|errors\| WsException::object(..).into())`; `errors` are [`FieldError`](crate::validation::FieldError)s named as the client sent them |
    //! | `@UseInterceptors(LoggingInterceptor)`, `NestInterceptor` | `#[use_interceptors(LoggingInterceptor)]`, `impl Interceptor` |
    //! | `@UseFilters(new WsFilter())`, `BaseWsExceptionFilter`, `@Catch()` | `#[use_filters(WsFilter)]`, `impl ExceptionFilter` (`catches` is `@Catch`) |
    //! | `@SetMetadata('roles', ['admin'])` + `Reflector` | `#[set_metadata(roles = ["admin"])]` + `ctx.metadata("roles")` in the guard |
    //! | `OnGatewayInit.afterInit(server)` | `impl OnGatewayInit { async fn after_init(&self, ns: &Namespace) }` |
    //! | `OnGatewayConnection.handleConnection(client)` | `impl OnGatewayConnection { async fn handle_connection(&self, client: &Socket) }` |
    //! | `OnGatewayDisconnect.handleDisconnect(client)` | `impl OnGatewayDisconnect { async fn handle_disconnect(&self, client: &Socket, reason) }` |
    //! | `@Injectable()`, constructor injection | `#[injectable]`, `Arc<T>` fields |
    //! | `@Module({ providers, imports, exports })`, `@Global()` | `Module::new("Chat").provider(..).import("Users").export::<T>()`, `.global()` |
    //! | `useFactory: async () => ..` | `App::builder().factory(|c| async move { .. })` |
    //! | `app.get(ChatGateway)` | `app.get::<ChatGateway>()` |
    //! | a service injecting the gateway (`forwardRef(() => ChatGateway)`) | `Arc<GatewayRef<ChatGateway>>`, then `.get()` |
    //! | `Test.createTestingModule({..}).overrideProvider(X).useValue(fake)` | `TestApp::start(App::builder()...override_provider(fake))`, then `app.client("/chat")` |
    //! | `@nestjs/throttler`: `@Throttle({ default: { limit: 5, ttl: 1000 } })`, `@SkipThrottle()` | `#[use_guards(Throttler)]` + `#[throttle(limit = 5, ttl = 1000)]`, `#[skip_throttle]` |
    //! | `@nestjs/jwt` `JwtService`, an auth guard setting `client.data.user` | `JwtService`, `JwtGuard`, `#[claims] user: Claims` |
    //! | `app.enableShutdownHooks()` | built in: `App::serve` drains and disconnects on SIGTERM and Ctrl-C |
    //! | `@nestjs/terminus` `HealthCheckService` (liveness and readiness) | `routes.merge(app.health_routes())`: `GET /health/live`, `GET /health/ready` |
    //! | `@willsoto/nestjs-prometheus` `PrometheusModule`, `makeCounterProvider` | built in: install a `metrics` recorder, serve it on a route; see [`telemetry`](crate::telemetry) |
    //! | `DEBUG=socket.io:*`, an OpenTelemetry `ClsModule` / request id in logs | `RUST_LOG=gateway_runtime=debug`; the `socket` and `event` tracing spans ([`telemetry`](crate::telemetry)) |
    //! | shared `ServerToClientEvents` / `ClientToServerEvents` interfaces, `Server<ClientToServerEvents, ServerToClientEvents>` | `#[socket_events(namespace = "/chat")] trait ChatEvents { #[client("join")] fn join(r: Join) -> Vec<Msg>; #[server("new-message")] fn new_message(m: Msg); }` + `#[gateway(events = ChatEvents)]`: handlers checked at compile time, `ChatEvents::emit(&client).new_message(&m)`; the front end's `.ts` from [`events::typescript`](crate::events::typescript) ([`socket_events`](crate::prelude::socket_events)) |
    //! | `nestjs-asyncapi` (`@AsyncApiSub`, `@AsyncApiPub`) | [`events::asyncapi`](crate::events::asyncapi): an AsyncAPI 3.0 document from the same declaration |
    //! | `instrument(this.server, { auth: { type: 'basic', username, password } })` from `@socket.io/admin-ui` (in `afterInit`) | [`AdminUi::basic_auth(username, hash).instrument(app.io())`](crate::admin::AdminUi) |
    //! | `createShardedAdapter(pub, sub)` (Redis 7 sharded pub/sub) | `adapter::redis::ShardedRedisAdapter::factory(RedisConfig::new(url))` (feature `redis`) |
    //! | `app.useWebSocketAdapter(new RedisIoAdapter(app))` | `App::builder().adapter(RedisAdapter::factory(RedisConfig::new(url))?)` |
    //!
    //! ## socket.io calls inside a gateway
    //!
    //! | socket.io (Node) | here |
    //! |---|---|
    //! | `this.server.emit('news', data)` | `self.io.of("/chat").emit("news", &data)` |
    //! | `this.server.to(room).emit(..)`, `.to([a, b])`, `.except(room)` | `.to(room)`, `.to([a, b])`, `.except(room)` |
    //! | `client.broadcast.emit(..)`, `client.to(room).emit(..)` | `client.broadcast().emit(..)`, `client.to(room).emit(..)` |
    //! | `client.emit('x', a, b)` | `client.emit_args("x", &(a, b))` |
    //! | `await client.timeout(5000).emitWithAck('q', x)` | `client.emit_with_ack("q", &(x,), Duration::from_secs(5)).await` |
    //! | `server.volatile.emit(..)` | `io.of("/").volatile().emit(..)` |
    //! | `client.join(room)`, `client.leave(room)` | `client.join(room)`, `client.leave(&room)` |
    //! | `client.rooms.has(room)`, `client.rooms` | `client.in_room(room)`, `client.rooms()` (own room first) |
    //! | `client.data.user = u`, `client.data.user` | `client.insert_extension(u)`, `client.extension::<User>()`, `client.data_mut(|d: &mut D| ..)` |
    //! | `client.handshake.auth.token`, `.query`, `.headers` | `client.handshake().auth["token"]`, `.query("k")`, `.headers()` |
    //! | `client.recovered` | `client.recovered()` |
    //! | `client.disconnect(true)` | `client.disconnect(true)` |
    //! | `await server.fetchSockets()`, `server.in(room).socketsJoin(r)` | `io.of("/").fetch_sockets().await`, `.to(room).sockets_join(r)` |
    //! | `server.use((socket, next) => ..)` | `io.of("/").middleware(|socket| async move { Ok(()) })`, or a connection guard: `#[use_connection_guards(..)]` |
    //! | `new Server({ connectionStateRecovery: {} })` | `App::builder().socketio(|io| io.connection_state_recovery(ConnectionStateRecovery::default()))` |
    //! | `new Server({ parser: msgpackParser })`, `perMessageDeflate`, `serveClient` | `.parser(MsgpackParser)`, `.per_message_deflate(1024)`, `.serve_client(ClientBundle::from_dir(..)?)` |
    //!
    //! ## A NestJS gateway, ported
    //!
    //! ```ts
    //! @WebSocketGateway({ namespace: 'chat', cors: { origin: '*' } })
    //! export class ChatGateway implements OnGatewayConnection {
    //!   @WebSocketServer() server: Server;
    //!   constructor(private readonly messages: MessagesService) {}
    //!
    //!   handleConnection(client: Socket) { client.join('lobby'); }
    //!
    //!   @UsePipes(new ValidationPipe())
    //!   @SubscribeMessage('send')
    //!   send(@MessageBody() dto: SendDto, @ConnectedSocket() client: Socket) {
    //!     const saved = this.messages.save(dto.room, dto.text);
    //!     client.to(dto.room).emit('message', saved);
    //!     return { id: saved.id };
    //!   }
    //! }
    //! ```
    //!
    //! ```no_run
    //! use gateway_runtime::prelude::*;
    //! use gateway_runtime::socketio::Socket as SioSocket;
    //!
    //! #[derive(Deserialize, Validate)]
    //! struct SendDto {
    //!     #[validate(length(min = 1, max = 32))]
    //!     room: String,
    //!     #[validate(length(min = 1, max = 500))]
    //!     text: String,
    //! }
    //!
    //! #[derive(Clone, Serialize)]
    //! struct Message { id: u64, room: String, text: String }
    //!
    //! #[injectable]
    //! struct MessagesService {
    //!     #[default]
    //!     next: std::sync::atomic::AtomicU64,
    //! }
    //!
    //! impl MessagesService {
    //!     fn save(&self, room: &str, text: &str) -> Message {
    //!         let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    //!         Message { id, room: room.into(), text: text.into() }
    //!     }
    //! }
    //!
    //! #[gateway(namespace = "/chat", cors = "*")]
    //! struct ChatGateway {
    //!     #[websocket_server]
    //!     io: SocketIo,
    //!     messages: Arc<MessagesService>,
    //! }
    //!
    //! impl OnGatewayConnection for ChatGateway {
    //!     async fn handle_connection(&self, client: &SioSocket) -> Result<(), Exception> {
    //!         client.join("lobby");
    //!         Ok(())
    //!     }
    //! }
    //!
    //! #[gateway]
    //! impl ChatGateway {
    //!     #[subscribe_message("send")]
    //!     #[use_pipes(ValidationPipe)]
    //!     fn send(
    //!         &self,
    //!         #[message_body] dto: SendDto,
    //!         #[connected_socket] client: SioSocket,
    //!     ) -> serde_json::Value {
    //!         let saved = self.messages.save(&dto.room, &dto.text);
    //!         let _ = client.to(dto.room.as_str()).emit("message", &saved);
    //!         serde_json::json!({ "id": saved.id })
    //!     }
    //! }
    //!
    //! #[tokio::main]
    //! async fn main() -> Result<(), Box<dyn std::error::Error>> {
    //!     App::builder()
    //!         .provider_type::<MessagesService>()
    //!         .gateway::<ChatGateway>()
    //!         .build()
    //!         .await?
    //!         .listen("0.0.0.0:3000")
    //!         .await?;
    //!     Ok(())
    //! }
    //! ```
}

pub mod recipes {
    //! # Recipes
    //!
    //! ## Authenticate at connection, per user rooms
    //!
    //! A connection guard refuses the connection (`connect_error` on the client); the
    //! connection hook puts each socket in its user's room, so anything can reach all the
    //! tabs of a user with `to(format!("user:{id}"))`.
    //!
    //! ```no_run
    //! use gateway_runtime::prelude::*;
    //! use gateway_runtime::socketio::Socket as SioSocket;
    //!
    //! #[derive(Deserialize)]
    //! struct User { sub: String }
    //!
    //! #[gateway(namespace = "/app")]
    //! #[use_connection_guards(JwtGuard)]
    //! #[use_guards(JwtGuard)]
    //! struct AppGateway;
    //!
    //! impl OnGatewayConnection for AppGateway {
    //!     async fn handle_connection(&self, client: &SioSocket) -> Result<(), Exception> {
    //!         if let Some(claims) = client.extension::<gateway_runtime::jwt::Claims>() {
    //!             if let Some(sub) = claims.0.get("sub").and_then(|s| s.as_str()) {
    //!                 client.join(format!("user:{sub}"));
    //!             }
    //!         }
    //!         Ok(())
    //!     }
    //! }
    //!
    //! #[gateway]
    //! impl AppGateway {
    //!     #[subscribe_message("whoami")]
    //!     fn whoami(&self, #[claims] user: User) -> String {
    //!         user.sub
    //!     }
    //! }
    //! # let _ = App::builder().provider(JwtService::hs256(b"secret")).gateway::<AppGateway>();
    //! ```
    //!
    //! ## Broadcasting from a service or an HTTP route
    //!
    //! A service holds the gateway through [`GatewayRef`](crate::app::GatewayRef); an axum
    //! route gets the service from the app.
    //!
    //! ```no_run
    //! use gateway_runtime::prelude::*;
    //! use gateway_runtime::deps::axum::{extract::State, routing::post, Router};
    //!
    //! #[gateway(namespace = "/orders")]
    //! struct OrdersGateway {
    //!     #[websocket_server]
    //!     io: SocketIo,
    //! }
    //!
    //! impl OrdersGateway {
    //!     fn shipped(&self, user: &str, order: u64) {
    //!         let _ = self.io.of("/orders").to(format!("user:{user}")).emit("shipped", &order);
    //!     }
    //! }
    //!
    //! #[injectable]
    //! struct Shipping {
    //!     orders: Arc<GatewayRef<OrdersGateway>>,
    //! }
    //!
    //! async fn ship(State(shipping): State<Arc<Shipping>>) -> &'static str {
    //!     shipping.orders.get().shipped("ada", 42);
    //!     "ok"
    //! }
    //!
    //! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    //! let app = App::builder()
    //!     .provider_type::<Shipping>()
    //!     .gateway::<OrdersGateway>()
    //!     .build()
    //!     .await?;
    //! let routes = Router::new().route("/ship", post(ship)).with_state(app.get::<Shipping>()?);
    //! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
    //! app.serve(listener, routes).await?;
    //! # Ok(())
    //! # }
    //! ```
    //!
    //! ## Testing a gateway with a fake service
    //!
    //! With the `testing` feature (in `[dev-dependencies]`: `gateway-runtime = { ..,
    //! features = ["testing"] }`), `TestApp` serves the app on a free port and hands out
    //! Socket.IO clients (NestJS's `Test.createTestingModule`):
    //!
    //! ```
    //! # #[cfg(feature = "testing")]
    //! # mod example {
    //! use std::time::Duration;
    //! use gateway_runtime::prelude::*;
    //! use gateway_runtime::testing::TestApp;
    //!
    //! struct Greeting(&'static str);
    //!
    //! #[gateway(namespace = "/greet")]
    //! struct Greeter { greeting: Arc<Greeting> }
    //!
    //! #[gateway]
    //! impl Greeter {
    //!     #[subscribe_message("hello")]
    //!     fn hello(&self) -> &'static str { self.greeting.0 }
    //! }
    //!
    //! # pub async fn run() {
    //! let app = TestApp::start(
    //!     App::builder()
    //!         .provider(Greeting("hi"))
    //!         .gateway::<Greeter>()
    //!         .override_provider(Greeting("fake")),
    //! )
    //! .await
    //! .unwrap();
    //! let mut client = app.client("/greet").await.unwrap();
    //! let answer = client.emit_with_ack("hello", &(), Duration::from_secs(3)).await.unwrap();
    //! assert_eq!(answer, vec![serde_json::json!("fake")]);
    //! # }
    //! # }
    //! # #[cfg(feature = "testing")]
    //! # tokio::runtime::Runtime::new().unwrap().block_on(example::run());
    //! ```
    //!
    //! ## Surviving network blips
    //!
    //! Turn on connection state recovery; a handler or hook can tell a recovered socket
    //! (same id, rooms and data, missed events replayed) from a new one.
    //!
    //! ```no_run
    //! use gateway_runtime::prelude::*;
    //! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    //! # #[gateway] struct G;
    //! let app = App::builder()
    //!     .socketio(|io| io.connection_state_recovery(ConnectionStateRecovery::default()))
    //!     .gateway::<G>()
    //!     .build()
    //!     .await?;
    //! # let _ = app; Ok(())
    //! # }
    //! ```
}
