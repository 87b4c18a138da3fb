//! Limits and clean-up in the Socket.IO layer, over a raw WebSocket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway_runtime::socketio::{ConnectError, SocketIo};
use gateway_runtime::testing::{serve_ephemeral, ClientError, TestClient};
use tokio_tungstenite::tungstenite::Message;

async fn serve(io: &SocketIo) -> SocketAddr {
    serve_ephemeral(io.router()).await.unwrap().0
}

#[tokio::test]
async fn empty_dynamic_children_are_dropped() {
    let io = SocketIo::builder().build();
    io.dynamic(|name| name.starts_with("/room-"))
        .on_connection(|_socket| async move {});
    let addr = serve(&io).await;
    let client = TestClient::connect(addr, "/socket.io/", "/room-1", None, "")
        .await
        .unwrap();
    assert!(io.namespaces().iter().any(|n| n.name() == "/room-1"));
    drop(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while io.namespaces().iter().any(|n| n.name() == "/room-1") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the empty child namespace stayed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The main namespace always exists and is never dropped.
    assert!(io.namespaces().iter().any(|n| n.name() == "/"));
}

#[tokio::test]
async fn refused_connections_do_not_leave_dynamic_children_behind() {
    let io = SocketIo::builder().build();
    io.dynamic(|name| name.starts_with("/room-"))
        .middleware(|_socket| async move { Err(ConnectError::new("no")) });
    let addr = serve(&io).await;
    for i in 0..20 {
        let err = TestClient::connect(addr, "/socket.io/", &format!("/room-{i}"), None, "")
            .await
            .unwrap_err();
        assert_eq!(err, ClientError::Refused("no".into(), None));
    }
    assert_eq!(io.namespaces().len(), 1, "only `/` remains");
}

#[tokio::test]
async fn a_panicking_middleware_refuses_with_an_internal_error() {
    let io = SocketIo::builder().build();
    io.of("/guarded").middleware(|socket| async move {
        let _ = socket
            .handshake()
            .headers()
            .get("x-missing")
            .map(|v| v.len())
            .unwrap_or_else(|| panic!("middleware bug"));
        Ok(())
    });
    let addr = serve(&io).await;
    let err = TestClient::connect(addr, "/socket.io/", "/guarded", None, "")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ClientError::Refused("Internal server error".into(), None)
    );
    // The connection and the server are fine: another namespace still works.
    assert!(TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .is_ok());
}

#[tokio::test]
async fn attachments_beyond_max_payload_close_the_connection() {
    let io = SocketIo::builder().max_payload(1000).build();
    io.of("/").on_connection(|_socket| async move {});
    let addr = serve(&io).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/socket.io/?EIO=4&transport=websocket"
    ))
    .await
    .unwrap();
    let _open = ws.next().await;
    ws.send(Message::Text("40".into())).await.unwrap();
    let _connected = ws.next().await;
    ws.send(Message::Text(r#"453-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#.into()))
        .await
        .unwrap();
    for _ in 0..3 {
        // Each part is under max_payload; together they are not.
        if ws
            .send(Message::Binary(vec![0u8; 600].into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(msg)) = ws.next().await {
            if matches!(msg, Message::Close(_)) {
                return true;
            }
        }
        true
    })
    .await;
    assert_eq!(closed, Ok(true));
    assert_eq!(io.connection_count(), 0);
}
