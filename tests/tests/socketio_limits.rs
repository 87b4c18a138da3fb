//! Limits and clean-up in the Socket.IO layer, over a raw WebSocket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway_runtime::socketio::{ConnectError, SocketIo, SocketIoBuilder};
use gateway_runtime::testing::{serve_ephemeral, ClientError, TestClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// A new-namespace hook that panics is logged; the client gets in, and the child is
/// dropped once it leaves (nothing is left counted as connecting).
#[tokio::test]
async fn a_panicking_new_namespace_hook_leaves_nothing_behind() {
    let io = SocketIo::builder().build();
    io.dynamic(|name| name.starts_with("/room-"))
        .on_new_namespace(|_ns| async move { panic!("hook failed") });
    let addr = serve(&io).await;
    let client = TestClient::connect(addr, "/socket.io/", "/room-1", None, "")
        .await
        .unwrap();
    drop(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while io.namespaces().iter().any(|n| n.name() == "/room-1") {
        assert!(tokio::time::Instant::now() < deadline, "the child stayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

/// Handlers of `work` that wait for a permit, with what they saw.
struct Work {
    gate: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    peak: AtomicUsize,
    seen: Mutex<Vec<u64>>,
    done: AtomicUsize,
}

impl Work {
    /// A server whose `work` handler (argument: a number) waits for a permit, allowing
    /// `limit` pending handlers per connection.
    fn serve(limit: usize) -> (SocketIo, Arc<Work>) {
        Self::serve_with(SocketIo::builder().max_pending_handlers(limit))
    }

    fn serve_with(builder: SocketIoBuilder) -> (SocketIo, Arc<Work>) {
        let io = builder.build();
        let work = Arc::new(Work {
            gate: tokio::sync::Semaphore::new(0),
            waiting: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            done: AtomicUsize::new(0),
        });
        let shared = work.clone();
        io.of("/").on_connection(move |socket| {
            let work = shared.clone();
            async move {
                socket.on("work", move |_socket, args, _ack| {
                    let work = work.clone();
                    async move { work.run(args.get(0).unwrap()).await }
                });
            }
        });
        (io, work)
    }

    async fn run(&self, n: u64) {
        self.seen.lock().unwrap().push(n);
        let now = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.gate.acquire().await.unwrap().forget();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
    }

    async fn wait_done(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.done.load(Ordering::SeqCst) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} handled",
                self.done.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A client that sends faster than its handlers finish is slowed down, never dropped: at
/// most `max_pending_handlers` of its handlers wait at once (the rest of its messages stay
/// unread), and every event is handled, in order, once they finish.
#[tokio::test]
async fn pending_handlers_are_bounded_and_nothing_is_dropped() {
    let (io, work) = Work::serve(4);
    let addr = serve(&io).await;
    let client = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    for n in 0..50u64 {
        client.emit("work", &(n,)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        work.waiting.load(Ordering::SeqCst),
        4,
        "reading stops at the limit"
    );
    assert_eq!(work.seen.lock().unwrap().len(), 4);

    work.gate.add_permits(50);
    work.wait_done(50).await;
    assert!(work.peak.load(Ordering::SeqCst) <= 4);
    assert_eq!(*work.seen.lock().unwrap(), (0..50).collect::<Vec<_>>());
    // Reading resumed: the connection goes on as before.
    work.gate.add_permits(1);
    client.emit("work", &(50u64,)).unwrap();
    work.wait_done(51).await;
}

/// A connection with 100 ms heartbeats whose reading is held: 10 events sent, 2 handlers
/// waiting (the limit), the rest unread.
async fn held_connection() -> (SocketIo, Arc<Work>, TestClient) {
    let (io, work) = Work::serve_with(
        SocketIo::builder()
            .max_pending_handlers(2)
            .ping_interval(Duration::from_millis(100))
            .ping_timeout(Duration::from_millis(100)),
    );
    let addr = serve(&io).await;
    let client = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    for n in 0..10u64 {
        client.emit("work", &(n,)).unwrap();
    }
    (io, work, client)
}

/// While reading is held, the client's pongs wait unread with its other messages: the
/// session must not end for a ping timeout that is the server's own slowness.
#[tokio::test]
async fn a_held_connection_outlives_its_ping_timeout() {
    let (io, work, client) = held_connection().await;
    // Ping timeouts go by with reading held (the pong gets four more).
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(work.seen.lock().unwrap().len(), 2);
    assert_eq!(io.connection_count(), 1, "the session is still there");
    work.gate.add_permits(11);
    work.wait_done(10).await;
    client.emit("work", &(10u64,)).unwrap();
    work.wait_done(11).await;
    // Heartbeats go on normally once the handlers caught up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(io.connection_count(), 1);
}

/// ... but not forever: with its handlers stuck, a client that does not answer is found out.
#[tokio::test]
async fn a_connection_held_for_good_still_times_out() {
    let (io, work, _client) = held_connection().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while io.connection_count() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "never timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(work.seen.lock().unwrap().len(), 2);
    work.gate.add_permits(2);
}

/// Over long-polling the same limit holds the POST's answer until the handlers finish,
/// so the client sends nothing more meanwhile.
#[tokio::test]
async fn pending_handlers_hold_a_polling_post() {
    let (io, work) = Work::serve(2);
    let addr = serve(&io).await;
    let query = polling_session(addr).await;
    let events: Vec<String> = (0..6).map(|n| format!("42[\"work\",{n}]")).collect();
    let post = tokio::spawn({
        let (query, body) = (query.clone(), events.join("\u{1e}"));
        async move { http_request(addr, "POST", &query, &body).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !post.is_finished(),
        "the POST is answered only once reading resumes"
    );
    work.gate.add_permits(6);
    assert_eq!(post.await.unwrap(), "ok");
    work.wait_done(6).await;
    assert_eq!(*work.seen.lock().unwrap(), (0..6).collect::<Vec<_>>());
}

/// A POST held for backpressure is answered when the session closes meanwhile.
#[tokio::test]
async fn a_held_polling_post_ends_with_its_session() {
    let (io, work) = Work::serve(1);
    let addr = serve(&io).await;
    let query = polling_session(addr).await;
    let post = tokio::spawn({
        let query = query.clone();
        async move { http_request(addr, "POST", &query, "42[\"work\",0]\u{1e}42[\"work\",1]").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!post.is_finished(), "held while the handler waits");
    // A second POST at the same time is a protocol error: the session closes.
    http_request(addr, "POST", &query, "42[\"work\",2]").await;
    let answer = tokio::time::timeout(Duration::from_secs(2), post)
        .await
        .expect("the held POST is answered once the session closes");
    assert_eq!(answer.unwrap(), "ok");
    work.gate.add_permits(2);
}

/// Opens a polling session connected to `/`; returns its `sid=…` query.
async fn polling_session(addr: SocketAddr) -> String {
    let open = http_request(addr, "GET", "", "").await;
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a handshake")
        .to_string();
    let query = format!("sid={sid}");
    assert_eq!(http_request(addr, "POST", &query, "40").await, "ok");
    query
}

/// A polling request to the Socket.IO path; returns the body.
async fn http_request(addr: SocketAddr, method: &str, query: &str, body: &str) -> String {
    let sep = if query.is_empty() { "" } else { "&" };
    let request = format!(
        "{method} /socket.io/?EIO=4&transport=polling{sep}{query} HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
