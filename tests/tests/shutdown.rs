//! Graceful shutdown: handlers still running finish (their acknowledgements reach the
//! clients) before the clients are disconnected.

use std::time::Duration;

use gateway_runtime::socketio::SocketIo;
use gateway_runtime::testing::{serve_ephemeral, TestClient};
use serde_json::json;

#[tokio::test]
async fn running_handlers_finish_before_clients_are_disconnected() {
    let io = SocketIo::builder().build();
    io.of("/").on_connection(|socket| async move {
        socket.on("slow", |_socket, _args, ack| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Some(ack) = ack {
                let _ = ack.send(&("done",));
            }
        });
    });
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    let mut client = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    let asked = tokio::spawn(async move {
        client
            .emit_with_ack("slow", &(), Duration::from_secs(3))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    io.shutdown(Duration::from_secs(4)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no longer than needed"
    );
    let answer = asked
        .await
        .unwrap()
        .expect("the ack arrived before the disconnect");
    assert_eq!(answer, vec![json!("done")]);
    assert_eq!(io.connection_count(), 0);
}

/// Orchestrators' checks: live while serving, ready until shutdown begins.
#[tokio::test]
async fn health_routes_say_ready_until_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn status(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }
    let io = SocketIo::builder().build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = io.clone();
    tokio::spawn(async move {
        let routes = axum::Router::new().merge(serving.health_routes());
        let _ = serving
            .serve_with_shutdown(listener, routes, std::future::pending())
            .await;
    });
    assert!(status(addr, "/health/live").await.contains("200"));
    assert!(status(addr, "/health/ready").await.contains("200"));
    assert!(io.is_ready());
    io.shutdown(Duration::from_millis(100)).await;
    assert!(!io.is_ready());
    assert!(status(addr, "/health/ready").await.contains("503"));
    assert!(status(addr, "/health/live").await.contains("200"));
}
