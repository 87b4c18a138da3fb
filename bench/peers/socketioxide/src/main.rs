//! socketioxide peer for the benchmark suite: the same contract as
//! `examples/bench_server.rs` of the project.
//!
//! Listens on 127.0.0.1:$PORT (default 3000), path `/socket.io/`, namespace `/`:
//! - `echo` with one argument and an ack -> acknowledged with that argument;
//! - `broadcast` with one argument -> `bcast` with it to every socket, sender included.
//!
//! ```text
//! PORT=3000 cargo run --release
//! ```

use axum::serve::ListenerExt;
use serde_json::Value;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;

/// `BENCH_RUNTIME=current_thread` selects tokio's current-thread runtime, as for ours.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = match std::env::var("BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        _ => tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
    };
    runtime.block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    // The outgoing queue per connection is bounded like the project's server
    // (max_buffered_packets = 10 000); socketioxide's default is 128 packets.
    let (layer, io) = SocketIo::builder().max_buffer_size(10_000).build_layer();
    io.ns("/", async |socket: SocketRef| {
        socket.on("echo", async |Data::<Value>(data), ack: AckSender| {
            let _ = ack.send(&data);
        });
        socket.on("broadcast", async |io: SocketIo, Data::<Value>(data)| {
            let _ = io.emit("bcast", &data).await;
        });
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
