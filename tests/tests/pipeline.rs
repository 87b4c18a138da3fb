//! The gateway pipeline end to end: enhancer order at the three levels, result mapping,
//! exception payloads, validation, panics, hooks and dependency errors.

use std::sync::Mutex;
use std::time::Duration;

use gateway_runtime::app::{AppBuilder, BuildError};
use gateway_runtime::prelude::*;
use gateway_runtime::testing::{ClientError, TestApp};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(3);

/// Records what ran, in order.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

macro_rules! recording_guard {
    ($name:ident, $label:literal) => {
        #[injectable]
        struct $name {
            log: Arc<Log>,
        }
        impl Guard for $name {
            async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
                self.log.push(concat!($label, "-guard"));
                Ok(ctx.event() != "deny")
            }
        }
    };
}

macro_rules! recording_interceptor {
    ($name:ident, $label:literal) => {
        #[injectable]
        struct $name {
            log: Arc<Log>,
        }
        impl Interceptor for $name {
            async fn intercept(
                &self,
                _ctx: &ExecutionContext,
                next: Next<'_>,
            ) -> Result<Reply, Exception> {
                self.log.push(concat!($label, "-before"));
                let out = next.run().await;
                self.log.push(concat!($label, "-after"));
                out
            }
        }
    };
}

macro_rules! recording_pipe {
    ($name:ident, $label:literal) => {
        #[injectable]
        struct $name {
            log: Arc<Log>,
        }
        impl Pipe for $name {
            fn check(&self, _v: &dyn Checkable, _m: &ArgumentMetadata) -> Result<(), Exception> {
                self.log.push(concat!($label, "-pipe"));
                Ok(())
            }
        }
    };
}

macro_rules! recording_filter {
    ($name:ident, $label:literal, $catches:literal) => {
        #[injectable]
        struct $name {
            log: Arc<Log>,
        }
        impl ExceptionFilter for $name {
            fn catches(&self, e: &Exception) -> bool {
                e.as_ws().is_some_and(|w| w.message().starts_with($catches))
            }
            async fn catch(&self, e: Exception, host: FilterHost<'_>) {
                self.log.push(concat!($label, "-filter"));
                let _ = host.ctx.socket().emit("filtered", &json!({ "by": $label, "message": e.to_string() }));
            }
        }
    };
}

recording_guard!(GlobalGuard, "global");
recording_guard!(GatewayGuard, "gateway");
recording_guard!(MethodGuard, "method");
recording_interceptor!(GlobalInterceptor, "global");
recording_interceptor!(GatewayInterceptor, "gateway");
recording_interceptor!(MethodInterceptor, "method");
recording_pipe!(GlobalPipe, "global");
recording_pipe!(GatewayPipe, "gateway");
recording_pipe!(MethodPipe, "method");
recording_filter!(GlobalFilter, "global", "for-global");
recording_filter!(GatewayFilter, "gateway", "for-");
recording_filter!(MethodFilter, "method", "for-method");

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

/// A body under serde's renames: errors name the keys the client sent.
#[derive(Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Renamed {
    #[validate(length(min = 1))]
    room_id: String,
    #[validate(nested)]
    items: Vec<Item>,
}

#[derive(Deserialize, Validate)]
#[serde(rename_all = "kebab-case")]
struct Item {
    #[validate(range(min = 1))]
    unit_count: u32,
}

#[derive(Deserialize, Validate)]
struct NewMessage {
    #[validate(length(min = 1, max = 10))]
    room: String,
    #[validate(range(min = 1, max = 5))]
    priority: u8,
}

#[gateway(namespace = "/")]
#[use_guards(GatewayGuard, RolesGuard)]
#[use_interceptors(GatewayInterceptor)]
#[use_pipes(GatewayPipe)]
#[use_filters(GatewayFilter)]
struct TestGateway {
    log: Arc<Log>,
}

#[gateway]
impl TestGateway {
    #[subscribe_message("ordered")]
    #[use_guards(MethodGuard)]
    #[use_interceptors(MethodInterceptor)]
    #[use_pipes(MethodPipe)]
    fn ordered(&self, #[message_body] body: Value) -> Value {
        self.log.push("handler");
        body
    }

