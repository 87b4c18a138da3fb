//! The throttler: `#[throttle]` / `#[skip_throttle]` on gateways and handlers, named
//! limits, trackers, the refusal the client sees, and connection throttling.

use std::time::Duration;

use gateway_runtime::prelude::*;
use gateway_runtime::testing::{ClientError, TestApp};
use gateway_runtime::throttle::THROTTLED_MESSAGE;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(3);

#[gateway(namespace = "/", ack_errors = true)]
#[use_guards(Throttler)]
#[throttle(limit = 4, ttl = 60000)]
struct Limited;

#[gateway]
impl Limited {
    /// The gateway's limit: 4 a minute.
    #[subscribe_message("gateway-limit")]
    fn gateway_limit(&self) -> u8 {
        1
    }

    /// Its own: 2 a minute.
    #[subscribe_message("own-limit")]
    #[throttle(limit = 2, ttl = 60000)]
    fn own_limit(&self) -> u8 {
        2
    }

    /// Never throttled.
    #[subscribe_message("free")]
    #[skip_throttle]
    fn free(&self) -> u8 {
        3
    }

    /// A short window: 1 per 300 ms.
    #[subscribe_message("short")]
    #[throttle(limit = 1, ttl = 300)]
    fn short(&self) -> u8 {
        4
    }

    /// A named limit beside the default one; the default one skipped.
    #[subscribe_message("named")]
    #[throttle(burst(limit = 3, ttl = 60000))]
    #[skip_throttle(default)]
    fn named(&self) -> u8 {
        5
    }
}

async fn start(throttler: Option<Throttler>) -> TestApp {
    let mut builder = App::builder().gateway::<Limited>();
    if let Some(t) = throttler {
        builder = builder.provider(t);
    }
    TestApp::start(builder).await.expect("app builds")
}

fn is_throttled(answer: &[Value]) -> bool {
    answer.first().and_then(|a| a.get("message")) == Some(&json!(THROTTLED_MESSAGE))
}

#[tokio::test]
async fn limits_of_the_gateway_and_the_handler_and_skips() {
    let app = start(None).await;
    let mut c = app.client("/").await.unwrap();
    for _ in 0..4 {
        assert_eq!(
            c.emit_with_ack("gateway-limit", &(), T).await.unwrap(),
            vec![json!(1)]
        );
    }
    let refused = c.emit_with_ack("gateway-limit", &(), T).await.unwrap();
    assert!(is_throttled(&refused), "{refused:?}");
    assert_eq!(refused[0]["status"], json!("error"));
    let retry = refused[0]["retryAfter"].as_u64().unwrap();
    assert!((1..=60).contains(&retry), "retryAfter {retry} s");

    for _ in 0..2 {
        assert_eq!(
            c.emit_with_ack("own-limit", &(), T).await.unwrap(),
            vec![json!(2)]
        );
    }
    assert!(is_throttled(
        &c.emit_with_ack("own-limit", &(), T).await.unwrap()
    ));

    for _ in 0..20 {
        assert_eq!(
            c.emit_with_ack("free", &(), T).await.unwrap(),
            vec![json!(3)]
        );
    }

    for _ in 0..3 {
        assert_eq!(
            c.emit_with_ack("named", &(), T).await.unwrap(),
            vec![json!(5)]
        );
    }
    assert!(is_throttled(
        &c.emit_with_ack("named", &(), T).await.unwrap()
    ));

    // Another socket has its own counts: the offender only is refused.
    let mut other = app.client("/").await.unwrap();
    assert_eq!(
        other.emit_with_ack("gateway-limit", &(), T).await.unwrap(),
        vec![json!(1)]
    );
}

#[tokio::test]
async fn a_window_ends() {
    let app = start(None).await;
    let mut c = app.client("/").await.unwrap();
    assert_eq!(
        c.emit_with_ack("short", &(), T).await.unwrap(),
        vec![json!(4)]
    );
    assert!(is_throttled(
        &c.emit_with_ack("short", &(), T).await.unwrap()
    ));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        c.emit_with_ack("short", &(), T).await.unwrap(),
        vec![json!(4)]
    );
}

/// A registered throttler's own limit applies where no attribute names it, and per IP
/// the sockets of one address share their counts.
#[tokio::test]
async fn a_registered_throttler_counts_per_address() {
    let throttler = Throttler::new()
        .limit("burst", 3, Duration::from_secs(60))
        .key(ThrottleKey::Ip);
    let app = start(Some(throttler)).await;
    let mut a = app.client("/").await.unwrap();
    let mut b = app.client("/").await.unwrap();
    // `named` sets `burst` to 3 itself; the two sockets share 127.0.0.1's count.
    for _ in 0..2 {
        assert_eq!(
            a.emit_with_ack("named", &(), T).await.unwrap(),
            vec![json!(5)]
        );
    }
    assert_eq!(
        b.emit_with_ack("named", &(), T).await.unwrap(),
        vec![json!(5)]
    );
    assert!(is_throttled(
        &b.emit_with_ack("named", &(), T).await.unwrap()
    ));
    // `free` skips everything, the registered limit included.
    assert_eq!(
        a.emit_with_ack("free", &(), T).await.unwrap(),
        vec![json!(3)]
    );
}

#[gateway(namespace = "/guarded")]
#[use_connection_guards(Throttler)]
#[throttle(limit = 2, ttl = 60000)]
struct ConnectOnce;

#[gateway]
impl ConnectOnce {
    #[subscribe_message("hi")]
    fn hi(&self) -> u8 {
        1
    }
}

/// As a connection guard, per address: the third connection is refused with
/// `connect_error`.
#[tokio::test]
async fn connections_are_throttled_per_address() {
    let app = TestApp::start(
        App::builder()
            .provider(Throttler::new().key(ThrottleKey::Ip))
            .gateway::<ConnectOnce>(),
    )
    .await
    .unwrap();
    let _a = app.client("/guarded").await.unwrap();
    let _b = app.client("/guarded").await.unwrap();
    match app.client("/guarded").await {
        Err(ClientError::Refused(message, _)) => assert_eq!(message, THROTTLED_MESSAGE),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}
