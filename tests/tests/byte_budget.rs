//! The outgoing byte budget and the buffers that return to their resting size, over raw
//! WebSockets (a client that stops reading is something the official client cannot be
//! made to do reliably).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway_runtime::socketio::SocketIo;
use gateway_runtime::testing::serve_ephemeral;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<tokio::net::TcpStream>;

/// A raw WebSocket connected to `/` (the OPEN packet and the CONNECT answer read). Its
/// kernel receive buffer is fixed at 64 KiB: with autotuning, a client that does not read
/// could hold tens of megabytes in the kernel (`net.ipv4.tcp_rmem`), and the server's
/// budget would not be what fills first.
async fn connect(addr: SocketAddr) -> Ws {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
        stream,
    )
    .await
    .unwrap();
    let _open = ws.next().await;
    ws.send(Message::Text("40".into())).await.unwrap();
    loop {
        if let Some(Ok(Message::Text(t))) = ws.next().await {
            if t.starts_with("40") {
                return ws;
            }
        }
    }
}

fn server(budget: usize) -> (SocketIo, mpsc::UnboundedReceiver<String>) {
    let io = SocketIo::builder()
        .max_buffered_bytes(budget)
        .ping_interval(Duration::from_secs(1))
        .ping_timeout(Duration::from_secs(1))
        .build();
    let (tx, rx) = mpsc::unbounded_channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on_disconnect(move |_, reason| async move {
                let _ = tx.send(reason.to_string());
            });
        }
    });
    (io, rx)
}

/// A client that stops reading while the server broadcasts 30 MB (more than the
/// kernel's socket buffers) is closed with "outgoing buffer full"; a client that reads
/// gets every packet.
#[tokio::test]
async fn a_client_that_stops_reading_is_closed_when_its_budget_is_full() {
    let (io, mut reasons) = server(1_000_000);
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    let slow = connect(addr).await;
    let mut reader = connect(addr).await;
    // The reader keeps reading (and answering pings) after the 300th packet, so that its
    // own session stays up while the slow one's close is awaited.
    let (counted_tx, counted) = tokio::sync::oneshot::channel();
    let reading = tokio::spawn(async move {
        let mut news = 0;
        let mut counted_tx = Some(counted_tx);
        while let Some(Ok(msg)) = reader.next().await {
            match msg {
                Message::Text(t) if t.starts_with("42[\"news\"") => {
                    news += 1;
                    if news == 300 {
                        if let Some(tx) = counted_tx.take() {
                            let _ = tx.send(news);
                        }
                    }
                }
                Message::Text(t) if t.as_str() == "2" => {
                    let _ = reader.send(Message::Text("3".into())).await;
                }
                _ => {}
            }
        }
        news
    });
    let data = "x".repeat(100_000);
    for _ in 0..300 {
        let _ = io.of("/").emit("news", &data);
        tokio::task::yield_now().await;
    }
    let reason = tokio::time::timeout(Duration::from_secs(10), reasons.recv())
        .await
        .expect("the slow client is disconnected");
    assert_eq!(reason.as_deref(), Some("outgoing buffer full"));
    let news = tokio::time::timeout(Duration::from_secs(10), counted)
        .await
        .expect("the reader got everything")
        .unwrap();
    assert_eq!(news, 300, "the reading client lost nothing");
    assert!(
        !reading.is_finished(),
        "the reading client is still connected"
    );
    reading.abort();
    drop(slow);
}

/// Small answers to a client that reads never come near the budget, however many.
#[tokio::test]
async fn a_reading_client_is_never_closed_by_the_budget() {
    let (io, mut reasons) = server(64 * 1024);
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    let mut ws = connect(addr).await;
    let data = "y".repeat(1000);
    for round in 0..200 {
        let _ = io.of("/").emit("tick", &data);
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("closed at round {round}");
        };
        assert!(t.starts_with("42[\"tick\""));
    }
    assert!(reasons.try_recv().is_err(), "nobody was disconnected");
}

/// The smallest budgets still work: one packet at a time is always let through, and the
/// connection neither spins nor stalls.
#[tokio::test]
async fn a_budget_of_one_byte_still_carries_one_packet_at_a_time() {
    let (io, mut reasons) = server(1);
    io.of("/").on_connection(|socket| async move {
        socket.on("echo", |_socket, args, ack| async move {
            if let Some(ack) = ack {
                let _ = ack.send(&args);
            }
        });
    });
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    let mut ws = connect(addr).await;
    for i in 0..5 {
        ws.send(Message::Text(format!("42{i}[\"echo\",{i}]").into()))
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                if let Some(Ok(Message::Text(t))) = ws.next().await {
                    if t.starts_with("43") {
                        return t.to_string();
                    }
                }
            }
        })
        .await
        .expect("an answer");
        assert_eq!(answer, format!("43{i}[{i}]"));
    }
    assert!(reasons.try_recv().is_err(), "nobody was disconnected");
}