    #[subscribe_message("deny")]
    fn deny(&self) -> &'static str {
        "never"
    }

    #[subscribe_message("admin")]
    #[set_metadata(roles = ["admin"])]
    fn admin(&self) -> &'static str {
        "welcome admin"
    }

    #[subscribe_message("zero")]
    fn zero(&self) -> u32 {
        0
    }

    #[subscribe_message("false")]
    fn falsy(&self) -> bool {
        false
    }

    #[subscribe_message("empty")]
    fn empty(&self) -> String {
        String::new()
    }

    #[subscribe_message("unit")]
    fn unit(&self) {}

    #[subscribe_message("none")]
    fn none(&self) -> Option<u8> {
        None
    }

    #[subscribe_message("emit")]
    async fn emit(&self, #[message_body] n: u32) -> WsResponse<u32> {
        WsResponse::new("emitted", n + 1)
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

    #[subscribe_message("io-error")]
    async fn io_error(&self) -> Result<u8, Exception> {
        Err(std::io::Error::other("disk on fire"))?
    }

    #[subscribe_message("panic")]
    fn panics(&self, #[message_body] _body: Value) -> u8 {
        panic!("handler bug")
    }

    #[subscribe_message("validate")]
    #[use_pipes(ValidationPipe)]
    fn validate(&self, #[message_body] msg: NewMessage) -> String {
        format!("{}:{}", msg.room, msg.priority)
    }

    #[subscribe_message("renamed")]
    #[use_pipes(ValidationPipe)]
    fn renamed(&self, #[message_body] msg: Renamed) -> usize {
        msg.room_id.len() + msg.items.len()
    }

    #[subscribe_message("field")]
    fn field(&self, #[message_body("name")] name: String, #[event_name] event: String) -> String {
        format!("{event}:{name}")
    }

    #[subscribe_message("multi")]
    fn multi(&self, #[message_body] all: (u8, String)) -> String {
        format!("{}-{}", all.0, all.1)
    }

    #[subscribe_message("manual")]
    fn manual(&self, #[ack] ack: AckSender) {
        let _ = ack.send(&("manual", 2));
    }

    #[subscribe_message("filters")]
    #[use_filters(MethodFilter)]
    fn filters(&self, #[message_body] which: String) -> Result<u8, WsException> {
        Err(WsException::new(which))
    }
}

impl OnGatewayInit for TestGateway {
    async fn after_init(&self, server: &Namespace) -> Result<(), Exception> {
        self.log.push(format!("after_init:{}", server.name()));
        Ok(())
    }
}

impl OnGatewayConnection for TestGateway {
    async fn handle_connection(&self, client: &Socket) -> Result<(), Exception> {
        self.log.push("handle_connection");
        if client.handshake().auth.get("fail_hook").is_some() {
            return Err(WsException::new("hook failed").into());
        }
        Ok(())
    }
}

impl OnGatewayDisconnect for TestGateway {
    async fn handle_disconnect(
        &self,
        _client: &Socket,
        reason: DisconnectReason,
    ) -> Result<(), Exception> {
        self.log.push(format!("handle_disconnect:{reason}"));
        Ok(())
    }
}

#[injectable]
struct ConnectionRecorder {
    log: Arc<Log>,
}

impl Guard for ConnectionRecorder {
    async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
        self.log.push("connection-guard");
        if ctx.socket().handshake().auth.get("refuse").is_some() {
            return Err(WsException::object(json!({ "message": "go away", "code": 7 })).into());
        }
        Ok(true)
    }
}

fn builder() -> AppBuilder {
    App::builder()
        .provider(Log::default())
        .gateway::<TestGateway>()
        .global_guard_type::<GlobalGuard>()
        .global_interceptor_type::<GlobalInterceptor>()
        .global_filter_type::<GlobalFilter>()
        .global_connection_guard_type::<ConnectionRecorder>()
        .global_pipe_type::<GlobalPipe>()
}

async fn start() -> (TestApp, Arc<Log>) {
    let app = TestApp::start(builder()).await.expect("app builds");
    let log = app.app.get::<Log>().unwrap();
    (app, log)
}

