//! Helpers shared by the integration tests that speak raw HTTP to the engine.

use std::net::SocketAddr;

use gateway_runtime::socketio::SocketIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One long-polling request on its own connection (`query` is appended after
/// `?EIO=4&transport=polling`, e.g. `&sid=…`): the status line and the body.
pub async fn polling_request(
    addr: SocketAddr,
    method: &str,
    query: &str,
    body: &str,
) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Serves `io` with the engine's own accept loop (what `App::serve` runs) on an
/// ephemeral loopback port.
pub async fn serve_accept_loop(io: &SocketIo) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = io.clone();
    tokio::spawn(async move {
        let _ = serving
            .serve_with_shutdown(listener, axum::Router::new(), std::future::pending())
            .await;
    });
    addr
}
