//! The protocol conformance server: the contract the official Engine.IO and Socket.IO
//! protocol test suites run against.
//!
//! - `/engine.io/`: a bare Engine.IO v4 server echoing every message.
//! - `/socket.io/`: namespaces `/` and `/custom`; on connect the socket receives `auth`
//!   with its handshake auth; `message` is answered with `message-back` and the same
//!   arguments; `message-with-ack` is acknowledged with the same arguments.
//!
//! pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms, maxPayload 1 000 000.
//! Listens on 127.0.0.1:3000 (`PORT` overrides; `PORT=0` picks a free port).
//!
//! ```text
//! cargo run --release --example conformance
//! ```

use std::sync::Arc;
use std::time::Duration;

use gateway_runtime::engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, EngineSocket, Message,
};
use gateway_runtime::socketio::{Socket, SocketIo};

struct Echo;

impl EngineHandler for Echo {
    type Conn = ();
    fn on_open(&self, _: &Arc<EngineSocket>) {}
    fn on_message(&self, _: &(), socket: &Arc<EngineSocket>, message: Message) {
        let _ = socket.send_message(message);
    }
    fn on_close(&self, _: &(), _: &Arc<EngineSocket>, _: CloseReason) {}
}

fn timings() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        ..EngineConfig::default()
    }
}

async fn on_connect(socket: Socket) {
    let _ = socket.emit("auth", &socket.handshake().auth);
    socket.on("message", |socket, args, _ack| async move {
        let _ = socket.emit_args("message-back", &args);
    });
    socket.on("message-with-ack", |_socket, args, ack| async move {
        if let Some(ack) = ack {
            let _ = ack.send(&args);
        }
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let engine = Engine::new(
        Echo,
        EngineConfig {
            path: "/engine.io/".into(),
            ..timings()
        },
    );
    let io = SocketIo::builder()
        .engine_config(timings())
        .connect_timeout(Duration::from_millis(1000))
        .build();
    io.of("/").on_connection(on_connect);
    io.of("/custom").on_connection(on_connect);

    // /socket.io/ through the engine's own accept loop, /engine.io/ as a plain axum route.
    let routes = axum::Router::new().merge(engine.router());
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    io.serve_with_shutdown(listener, routes, std::future::pending())
        .await
}