#[tokio::test]
async fn enhancers_run_in_nestjs_order_at_three_levels() {
    let (app, log) = start().await;
    let mut client = app.client("/").await.unwrap();
    log.take();
    let reply = client
        .emit_with_ack("ordered", &(json!({"a": 1}),), T)
        .await
        .unwrap();
    assert_eq!(reply, vec![json!({"a": 1})]);
    assert_eq!(
        log.take(),
        [
            "global-guard",
            "gateway-guard",
            "method-guard",
            "global-before",
            "gateway-before",
            "method-before",
            "global-pipe",
            "gateway-pipe",
            "method-pipe",
            "handler",
            "method-after",
            "gateway-after",
            "global-after"
        ]
    );
}

#[tokio::test]
async fn hooks_and_connection_guards_run_in_order() {
    let (app, log) = start().await;
    assert_eq!(log.take(), ["after_init:/"]);
    let client = app.client("/").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.take(), ["connection-guard", "handle_connection"]);
    drop(client);
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let entries = log.take();
        if !entries.is_empty() {
            assert_eq!(entries, ["handle_disconnect:transport close"]);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no disconnect hook");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connection_guard_refusal_is_a_connect_error_with_data() {
    let (app, log) = start().await;
    let err = app
        .client_with_auth("/", json!({"refuse": true}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ClientError::Refused(
            "go away".into(),
            Some(json!({"message": "go away", "code": 7}))
        )
    );
    assert!(!log.take().contains(&"handle_connection".to_string()));
}

#[tokio::test]
async fn guards_refuse_with_forbidden_resource_and_read_metadata() {
    let (app, _log) = start().await;
    let mut client = app.client("/").await.unwrap();
    client.emit("deny", &()).unwrap();
    let payload = client.expect_event("exception", T).await.unwrap();
    assert_eq!(
        payload,
        vec![
            json!({"status": "error", "message": "Forbidden resource", "cause": {"pattern": "deny"}})
        ]
    );
    client.emit("admin", &()).unwrap();
    let payload = client.expect_event("exception", T).await.unwrap();
    assert_eq!(payload[0]["message"], "Forbidden resource");
    let mut admin = app
        .client_with_auth("/", json!({"role": "admin"}))
        .await
        .unwrap();
    assert_eq!(
        admin.emit_with_ack("admin", &(), T).await.unwrap(),
        vec![json!("welcome admin")]
    );
}

#[tokio::test]
async fn return_values_map_to_acks_like_nestjs() {
    let (app, _log) = start().await;
    let mut c = app.client("/").await.unwrap();
    assert_eq!(
        c.emit_with_ack("zero", &(), T).await.unwrap(),
        vec![json!(0)]
    );
    assert_eq!(
        c.emit_with_ack("false", &(), T).await.unwrap(),
        vec![json!(false)]
    );
    assert_eq!(
        c.emit_with_ack("empty", &(), T).await.unwrap(),
        vec![json!("")]
    );
    let short = Duration::from_millis(300);
    assert_eq!(
        c.emit_with_ack("unit", &(), short).await,
        Err(ClientError::Timeout)
    );
    assert_eq!(
        c.emit_with_ack("none", &(), short).await,
        Err(ClientError::Timeout)
    );
    assert_eq!(
        c.emit_with_ack("emit", &(41,), short).await,
        Err(ClientError::Timeout)
    );
    assert_eq!(c.expect_event("emitted", T).await.unwrap(), vec![json!(42)]);
    assert_eq!(
        c.emit_with_ack("manual", &(), T).await.unwrap(),
        vec![json!("manual"), json!(2)]
    );
    assert_eq!(
        c.emit_with_ack("field", &(json!({"name": "ada"}),), T)
            .await
            .unwrap(),
        vec![json!("field:ada")]
    );
    assert_eq!(
        c.emit_with_ack("multi", &(7, "x"), T).await.unwrap(),
        vec![json!("7-x")]
    );
}

#[tokio::test]
async fn errors_reach_the_client_as_nestjs_exception_events() {
    let (app, _log) = start().await;
    let mut c = app.client("/").await.unwrap();
    c.emit("ws-error", &(json!({"x": 1}),)).unwrap();
    assert_eq!(
        c.expect_event("exception", T).await.unwrap(),
        vec![
            json!({"status": "error", "message": "room is full", "cause": {"pattern": "ws-error", "data": {"x": 1}}})
        ]
    );
    c.emit("object-error", &()).unwrap();
    assert_eq!(
        c.expect_event("exception", T).await.unwrap(),
        vec![json!({"code": "FULL", "message": "room is full"})]
    );
    c.emit("io-error", &()).unwrap();
    assert_eq!(
        c.expect_event("exception", T).await.unwrap(),
        vec![
            json!({"status": "error", "message": "Internal server error", "cause": {"pattern": "io-error"}})
        ]
    );
}

#[tokio::test]
async fn a_panicking_handler_is_an_internal_error_and_harms_nobody() {
    let (app, _log) = start().await;
    let mut a = app.client("/").await.unwrap();
    let mut b = app.client("/").await.unwrap();
    a.emit("panic", &(1,)).unwrap();
    assert_eq!(
        a.expect_event("exception", T).await.unwrap(),
        vec![
            json!({"status": "error", "message": "Internal server error", "cause": {"pattern": "panic", "data": 1}})
        ]
    );
    assert_eq!(
        a.emit_with_ack("zero", &(), T).await.unwrap(),
        vec![json!(0)]
    );
    assert_eq!(
        b.emit_with_ack("zero", &(), T).await.unwrap(),
        vec![json!(0)]
    );
}

#[tokio::test]
async fn validation_errors_list_fields_and_constraints() {
    let (app, _log) = start().await;
    let mut c = app.client("/").await.unwrap();
    assert_eq!(
        c.emit_with_ack("validate", &(json!({"room": "a", "priority": 3}),), T)
            .await
            .unwrap(),
        vec![json!("a:3")]
    );
    c.emit("validate", &(json!({"room": "", "priority": 9}),))
        .unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert_eq!(e[0]["status"], "error");
    assert_eq!(
        e[0]["message"],
        "Validation failed: priority (range); room (length)"
    );
    assert_eq!(e[0]["errors"][0]["field"], "priority");
    assert_eq!(e[0]["errors"][1]["constraints"], json!(["length"]));
    c.emit("validate", &(json!({"room": 5}),)).unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert_eq!(
        e[0]["message"],
        "Invalid message: `room`: invalid type: integer `5`, expected a string"
    );
    c.emit("validate", &(json!({"room": "a"}),)).unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert_eq!(e[0]["message"], "Invalid message: `priority` is missing");
    c.emit("validate", &(5,)).unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert_eq!(
        e[0]["message"],
        "Invalid message: invalid type: integer `5`, expected an object"
    );
}

#[tokio::test]
async fn errors_name_fields_as_the_client_wrote_them() {
    let (app, _log) = start().await;
    let mut c = app.client("/").await.unwrap();
    let bad = json!({"roomId": "", "items": [{"unit-count": 2}, {"unit-count": 0}]});
    c.emit("renamed", &(bad,)).unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert_eq!(
        e[0]["message"],
        "Validation failed: items[1].unit-count (range); roomId (length)"
    );
    assert_eq!(e[0]["errors"][1]["field"], "roomId");
    let wrong = json!({"roomId": "r", "items": [{"unit-count": "two"}]});
    c.emit("renamed", &(wrong,)).unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert_eq!(
        e[0]["message"],
        "Invalid message: `items[0].unit-count`: invalid type: string \"two\", expected u32"
    );
}

#[tokio::test]
async fn filters_are_tried_method_then_gateway_then_global() {
    let (app, log) = start().await;
    let mut c = app.client("/").await.unwrap();
    log.take();
    for (which, by) in [
        ("for-method", "method"),
        ("for-gateway", "gateway"),
        ("for-global", "gateway"),
    ] {
        c.emit("filters", &(which,)).unwrap();
        let e = c.expect_event("filtered", T).await.unwrap();
        assert_eq!(e[0]["by"], by, "{which}");
    }
    c.emit("filters", &("other",)).unwrap();
    assert_eq!(
        c.expect_event("exception", T).await.unwrap()[0]["message"],
        "other"
    );
}

#[tokio::test]
async fn errors_can_go_through_the_ack() {
    let app = TestApp::start(builder().ack_errors(true)).await.unwrap();
    let mut c = app.client("/").await.unwrap();
    let reply = c.emit_with_ack("ws-error", &(), T).await.unwrap();
    assert_eq!(
        reply,
        vec![
            json!({"status": "error", "message": "room is full", "cause": {"pattern": "ws-error"}})
        ]
    );
}

#[tokio::test]
async fn a_missing_provider_fails_at_startup_naming_who_needs_it() {
    let err = App::builder()
        .gateway::<TestGateway>()
        .build()
        .await
        .unwrap_err();
    let BuildError::Di(e) = &err else {
        panic!("{err}")
    };
    let msg = e.to_string();
    assert!(msg.contains("no provider for `pipeline::Log`"), "{msg}");
    assert!(msg.contains("needed by TestGateway"), "{msg}");
}

/// A service that emits through the server handle it was built with.
#[injectable]
struct Announcer {
    io: Arc<SocketIo>,
}

impl Announcer {
    fn announce(&self, text: &str) {
        let _ = self.io.of("/moved").emit("announcement", text);
    }
}

#[gateway(namespace = "/original")]
struct MovableGateway {
    announcer: Arc<Announcer>,
}

#[gateway]
impl MovableGateway {
    #[subscribe_message("announce")]
    fn announce(&self, #[message_body] text: String) -> bool {
        self.announcer.announce(&text);
        true
    }
}

#[tokio::test]
async fn options_are_overridable_at_build_and_services_can_emit() {
    let app = TestApp::start(
        App::builder()
            .provider_type::<Announcer>()
            .gateway::<MovableGateway>()
            .gateway_options::<MovableGateway>(|o| {
                o.namespace = gateway_runtime::app::NamespaceSpec::Name("/moved".into())
            }),
    )
    .await
    .unwrap();
    assert!(
        matches!(app.client("/original").await, Err(ClientError::Refused(m, _)) if m == "Invalid namespace")
    );
    let mut a = app.client("/moved").await.unwrap();
    let mut b = app.client("/moved").await.unwrap();
    assert_eq!(
        a.emit_with_ack("announce", &("hello",), T).await.unwrap(),
        vec![json!(true)]
    );
    assert_eq!(
        b.expect_event("announcement", T).await.unwrap(),
        vec![json!("hello")]
    );
}

#[gateway(namespace = regex("^/team-\\d+$"))]
struct TeamGateway {
    log: Arc<Log>,
}

#[gateway]
impl TeamGateway {
    #[subscribe_message("where")]
    fn r#where(&self, #[connected_socket] client: Socket) -> String {
        client.namespace_name().to_string()
    }
}

