//! Micro-benchmarks of event dispatch: a batch of events with acknowledgements goes in
//! through the engine's router (long-polling, in process: no socket, no system call) and
//! through a macro gateway's pipeline; the batch of acks is read back and counted.
//! Each figure is per event: packet decoding, argument extraction, guards, pipes and
//! interceptors when there are any, the handler, the ack's encoding and queueing.
//!
//! ```text
//! cargo bench -p gateway-runtime --bench dispatch
//! ```

use std::future::poll_fn;

use axum::body::Body;
use divan::counter::ItemsCount;
use divan::Bencher;
use gateway_runtime::prelude::*;
use http::{Method, Request};
use tower_service::Service;

/// Counts allocations too: divan prints them per iteration next to the times.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

/// Events per batch (one POST, then GETs until every ack is back).
const BATCH: usize = 100;

#[gateway(namespace = "/")]
struct Bench;

/// A typed argument, checked by the validation pipe when there is one.
#[derive(Debug, Serialize, Deserialize, Validate)]
struct Note {
    client: u64,
    seq: u64,
    #[validate(length(max = 64))]
    text: String,
}

#[gateway]
impl Bench {
    #[subscribe_message("echo")]
    fn echo(&self, #[message_body] data: AnyValue) -> AnyValue {
        data
    }

    #[subscribe_message("typed")]
    fn typed(&self, #[message_body] note: Note) -> Note {
        note
    }

    #[subscribe_message("later")]
    async fn later(&self, #[message_body] data: AnyValue) -> AnyValue {
        tokio::task::yield_now().await;
        data
    }
}

/// Lets everything through (the cost of running a guard).
struct AllowAll;

impl Guard for AllowAll {
    async fn can_activate(&self, _ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(true)
    }
}

/// Passes the reply through (the cost of running an interceptor).
struct PassThrough;

impl Interceptor for PassThrough {
    async fn intercept(&self, _ctx: &ExecutionContext, next: Next<'_>) -> Result<Reply, Exception> {
        next.run().await
    }
}

/// A connected long-polling client of an in-process server.
struct Client {
    router: axum::Router,
    path: String,
    _app: App,
}

impl Client {
    async fn connect(enhancers: bool) -> Self {
        let mut builder = App::builder().gateway::<Bench>();
        if enhancers {
            builder = builder
                .global_guard(AllowAll)
                .global_pipe(ValidationPipe)
                .global_interceptor(PassThrough);
        }
        let app = builder.build().await.expect("the bench app builds");
        let mut router = app.router();
        let open = request(
            &mut router,
            Method::GET,
            "/socket.io/?EIO=4&transport=polling",
            "",
        )
        .await;
        let sid = open
            .split(r#""sid":""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("an OPEN packet with a sid")
            .to_owned();
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        let mut client = Self {
            router,
            path,
            _app: app,
        };
        client.post("40").await;
        let connected = client.get().await;
        assert!(
            connected.starts_with("40{"),
            "CONNECT answered: {connected}"
        );
        client
    }

    async fn post(&mut self, body: &str) {
        let ok = request(&mut self.router, Method::POST, &self.path, body).await;
        assert_eq!(ok, "ok");
    }

    async fn get(&mut self) -> String {
        request(&mut self.router, Method::GET, &self.path, "").await
    }

    /// Sends `batch` and reads until `BATCH` acks came back, each with its echoed value.
    async fn round(&mut self, batch: &str) {
        self.post(batch).await;
        let mut acks = 0;
        while acks < BATCH {
            let body = self.get().await;
            for packet in body.split('\x1e') {
                // An ack carrying the echoed value, not an error.
                assert!(
                    packet.starts_with("43") && packet.ends_with(r#"xxxx"}]"#),
                    "{packet}"
                );
                acks += 1;
            }
        }
        assert_eq!(acks, BATCH);
    }
}

async fn request(router: &mut axum::Router, method: Method, path: &str, body: &str) -> String {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(Body::from(body.to_owned()))
        .expect("a valid request");
    poll_fn(|cx| Service::<Request<Body>>::poll_ready(router, cx))
        .await
        .expect("the router is always ready");
    let res = router.call(req).await.expect("the router never fails");
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("a whole body");
    String::from_utf8(bytes.to_vec()).expect("a text body")
}

/// `BATCH` events `event` with acks, as one long-polling payload.
fn batch(event: &str) -> String {
    (0..BATCH)
        .map(|i| {
            format!(
                r#"42{i}["{event}",{{"client":{},"seq":{i},"text":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}]"#,
                i % 7
            )
        })
        .collect::<Vec<_>>()
        .join("\x1e")
}

fn run(bencher: Bencher, event: &str, enhancers: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut client = rt.block_on(Client::connect(enhancers));
    let batch = batch(event);
    bencher
        .counter(ItemsCount::new(BATCH))
        .bench_local(|| rt.block_on(client.round(&batch)));
}

/// `#[message_body] data: AnyValue`, returned as the ack.
#[divan::bench]
fn echo_any_value(bencher: Bencher) {
    run(bencher, "echo", false);
}

/// The same behind a global guard, the validation pipe and an interceptor.
#[divan::bench]
fn echo_any_value_with_enhancers(bencher: Bencher) {
    run(bencher, "echo", true);
}

/// A typed body (serde) returned as the ack.
#[divan::bench]
fn echo_typed(bencher: Bencher) {
    run(bencher, "typed", false);
}

/// A typed body checked by the validation pipe, behind a guard and an interceptor.
#[divan::bench]
fn echo_typed_with_enhancers(bencher: Bencher) {
    run(bencher, "typed", true);
}

/// An async handler that waits once: it continues as a task.
#[divan::bench]
fn echo_async_handler(bencher: Bencher) {
    run(bencher, "later", false);
}
