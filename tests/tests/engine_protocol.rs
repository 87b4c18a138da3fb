//! Engine.IO rules where engine.io is the reference: a polling GET the client cancels ends
//! the session (the next request for it gets 400), and a ping from the client ("invalid
//! heartbeat direction" in v4) closes the connection.

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway_runtime::socketio::SocketIo;
use gateway_runtime::testing::serve_ephemeral;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_cancelled_poll_closes_the_session() {
    let io = SocketIo::builder().build();
    let addr = common::serve_accept_loop(&io).await;
    let (_, open) = common::polling_request(addr, "GET", "", "").await;
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
    let (status, body) = common::polling_request(addr, "GET", &query, "").await;
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