impl OnGatewayInit for TeamGateway {
    async fn after_init(&self, server: &Namespace) -> Result<(), Exception> {
        // Slow on purpose: a client must not get in before it is done.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.log.push(format!("after_init:{}", server.name()));
        Ok(())
    }
}

impl OnGatewayConnection for TeamGateway {
    async fn handle_connection(&self, client: &Socket) -> Result<(), Exception> {
        self.log
            .push(format!("connection:{}", client.namespace_name()));
        Ok(())
    }
}

/// A gateway on a dynamic namespace is initialised for each child namespace, once, when
/// it is created and before any of its clients is let in.
#[tokio::test]
async fn after_init_runs_for_each_child_of_a_dynamic_gateway() {
    let app = TestApp::start(
        App::builder()
            .provider(Log::default())
            .gateway::<TeamGateway>(),
    )
    .await
    .unwrap();
    let log = app.app.get::<Log>().unwrap();
    assert!(log.take().is_empty(), "no child yet");
    let (a, b) = tokio::join!(app.client("/team-1"), app.client("/team-1"));
    let (mut a, _b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.emit_with_ack("where", &(), T).await.unwrap(),
        vec![json!("/team-1")]
    );
    let _c = app.client("/team-2").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let entries = log.take();
    let first = |what: &str| entries.iter().position(|e| e == what).unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.starts_with("after_init"))
            .count(),
        2,
        "{entries:?}"
    );
    assert!(
        first("after_init:/team-1") < first("connection:/team-1"),
        "{entries:?}"
    );
    assert!(
        first("after_init:/team-2") < first("connection:/team-2"),
        "{entries:?}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| *e == "connection:/team-1")
            .count(),
        2
    );
}
