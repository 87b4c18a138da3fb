//! Connection limits at the handshake: in all, per address, and handshakes per address
//! per window. The refused client gets HTTP 403 with the reason; open sessions stay.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use gateway_runtime::socketio::{SocketIo, SocketIoBuilder};
use gateway_runtime::testing::{serve_ephemeral, TestClient};

async fn serve(builder: SocketIoBuilder) -> (SocketIo, SocketAddr) {
    let io = builder.build();
    io.of("/").on_connection(|_socket| async move {});
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    (io, addr)
}

/// A polling handshake: the status line and the body.
async fn handshake(addr: SocketAddr) -> (String, String) {
    common::polling_request(addr, "GET", "", "").await
}

async fn connect(addr: SocketAddr) -> Result<TestClient, String> {
    TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn connections_per_address_are_limited_and_freed() {
    let (io, addr) = serve(SocketIo::builder().max_connections_per_ip(2)).await;
    let a = connect(addr).await.unwrap();
    let _b = connect(addr).await.unwrap();
    let (status, body) = handshake(addr).await;
    assert!(status.contains("403"), "{status}");
    assert_eq!(
        body,
        r#"{"code":4,"message":"Too many connections from this address"}"#
    );
    assert!(connect(addr).await.is_err(), "a WebSocket handshake too");
    // One leaves: room for one more.
    a.close();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while io.connection_count() > 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(connect(addr).await.is_ok());
}

#[tokio::test]
async fn connections_in_all_are_limited() {
    let (_io, addr) = serve(SocketIo::builder().max_connections(1)).await;
    let _a = connect(addr).await.unwrap();
    let (status, body) = handshake(addr).await;
    assert!(status.contains("403"), "{status}");
    assert_eq!(body, r#"{"code":4,"message":"Too many connections"}"#);
}

#[tokio::test]
async fn handshakes_per_address_are_rate_limited() {
    let (_io, addr) =
        serve(SocketIo::builder().max_handshakes_per_ip(3, Duration::from_millis(400))).await;
    for _ in 0..3 {
        assert!(handshake(addr).await.0.contains("200"));
    }
    let (status, body) = handshake(addr).await;
    assert!(status.contains("403"), "{status}");
    assert_eq!(
        body,
        r#"{"code":4,"message":"Too many handshakes from this address"}"#
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(handshake(addr).await.0.contains("200"), "a new window");
}

/// The engine's own accept loop (what `App::serve` runs) answers WebSocket handshakes
/// before any HTTP stack: the limits hold there too.
#[tokio::test]
async fn the_accept_loop_applies_the_limits_to_websocket_handshakes() {
    let io = SocketIo::builder().max_connections_per_ip(1).build();
    io.of("/").on_connection(|_socket| async move {});
    let addr = common::serve_accept_loop(&io).await;
    let _a = connect(addr).await.unwrap();
    assert!(
        connect(addr).await.is_err(),
        "the second WebSocket is refused"
    );
    let (status, body) = handshake(addr).await;
    assert!(status.contains("403"), "{status}");
    assert!(
        body.contains("Too many connections from this address"),
        "{body}"
    );
}

/// A burst of concurrent handshakes from one address cannot get past the limit: each one
/// that is let in takes its place at once.
#[tokio::test]
async fn a_burst_of_handshakes_gets_no_more_than_the_limit() {
    let (io, addr) = serve(SocketIo::builder().max_connections_per_ip(3)).await;
    let answers = futures_util::future::join_all((0..30).map(|_| handshake(addr))).await;
    let admitted = answers.iter().filter(|(s, _)| s.contains("200")).count();
    assert_eq!(admitted, 3, "{answers:?}");
    assert_eq!(io.connection_count(), 3);
}
