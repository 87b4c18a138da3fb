//! The server socket.io-client's own test suite expects (its `test/support/server.ts`),
//! written with this project's public API: port 3210 (`PORT` overrides), pingInterval 2 s,
//! connection state recovery on, namespaces `/foo`, `/timeout_socket`, `/valid`, `/asd`,
//! `/abc`, `/no` (refused), and the events the suite emits on `/`.
//!
//! To run the official suite against it: build this binary, start it, and run the suite's
//! `test/index.ts` with mocha without its `support/hooks.ts` (which would start a Node
//! server on the same port); see tests/js/README.md.

use std::time::Duration;

use gateway_runtime::socketio::{
    AckSender, Args, Binary, ConnectError, ConnectionStateRecovery, Socket, SocketIo,
};
use serde_json::{json, Value};

/// The current time as JSON.stringify writes a Date.
fn now_iso() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    gateway_core::date::iso_string(ms)
}

fn is_binary(args: &Args, i: usize) -> bool {
    args.get::<Binary>(i).is_ok()
}

fn on_event<F>(socket: &Socket, event: &'static str, f: F)
where
    F: Fn(&Socket, &Args, Option<AckSender>) + Send + Sync + 'static,
{
    let f = std::sync::Arc::new(f);
    socket.on(event, move |socket, args, ack| {
        let f = f.clone();
        async move { f(&socket, &args, ack) }
    });
}

/// An event and the check its arguments must pass.
type Step = (&'static str, fn(&Args) -> bool);

/// Events that must come in the order of `steps`, each passing its check: a step counts
/// only once the ones before it did; the last one is answered with the event `ack`.
fn in_order(socket: &Socket, steps: &'static [Step], ack: &'static str) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (i, (event, check)) in steps.iter().enumerate() {
        let done = done.clone();
        on_event(socket, event, move |s, args, _| {
            use std::sync::atomic::Ordering::SeqCst;
            if done.load(SeqCst) != i || !check(args) {
                return;
            }
            done.store(i + 1, SeqCst);
            if i + 1 == steps.len() {
                let _ = s.emit_args(ack, &());
            }
        });
    }
}

fn main_namespace(socket: &Socket) {
    on_event(socket, "hi", |s, _, _| {
        let _ = s.emit_args("hi", &());
    });
    on_event(socket, "echo", |_, args, ack| {
        if let Some(ack) = ack {
            let arg: Value = args.get(0).unwrap_or(Value::Null);
            let _ = ack.send(&(arg,));
        }
    });
    on_event(socket, "ack", |s, _, _| {
        let s = s.clone();
        tokio::spawn(async move {
            if let Ok(answer) = s.emit_with_ack("ack", &(), Duration::from_secs(10)).await {
                let a: i64 = answer.get(0).unwrap_or(0);
                let b: Value = answer.get(1).unwrap_or(Value::Null);
                if a == 5 && b.get("test").is_some_and(|t| t != &Value::Bool(false)) {
                    let _ = s.emit_args("got it", &());
                }
            }
        });
    });
    on_event(socket, "getAckDate", |_, _, ack| {
        if let Some(ack) = ack {
            let _ = ack.send(&(now_iso(),));
        }
    });
    on_event(socket, "getDate", |s, _, _| {
        let _ = s.emit("takeDate", &now_iso());
    });
    on_event(socket, "getDateObj", |s, _, _| {
        let _ = s.emit("takeDateObj", &json!({ "date": now_iso() }));
    });
    on_event(socket, "getUtf8", |s, _, _| {
        for text in [
            "てすと",
            "Я Б Г Д Ж Й",
            "Ä ä Ü ü ß",
            "utf8 — string",
            "utf8 — string",
        ] {
            let _ = s.emit("takeUtf8", text);
        }
    });
    on_event(socket, "false", |s, _, _| {
        let _ = s.emit("false", &false);
    });
    on_event(socket, "doge", |s, _, _| {
        let _ = s.emit("doge", &Binary::from(b"asdfasdf".to_vec()));
    });
    on_event(socket, "buffa", |s, args, _| {
        if is_binary(args, 0) {
            let _ = s.emit_args("buffack", &());
        }
    });
    for (event, answer) in [("jsonbuff", "jsonbuff-ack"), ("jsonblob", "jsonblob-ack")] {
        on_event(socket, event, move |s, args, _| {
            #[derive(serde::Deserialize)]
            struct Mixed {
                hello: String,
                message: Binary,
                goodbye: String,
            }
            if let Ok(m) = args.get::<Mixed>(0) {
                if m.hello == "lol" && m.goodbye == "gotcha" && !m.message.is_empty() {
                    let _ = s.emit_args(answer, &());
                }
            }
        });
    }
    // Messages arrive in order: the last step's answer says the ones before it came.
    in_order(
        socket,
        &[("abuff1", |a| is_binary(a, 0)), ("abuff2", |_| true)],
        "abuff2-ack",
    );
    on_event(socket, "blob", |s, args, _| {
        if is_binary(args, 0) {
            let _ = s.emit_args("back", &());
        }
    });
    in_order(
        socket,
        &[
            ("blob1", |a| is_binary(a, 0)),
            ("blob2", |a| a.get::<String>(0).is_ok_and(|s| s == "second")),
            ("blob3", |a| is_binary(a, 0)),
        ],
        "blob3-ack",
    );
    on_event(socket, "getbin", |s, _, _| {
        let _ = s.emit("takebin", &Binary::from(b"asdfasdf".to_vec()));
    });
    on_event(socket, "getHandshake", |s, _, ack| {
        if let Some(ack) = ack {
            let _ = ack.send(&(s.handshake(),));
        }
    });
    on_event(socket, "getId", |s, _, ack| {
        if let Some(ack) = ack {
            let _ = ack.send(&(s.id(),));
        }
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(2000))
        .connection_state_recovery(ConnectionStateRecovery::default())
        // A fixed delay, so that the client's connection timeout can be tested.
        .allow_request(|_| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        })
        .build();
    io.of("/foo").on_connection(|socket| async move {
        on_event(&socket, "getId", |s, _, ack| {
            if let Some(ack) = ack {
                let _ = ack.send(&(s.id(),));
            }
        });
    });
    for nsp in ["/timeout_socket", "/valid", "/asd"] {
        io.of(nsp).on_connection(|_| async {});
    }
    io.of("/abc").on_connection(|socket| async move {
        let _ = socket.emit("handshake", socket.handshake());
    });
    io.of("/").middleware(|socket| async move {
        if socket.handshake().query("fail").is_some() {
            return Err(ConnectError::new("Auth failed (main namespace)"));
        }
        Ok(())
    });
    io.of("/no")
        .middleware(|_| async { Err(ConnectError::new("Auth failed (custom namespace)")) });
    io.of("/")
        .on_connection(|socket| async move { main_namespace(&socket) });
    // `localhost` may resolve to ::1 first: listen on both families, as Node does.
    let listener = gateway_tests::listen("::", 3210).await?;
    io.serve_with_shutdown(listener, axum::Router::new(), std::future::pending())
        .await
}
