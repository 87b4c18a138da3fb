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
