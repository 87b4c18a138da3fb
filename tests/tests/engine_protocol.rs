//! Engine.IO rules where engine.io is the reference: a polling GET the client cancels ends
//! the session (the next request for it gets 400), and a ping from the client ("invalid
//! heartbeat direction" in v4) closes the connection.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway_runtime::socketio::SocketIo;
use gateway_runtime::testing::serve_ephemeral;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

async fn request(addr: SocketAddr, method: &str, query: &str, body: &str) -> (String, String) {
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

#[tokio::test]
async fn a_cancelled_poll_closes_the_session() {
    let io = SocketIo::builder().build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = io.clone();
    tokio::spawn(async move {
        let _ = serving
            .serve_with_shutdown(listener, axum::Router::new(), std::future::pending())
            .await;
    });
    let (_, open) = request(addr, "GET", "", "").await;
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let query = format!("&sid={sid}");
    // A GET that waits (nothing to send), then is given up by the client.
    let mut pending = tokio::net::TcpStream::connect(addr).await.unwrap();
    pending
        .write_all(
            format!(
                "GET /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: localhost\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(pending);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = request(addr, "GET", &query, "").await;
    assert!(status.contains("400"), "{status} {body}");
}

#[tokio::test]
async fn a_ping_from_the_client_closes_the_connection() {
    let io = SocketIo::builder().build();
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/socket.io/?EIO=4&transport=websocket"
    ))
    .await
    .unwrap();
    let _open = ws.next().await;
    ws.send(Message::Text("2".into())).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(msg)) = ws.next().await {
            assert!(
                !matches!(&msg, Message::Text(t) if t.as_str() == "3"),
                "answered with a pong"
            );
            if matches!(msg, Message::Close(_)) {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was closed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while io.connection_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session was removed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
