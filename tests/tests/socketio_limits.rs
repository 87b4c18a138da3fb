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

/// A client that sends faster than its handlers finish is slowed down, never dropped: at
/// most `max_pending_handlers` of its handlers wait at once (the rest of its messages stay
/// unread), and every event is handled, in order, once they finish.
#[tokio::test]
async fn pending_handlers_are_bounded_and_nothing_is_dropped() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let io = SocketIo::builder().max_pending_handlers(4).build();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let waiting = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
    let done = Arc::new(AtomicUsize::new(0));
    {
        let (gate, waiting, peak, seen, done) = (
            gate.clone(),
            waiting.clone(),
            peak.clone(),
            seen.clone(),
            done.clone(),
        );
        io.of("/").on_connection(move |socket| {
            let (gate, waiting, peak, seen, done) = (
                gate.clone(),
                waiting.clone(),
                peak.clone(),
                seen.clone(),
                done.clone(),
            );
            async move {
                socket.on("work", move |_socket, args, _ack| {
                    let (gate, waiting, peak, seen, done) = (
                        gate.clone(),
                        waiting.clone(),
                        peak.clone(),
                        seen.clone(),
                        done.clone(),
                    );
                    async move {
                        seen.lock().unwrap().push(args.get(0).unwrap());
                        let now = waiting.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        gate.acquire().await.unwrap().forget();
                        waiting.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
    }
    let addr = serve(&io).await;
    let client = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    for n in 0..50u64 {
        client.emit("work", &(n,)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        waiting.load(Ordering::SeqCst),
        4,
        "reading stops at the limit"
    );
    assert_eq!(seen.lock().unwrap().len(), 4);

    gate.add_permits(50);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while done.load(Ordering::SeqCst) < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 50 handled",
            done.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        peak.load(Ordering::SeqCst) <= 4,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert_eq!(*seen.lock().unwrap(), (0..50).collect::<Vec<_>>());
    // Reading resumed: the connection goes on as before.
    gate.add_permits(1);
    client.emit("work", &(50u64,)).unwrap();
    while done.load(Ordering::SeqCst) < 51 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
