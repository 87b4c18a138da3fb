//! Plain `fn` handlers with no guard or interceptor run where the message is read, with no
//! future: the same replies, exceptions, filters and panics as the full pipeline.

use std::time::Duration;

use gateway_runtime::prelude::*;
use gateway_runtime::testing::TestApp;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(3);

/// Answers with what caught it (a filter on the direct path may await).
#[injectable]
struct Caught;

impl ExceptionFilter for Caught {
    fn catches(&self, e: &Exception) -> bool {
        e.as_ws().is_some_and(|w| w.message() == "caught")
    }
    async fn catch(&self, _e: Exception, host: FilterHost<'_>) {
        tokio::task::yield_now().await;
        let _ = host.ctx.socket().emit("caught", &host.ctx.event());
    }
}

/// Refuses the event `refused`: a plain handler behind it takes the full pipeline.
#[injectable]
struct RefuseSome;

impl Guard for RefuseSome {
    async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(ctx.event() != "refused")
    }
}

#[derive(serde::Deserialize, validator::Validate)]
struct Named {
    #[validate(length(min = 1))]
    name: String,
}

#[gateway(namespace = "/")]
struct Plain;

#[gateway]
impl Plain {
    #[subscribe_message("any")]
    fn any(&self, #[message_body] data: AnyValue) -> AnyValue {
        data
    }

    #[subscribe_message("typed")]
    fn typed(&self, #[message_body] n: u32) -> u32 {
        n + 1
    }

    #[subscribe_message("validated")]
    fn validated(&self, #[message_body] who: Named) -> String {
        format!("hi {}", who.name)
    }

    #[subscribe_message("fails")]
    fn fails(&self) -> Result<u8, WsException> {
        Err(WsException::new("room is full"))
    }

    #[subscribe_message("filtered")]
    #[use_filters(Caught)]
    fn filtered(&self) -> Result<u8, WsException> {
        Err(WsException::new("caught"))
    }

    #[subscribe_message("panic")]
    fn panics(&self) -> u8 {
        panic!("handler bug")
    }

    #[subscribe_message("manual")]
    fn manual(&self, #[ack] ack: AckSender) {
        let _ = ack.send(&("manual", 1));
    }

    #[subscribe_message("emit")]
    fn emit(&self, #[message_body] n: u32) -> WsResponse<u32> {
        WsResponse::new("emitted", n * 2)
    }

    #[subscribe_message("guarded")]
    #[use_guards(RefuseSome)]
    fn guarded(&self, #[message_body] data: AnyValue) -> AnyValue {
        data
    }

    #[subscribe_message("refused")]
    #[use_guards(RefuseSome)]
    fn refused(&self) -> u8 {
        1
    }

    #[subscribe_message("later")]
    async fn later(&self, #[message_body] data: AnyValue) -> AnyValue {
        tokio::task::yield_now().await;
        data
    }
}

async fn start() -> TestApp {
    TestApp::start(
        App::builder()
            .gateway::<Plain>()
            .global_pipe(ValidationPipe),
    )
    .await
    .expect("app builds")
}

#[tokio::test]
async fn any_values_go_back_as_they_came() {
    let app = start().await;
    let mut c = app.client("/").await.unwrap();
    let value = json!({"a": [1, -2.5, "é\"\n", null, true], "b": {}});
    for event in ["any", "later"] {
        assert_eq!(
            c.emit_with_ack(event, &(value.clone(),), T).await.unwrap(),
            vec![value.clone()]
        );
        // Several arguments are the array of them (NestJS's body).
        assert_eq!(
            c.emit_with_ack(event, &(1, "two"), T).await.unwrap(),
            vec![json!([1, "two"])]
        );
    }
    // `null` is no acknowledgement; `0` and `""` are.
    assert!(c
        .emit_with_ack("any", &(Value::Null,), Duration::from_millis(300))
        .await
        .is_err());
    assert_eq!(
        c.emit_with_ack("any", &(0,), T).await.unwrap(),
        vec![json!(0)]
    );
    assert_eq!(
        c.emit_with_ack("any", &("",), T).await.unwrap(),
        vec![json!("")]
    );
}

#[tokio::test]
async fn typed_bodies_pipes_emits_and_manual_acks() {
    let app = start().await;
    let mut c = app.client("/").await.unwrap();
    assert_eq!(
        c.emit_with_ack("typed", &(41,), T).await.unwrap(),
        vec![json!(42)]
    );
    assert_eq!(
        c.emit_with_ack("validated", &(json!({"name": "ada"}),), T)
            .await
            .unwrap(),
        vec![json!("hi ada")]
    );
    c.emit("validated", &(json!({"name": ""}),)).unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert_eq!(e[0]["message"], "Validation failed: name (length)");
    c.emit("typed", &("not a number",)).unwrap();
    let e = c.expect_event("exception", T).await.unwrap();
    assert!(
        e[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid message"),
        "{e:?}"
    );
    assert_eq!(
        c.emit_with_ack("manual", &(), T).await.unwrap(),
        vec![json!("manual"), json!(1)]
    );
    c.emit("emit", &(4,)).unwrap();
    assert_eq!(c.expect_event("emitted", T).await.unwrap(), vec![json!(8)]);
}

#[tokio::test]
async fn errors_reach_filters_and_panics_harm_nobody() {
    let app = start().await;
    let mut a = app.client("/").await.unwrap();
    let mut b = app.client("/").await.unwrap();
    a.emit("fails", &()).unwrap();
    assert_eq!(
        a.expect_event("exception", T).await.unwrap(),
        vec![json!({"status": "error", "message": "room is full", "cause": {"pattern": "fails"}})]
    );
    a.emit("filtered", &()).unwrap();
    assert_eq!(
        a.expect_event("caught", T).await.unwrap(),
        vec![json!("filtered")]
    );
    a.emit("panic", &()).unwrap();
    assert_eq!(
        a.expect_event("exception", T).await.unwrap(),
        vec![
            json!({"status": "error", "message": "Internal server error", "cause": {"pattern": "panic"}})
        ]
    );
    // A guard puts a plain handler back on the full pipeline.
    assert_eq!(
        a.emit_with_ack("guarded", &(json!({"x": [1]}),), T)
            .await
            .unwrap(),
        vec![json!({"x": [1]})]
    );
    a.emit("refused", &()).unwrap();
    assert_eq!(
        a.expect_event("exception", T).await.unwrap()[0]["message"],
        "Forbidden resource"
    );
    for c in [&mut a, &mut b] {
        assert_eq!(
            c.emit_with_ack("typed", &(1,), T).await.unwrap(),
            vec![json!(2)]
        );
    }
}
