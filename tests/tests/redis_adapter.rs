//! The Redis adapter against a real `redis-server`: two in-process servers, each with its
//! own `RedisAdapter`, and raw WebSocket Socket.IO clients.
//!
//! `redis-server` is found through `REDIS_SERVER_BIN`, else on `PATH`, else in
//! /usr/bin, /usr/sbin, /usr/local/bin. Each test starts its own on a free loopback port.
#![cfg(feature = "redis")]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway_runtime::adapter::redis::{RedisAdapter, RedisConfig};
use gateway_runtime::adapter::Room;
use gateway_runtime::engine::Sid;
use gateway_runtime::socketio::{Args, Binary, Socket, SocketIo};
use gateway_runtime::testing::TestClient;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

// -----------------------------------------------------------------------------------------
// redis-server
// -----------------------------------------------------------------------------------------

fn redis_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("REDIS_SERVER_BIN") {
        return bin.into();
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("redis-server"))
                .collect()
        })
        .unwrap_or_default();
    candidates.extend(
        ["/usr/bin", "/usr/sbin", "/usr/local/bin"]
            .iter()
            .map(|d| PathBuf::from(d).join("redis-server")),
    );
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found: install it (Debian: apt-get install redis-server) or set \
             REDIS_SERVER_BIN"
            )
        })
}

/// A `redis-server` on a loopback port, killed on drop.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer { port, child: None };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        let child = Command::new(redis_server_bin())
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ping(self.port).await {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ping(port: u16) -> bool {
    let Ok(Ok(mut stream)) = timeout(
        Duration::from_millis(200),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    matches!(
        timeout(Duration::from_millis(200), stream.read_exact(&mut buf)).await,
        Ok(Ok(_)) if &buf == b"+PONG\r\n"
    )
}

// -----------------------------------------------------------------------------------------
// Nodes
// -----------------------------------------------------------------------------------------

struct Node {
    io: SocketIo,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn config(url: &str) -> RedisConfig {
    RedisConfig::new(url)
        .requests_timeout(Duration::from_millis(1500))
        .retry_delays(Duration::from_millis(50), Duration::from_millis(400))
        .health_check_interval(Duration::from_secs(1))
}

impl Node {
    async fn start(config: RedisConfig) -> Node {
        let io = SocketIo::builder()
            .adapter(RedisAdapter::factory(config).unwrap())
            .build();
        io.of("/").on_connection(|_socket| async move {});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().merge(io.router());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Node { io, addr, task }
    }

    fn socket(&self, client: &Client) -> Socket {
        self.io
            .of("/")
            .get_socket(Sid::parse(&client.id).unwrap())
            .expect("socket on this node")
    }

    async fn server_count(&self) -> Result<usize, String> {
        self.io
            .of("/")
            .adapter()
            .server_count()
            .await
            .map_err(|e| e.to_string())
    }
}

/// Waits until every node sees `n` nodes.
async fn wait_nodes(nodes: &[&Node], n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut ok = true;
        for node in nodes {
            ok &= node.server_count().await == Ok(n);
        }
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "the nodes never saw {n} nodes");
        sleep(Duration::from_millis(25)).await;
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

// -----------------------------------------------------------------------------------------
// A raw WebSocket Socket.IO client (namespace "/")
// -----------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Received {
    Event {
        name: String,
        args: Vec<Value>,
        binary: Vec<Vec<u8>>,
    },
    Disconnect,
}

#[derive(Clone)]
enum AckAnswer {
    /// Answers acks with this string.
    Text(String),
    /// Answers acks with one binary attachment.
    Binary(Vec<u8>),
}

struct Client {
    id: String,
    events: mpsc::UnboundedReceiver<Received>,
    _task: tokio::task::JoinHandle<()>,
}

/// Splits `<digits>` off the front of `s`.
fn take_digits(s: &str) -> (Option<u64>, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        (None, s)
    } else {
        (s[..n].parse().ok(), &s[n..])
    }
}

impl Client {
    async fn connect(node: &Node, answer: AckAnswer) -> Client {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", node.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let (mut sink, mut stream) = ws.split();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (sid_tx, sid_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut sid_tx = Some(sid_tx);
            let mut pending: Option<(String, u64, Vec<Vec<u8>>)> = None;
            while let Some(Ok(msg)) = stream.next().await {
                let text = match msg {
                    Message::Binary(bytes) => {
                        if let Some((json, missing, mut parts)) = pending.take() {
                            parts.push(bytes.to_vec());
                            if missing > 1 {
                                pending = Some((json, missing - 1, parts));
                            } else {
                                deliver(&json, parts, &events_tx);
                            }
                        }
                        continue;
                    }
                    Message::Text(t) => t.to_string(),
                    _ => continue,
                };
                if text == "2" {
                    let _ = sink.send(Message::text("3")).await;
                    continue;
                }
                if text.starts_with('0') {
                    let _ = sink.send(Message::text("40")).await;
                    continue;
                }
                let Some(packet) = text.strip_prefix('4') else {
                    continue;
                };
                match packet.as_bytes().first() {
                    Some(b'0') => {
                        let body: Value = serde_json::from_str(&packet[1..]).unwrap();
                        if let Some(tx) = sid_tx.take() {
                            let _ = tx.send(body["sid"].as_str().unwrap().to_owned());
                        }
                    }
                    Some(b'1') => {
                        let _ = events_tx.send(Received::Disconnect);
                    }
                    Some(b'2') => {
                        let (id, json) = take_digits(&packet[1..]);
                        if let Some(id) = id {
                            let _ = sink.send(ack_message(&answer, id)).await;
                            if let AckAnswer::Binary(bytes) = &answer {
                                let _ = sink.send(Message::binary(bytes.clone())).await;
                            }
                        }
                        deliver(json, Vec::new(), &events_tx);
                    }
                    Some(b'5') => {
                        let (count, rest) = take_digits(&packet[1..]);
                        let rest = rest.strip_prefix('-').unwrap();
                        let (id, json) = take_digits(rest);
                        if let Some(id) = id {
                            let _ = sink.send(ack_message(&answer, id)).await;
                            if let AckAnswer::Binary(bytes) = &answer {
                                let _ = sink.send(Message::binary(bytes.clone())).await;
                            }
                        }
                        pending = Some((json.to_owned(), count.unwrap(), Vec::new()));
                    }
                    _ => {}
                }
            }
        });
        let id = timeout(WAIT, sid_rx).await.unwrap().unwrap();
        Client {
            id,
            events,
            _task: task,
        }
    }

    async fn next(&mut self) -> Received {
        timeout(WAIT, self.events.recv())
            .await
            .expect("no event in time")
            .expect("client closed")
    }

    /// The next event, which must be `name`; returns its arguments.
    async fn expect(&mut self, name: &str) -> Vec<Value> {
        match self.next().await {
            Received::Event { name: n, args, .. } if n == name => args,
            other => panic!("expected '{name}', got {other:?}"),
        }
    }

    /// Every event received before `marker` (which is consumed).
    async fn until(&mut self, marker: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.next().await {
                Received::Event { name, .. } if name == marker => return seen,
                Received::Event { name, .. } => seen.push(name),
                Received::Disconnect => seen.push("<disconnect>".into()),
            }
        }
    }
}

fn ack_message(answer: &AckAnswer, id: u64) -> Message {
    match answer {
        AckAnswer::Text(t) => Message::text(format!("43{id}{}", json!([t]))),
        AckAnswer::Binary(_) => {
            Message::text(format!("461-{id}[{{\"_placeholder\":true,\"num\":0}}]"))
        }
    }
}

fn deliver(json: &str, binary: Vec<Vec<u8>>, tx: &mpsc::UnboundedSender<Received>) {
    let Ok(Value::Array(mut items)) = serde_json::from_str::<Value>(json) else {
        return;
    };
    if items.is_empty() {
        return;
    }
    let name = items.remove(0).as_str().unwrap_or_default().to_owned();
    let _ = tx.send(Received::Event {
        name,
        args: items,
        binary,
    });
}

fn answers(list: &[Args]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .map(|a| a.get::<String>(0).unwrap_or_default())
        .collect();
    out.sort();
    out
}

/// Two nodes on one Redis, with clients a1, a2 on the first and b1, b2 on the second.
async fn cluster(redis: &RedisServer) -> (Node, Node, [Client; 4]) {
    let a = Node::start(config(&redis.url())).await;
    let b = Node::start(config(&redis.url())).await;
    let a1 = Client::connect(&a, AckAnswer::Text("a1".into())).await;
    let a2 = Client::connect(&a, AckAnswer::Text("a2".into())).await;
    let b1 = Client::connect(&b, AckAnswer::Text("b1".into())).await;
    let b2 = Client::connect(&b, AckAnswer::Text("b2".into())).await;
    wait_nodes(&[&a, &b], 2).await;
    (a, b, [a1, a2, b1, b2])
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

// -----------------------------------------------------------------------------------------
// Tests
// -----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_every_node_once_with_rooms_except_and_local() {
    init_tracing();
    let redis = RedisServer::start().await;
    let (a, b, [mut a1, mut a2, mut b1, mut b2]) = cluster(&redis).await;
    let ns_a = a.io.of("/");
    let ns_b = b.io.of("/");
    a.socket(&a1).join("red");
    b.socket(&b1).join("red");
    b.socket(&b2).join("blue");
    // The room joins are local bookkeeping: nothing to wait for.

    ns_a.emit("all", &1).unwrap();
    ns_b.to("red").emit("red", &2).unwrap();
    ns_a.except("red").emit("not-red", &3).unwrap();
    ns_b.local().emit("local-b", &4).unwrap();
    ns_a.to("red").to("blue").emit("red-or-blue", &5).unwrap();
    ns_a.to("blue")
        .except("red")
        .emit("blue-not-red", &6)
        .unwrap();
    // from a socket: everyone but itself, on every node
    a.socket(&a1).broadcast().emit("from-a1", &7).unwrap();
    b.socket(&b1).to("red").emit("b1-to-red", &8).unwrap();
    // own id rooms across nodes
    ns_a.to(b2.id.as_str()).emit("to-b2", &9).unwrap();
    // markers, after everything else from both nodes
    ns_a.emit("end-a", &()).unwrap();
    ns_b.emit("end-b", &()).unwrap();

    let mut got = Vec::new();
    for client in [&mut a1, &mut a2, &mut b1, &mut b2] {
        let mut from_a = client.until("end-a").await;
        // events of b published before "end-b" may come after "end-a": collect to "end-b"
        // unless already seen.
        if !from_a.contains(&"end-b".to_owned()) {
            from_a.extend(client.until("end-b").await);
        } else {
            from_a.retain(|e| e != "end-b");
        }
        from_a.sort();
        got.push(from_a);
    }
    let sorted = |v: &[&str]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(got[0], sorted(&["all", "red", "red-or-blue", "b1-to-red"]));
    assert_eq!(got[1], sorted(&["all", "not-red", "from-a1"]));
    assert_eq!(
        got[2],
        sorted(&["all", "red", "local-b", "red-or-blue", "from-a1"])
    );
    assert_eq!(
        got[3],
        sorted(&[
            "all",
            "not-red",
            "local-b",
            "red-or-blue",
            "blue-not-red",
            "from-a1",
            "to-b2"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_and_binary_survive_the_trip() {
    init_tracing();
    let redis = RedisServer::start().await;
    let (a, _b, [_a1, _a2, mut b1, _b2]) = cluster(&redis).await;
    let payload = json!({"z": 1, "a": [1.5, null, true, "é"], "m": {"k": -3}});
    a.io.of("/")
        .broadcast()
        .emit_args(
            "data",
            &(
                &payload,
                Binary::from(vec![0u8, 1, 2, 255]),
                vec![Binary::from(Vec::new()), Binary::from(vec![7u8; 70_000])],
            ),
        )
        .unwrap();
    match b1.next().await {
        Received::Event { name, args, binary } => {
            assert_eq!(name, "data");
            assert_eq!(args[0], payload);
            assert_eq!(args[1], json!({"_placeholder": true, "num": 0}));
            assert_eq!(
                binary,
                vec![vec![0, 1, 2, 255], Vec::new(), vec![7u8; 70_000]]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_join_leave_fetch_and_disconnect() {
    init_tracing();
    let redis = RedisServer::start().await;
    let (a, b, [a1, a2, b1, mut b2]) = cluster(&redis).await;
    let ns_a = a.io.of("/");
    let ns_b = b.io.of("/");

    // join everyone from A, then check on B
    ns_a.broadcast().sockets_join(&[Room::from("all-x")]);
    eventually("remote join", || {
        b.socket(&b1).rooms().contains(&Room::from("all-x"))
            && b.socket(&b2).rooms().contains(&Room::from("all-x"))
    })
    .await;
    assert!(a.socket(&a1).rooms().contains(&Room::from("all-x")));

    // fetch_sockets from B sees the four with their rooms
    let list = ns_b.to("all-x").fetch_sockets().await.unwrap();
    let ids: HashSet<String> = list.iter().map(|s| s.id.to_string()).collect();
    let expected: HashSet<String> = [&a1, &a2, &b1, &b2].iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, expected);
    let a1_info = list.iter().find(|s| s.id.as_str() == a1.id).unwrap();
    assert!(a1_info.rooms.contains(&Room::from("all-x")));
    assert!(a1_info.rooms.contains(&Room::from(a1.id.as_str())));

    // targeted leave from B: only a2 leaves
    ns_b.to(a2.id.as_str())
        .sockets_leave(&[Room::from("all-x")]);
    eventually("remote leave", || {
        !a.socket(&a2).rooms().contains(&Room::from("all-x"))
    })
    .await;
    assert!(a.socket(&a1).rooms().contains(&Room::from("all-x")));
    let list = ns_a.to("all-x").fetch_sockets().await.unwrap();
    assert_eq!(list.len(), 3);
    // local flag: only this node's sockets
    assert_eq!(ns_a.local().fetch_sockets().await.unwrap().len(), 2);

    // all rooms and server count
    let rooms = ns_a.adapter().remote_rooms().await.unwrap();
    assert!(rooms.contains(&Room::from("all-x")));
    assert!(rooms.contains(&Room::from(b1.id.as_str())));
    assert_eq!(a.server_count().await, Ok(2));

    // disconnect from A, a socket on B
    ns_a.to(b2.id.as_str()).disconnect_sockets(false);
    assert_eq!(b2.next().await, Received::Disconnect);
    eventually("remote disconnect", || {
        ns_b.get_socket(Sid::parse(&b2.id).unwrap()).is_none()
    })
    .await;
    assert_eq!(ns_a.broadcast().fetch_sockets().await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_acks_are_gathered_from_every_node() {
    init_tracing();
    let redis = RedisServer::start().await;
    let (a, b, [a1, _a2, b1, _b2]) = cluster(&redis).await;
    let mut b3 = Client::connect(&b, AckAnswer::Binary(vec![9, 8, 7])).await;
    let ns_a = a.io.of("/");

    let all = ns_a
        .broadcast()
        .timeout(Duration::from_secs(3))
        .emit_with_ack("ask", &(1,))
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let mut texts = answers(&all);
    texts.retain(|t| !t.is_empty());
    assert_eq!(texts, vec!["a1", "a2", "b1", "b2"]);
    let binary: Vec<Binary> = all.iter().filter_map(|a| a.get::<Binary>(0).ok()).collect();
    assert_eq!(binary, vec![Binary::from(vec![9u8, 8, 7])]);
    b3.expect("ask").await;

    // rooms and except
    a.socket(&a1).join("q");
    b.socket(&b1).join("q");
    let some = ns_a
        .to("q")
        .timeout(Duration::from_secs(3))
        .emit_with_ack("ask", &())
        .await
        .unwrap();
    assert_eq!(answers(&some), vec!["a1", "b1"]);
    let from_b = b
        .socket(&b1)
        .broadcast()
        .except("q")
        .timeout(Duration::from_secs(3))
        .emit_with_ack("ask", &())
        .await
        .unwrap();
    assert_eq!(from_b.len(), 3); // a2, b2, b3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_time_out_when_a_node_does_not_answer() {
    init_tracing();
    let redis = RedisServer::start().await;
    let (a, b, _clients) = cluster(&redis).await;
    // A silent node: subscribed to the request channel, never answers.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut silent = client.get_async_pubsub().await.unwrap();
    silent.subscribe("socket.io-request#/#").await.unwrap();
    wait_nodes(&[&a, &b], 3).await;

    let started = Instant::now();
    let err = a.io.of("/").broadcast().fetch_sockets().await.unwrap_err();
    assert!(err.to_string().contains("timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(a.io.of("/").adapter().remote_rooms().await.is_err());
    let err =
        a.io.of("/")
            .broadcast()
            .timeout(Duration::from_secs(3))
            .emit_with_ack("ask", &())
            .await
            .unwrap_err();
    // the operator stops early on an adapter error, with the answers gathered so far
    assert!(err.responses.len() >= 2, "{err}");

    drop(silent);
    wait_nodes(&[&a, &b], 2).await;
    assert_eq!(
        a.io.of("/")
            .broadcast()
            .fetch_sockets()
            .await
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_events_reach_the_other_nodes_and_come_back_answered() {
    init_tracing();
    let redis = RedisServer::start().await;
    let a = Node::start(config(&redis.url())).await;
    let b = Node::start(config(&redis.url())).await;
    let c = Node::start(config(&redis.url())).await;
    wait_nodes(&[&a, &b, &c], 3).await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(String, Vec<Value>)>();
    for (name, node) in [("a", &a), ("b", &b), ("c", &c)] {
        let seen_tx = seen_tx.clone();
        node.io.on_server_side("hello", move |args, ack| {
            let seen_tx = seen_tx.clone();
            async move {
                let values: Vec<Value> = (0..args.len()).map(|i| args.get(i).unwrap()).collect();
                let _ = seen_tx.send((name.to_owned(), values.clone()));
                if let Some(ack) = ack {
                    ack.send(&json!({ "node": name, "got": values })).unwrap();
                }
            }
        });
    }

    // Without acks: every other node's listener runs once, the sender's does not.
    a.io.of("/")
        .server_side_emit("hello", &(1, "two", json!({ "three": [3] })))
        .unwrap();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let (node, values) = timeout(WAIT, seen.recv()).await.unwrap().unwrap();
        assert_eq!(values, [json!(1), json!("two"), json!({ "three": [3] })]);
        nodes.push(node);
    }
    nodes.sort();
    assert_eq!(nodes, ["b", "c"]);

    // With acks: one answer from each other node.
    let answers =
        b.io.of("/")
            .server_side_emit_with_ack("hello", &("ping",), Duration::from_secs(3))
            .await
            .unwrap();
    let mut answers: Vec<Value> = answers.iter().map(|a| a.get(0).unwrap()).collect();
    answers.sort_by_key(|a| a["node"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        answers,
        [
            json!({ "node": "a", "got": ["ping"] }),
            json!({ "node": "c", "got": ["ping"] })
        ]
    );
    while seen.try_recv().is_ok() {}

    // A node whose listener never answers: the others' answers arrive with the timeout.
    c.io.of("/")
        .on_server_side("hello", |_args, _ack| async move {});
    let err =
        a.io.of("/")
            .server_side_emit_with_ack("hello", &(), Duration::from_millis(800))
            .await
            .unwrap_err();
    assert_eq!(err.responses.len(), 1, "{err}");
    assert_eq!(err.responses[0].get::<Value>(0).unwrap()["node"], "b");

    // Binary values do not travel between nodes.
    assert!(a
        .io
        .of("/")
        .server_side_emit("hello", &(Binary::from(vec![1u8]),))
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_of_a_dynamic_namespace_hear_server_side_events() {
    init_tracing();
    let redis = RedisServer::start().await;
    let a = Node::start(config(&redis.url())).await;
    let b = Node::start(config(&redis.url())).await;
    wait_nodes(&[&a, &b], 2).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    b.io.dynamic(|name| name.starts_with("/team-"))
        .on_server_side("hello", move |args, ack| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(args.get::<String>(0).unwrap());
                if let Some(ack) = ack {
                    ack.send(&"hi from b").unwrap();
                }
            }
        });
    let _member = TestClient::connect(b.addr, "/socket.io/", "/team-1", None, "")
        .await
        .unwrap();
    let team = a.io.of("/team-1");
    let deadline = Instant::now() + WAIT;
    let answers = loop {
        // Both nodes subscribe in the background (b's child when its first client
        // arrived): ask until b answers.
        match team
            .server_side_emit_with_ack("hello", &("from a",), Duration::from_millis(500))
            .await
        {
            Ok(answers) if !answers.is_empty() => break answers,
            other => assert!(Instant::now() < deadline, "{other:?}"),
        }
        sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].get::<String>(0).unwrap(), "hi from b");
    assert_eq!(rx.recv().await.unwrap(), "from a");
}

/// `PUBSUB NUMSUB channel` and `PUBSUB NUMPAT`.
async fn subscribers(conn: &mut redis::aio::MultiplexedConnection, channel: &str) -> (i64, i64) {
    let (_, numsub): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(conn)
        .await
        .unwrap();
    let numpat: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query_async(conn)
        .await
        .unwrap();
    (numsub, numpat)
}

/// Waits until `subscribers(channel)` is `want`.
async fn wait_subscribers(
    conn: &mut redis::aio::MultiplexedConnection,
    channel: &str,
    want: (i64, i64),
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = subscribers(conn, channel).await;
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{channel}: (numsub, numpat) {now:?}, not {want:?}"
        );
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_dynamic_namespace_gives_up_its_subscriptions() {
    init_tracing();
    let redis = RedisServer::start().await;
    let node = Node::start(config(&redis.url())).await;
    node.io.dynamic(|name| name.starts_with("/room-"));
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let requests = "socket.io-request#/room-1#";
    // "/" alone: its broadcast pattern.
    wait_subscribers(&mut conn, requests, (0, 1)).await;

    for _ in 0..2 {
        let user = TestClient::connect(node.addr, "/socket.io/", "/room-1", None, "")
            .await
            .unwrap();
        wait_subscribers(&mut conn, requests, (1, 2)).await;
        user.close();
        // The last socket gone, the namespace is dropped and so are its channels; the
        // second round shows a namespace of the same name subscribes again.
        wait_subscribers(&mut conn, requests, (0, 1)).await;
    }
    assert!(node.io.namespaces().iter().all(|ns| ns.name() != "/room-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_messages_match_the_official_adapter() {
    init_tracing();
    let redis = RedisServer::start().await;
    let (a, _b, [_a1, _a2, mut b1, _b2]) = cluster(&redis).await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut spy = client.get_async_pubsub().await.unwrap();
    spy.psubscribe("socket.io#/#*").await.unwrap();
    let mut messages = spy.on_message();

    a.io.of("/").to("room1").emit("e", &"x").unwrap();
    let msg = timeout(WAIT, messages.next()).await.unwrap().unwrap();
    assert_eq!(msg.get_channel_name(), "socket.io#/#room1#");
    a.io.of("/").to("r1").to("r2").emit("e", &"x").unwrap();
    let msg = timeout(WAIT, messages.next()).await.unwrap().unwrap();
    assert_eq!(msg.get_channel_name(), "socket.io#/#");
    // [uid, {type: 2, data: ["e", "x"], nsp: "/"}, {rooms: ["r1", "r2"], except: [], flags: {}}]
    let payload = msg.get_payload_bytes();
    let tail: Vec<u8> = [
        &[0x83, 0xa4][..],
        b"type",
        &[0x02, 0xa4],
        b"data",
        &[0x92, 0xa1, b'e', 0xa1, b'x', 0xa3],
        b"nsp",
        &[0xa1, b'/', 0x83, 0xa5],
        b"rooms",
        &[0x92, 0xa2, b'r', b'1', 0xa2, b'r', b'2', 0xa6],
        b"except",
        &[0x90, 0xa5],
        b"flags",
        &[0x80],
    ]
    .concat();
    assert_eq!(payload[0], 0x93);
    assert!(payload.ends_with(&tail), "{payload:02x?}");
    a.io.of("/").broadcast().volatile().emit("v", &()).unwrap();
    let msg = timeout(WAIT, messages.next()).await.unwrap().unwrap();
    let volatile_flag: Vec<u8> =
        [&[0xa5][..], b"flags", &[0x81, 0xa8], b"volatile", &[0xc3]].concat();
    assert!(msg.get_payload_bytes().ends_with(&volatile_flag));
    b1.expect("v").await;
    drop(messages);

    // A broadcast written by Node's notepack.io:
    // ["nodeUid", {type: 2, data: ["hello", Buffer.from([1, 2])], nsp: "/"},
    //  {rooms: [], except: [], flags: {}}]
    let node_message: Vec<u8> = [
        &[0x93, 0xa7][..],
        b"nodeUid",
        &[0x83, 0xa4],
        b"type",
        &[0x02, 0xa4],
        b"data",
        &[0x92, 0xa5],
        b"hello",
        &[0xc4, 0x02, 0x01, 0x02, 0xa3],
        b"nsp",
        &[0xa1, b'/', 0x83, 0xa5],
        b"rooms",
        &[0x90, 0xa6],
        b"except",
        &[0x90, 0xa5],
        b"flags",
        &[0x80],
    ]
    .concat();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg("socket.io#/#")
        .arg(node_message)
        .query_async(&mut conn)
        .await
        .unwrap();
    match b1.next().await {
        Received::Event { name, binary, .. } => {
            assert_eq!(name, "hello");
            assert_eq!(binary, vec![vec![1, 2]]);
        }
        other => panic!("unexpected {other:?}"),
    }

    // A JSON remote-join request, as Node writes it.
    let request = json!({
        "uid": "nodeUid", "type": 2,
        "opts": {"rooms": [b1.id], "except": []}, "rooms": ["from-node"]
    });
    let _: i64 = redis::cmd("PUBLISH")
        .arg("socket.io-request#/#")
        .arg(request.to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    eventually("join requested by a Node node", || {
        _b.socket(&b1).rooms().contains(&Room::from("from-node"))
    })
    .await;
}

/// Counts the adapter's outage and recovery log lines.
#[derive(Clone, Default)]
struct LogCounter {
    lost: Arc<AtomicUsize>,
    back: Arc<AtomicUsize>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if *event.metadata().level() == tracing::Level::ERROR
            && message.0.contains("connection to Redis lost")
        {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        if message.0.contains("reconnected to Redis") {
            self.back.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn redis_restart_keeps_local_delivery_and_recovers() {
    use tracing_subscriber::layer::SubscriberExt;
    let counter = LogCounter::default();
    let subscriber = tracing_subscriber::registry().with(counter.clone());
    // A current-thread runtime: every task logs through this thread's subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut redis = RedisServer::start().await;
        let (a, b, [mut a1, mut a2, mut b1, _b2]) = cluster(&redis).await;
        let ns_a = a.io.of("/");

        redis.kill();
        // Local delivery keeps working while Redis is down...
        for i in 0..20 {
            ns_a.emit("during", &i).unwrap();
        }
        ns_a.emit("end", &()).unwrap();
        assert_eq!(a1.until("end").await.len(), 20);
        assert_eq!(a2.until("end").await.len(), 20);
        // ...cluster-wide requests fail promptly, and nothing panics.
        let started = Instant::now();
        assert!(ns_a.broadcast().fetch_sockets().await.is_err());
        assert!(a.server_count().await.is_err());
        assert!(ns_a
            .broadcast()
            .timeout(Duration::from_secs(1))
            .emit_with_ack("ask", &())
            .await
            .is_err());
        assert!(started.elapsed() < Duration::from_secs(4));
        a.socket(&a1).join("still-works");
        assert!(a.socket(&a1).rooms().contains(&Room::from("still-works")));
        sleep(Duration::from_millis(600)).await; // a few reconnection attempts

        redis.restart().await;
        wait_nodes(&[&a, &b], 2).await;
        // Cross-node delivery is back, both ways (subscriptions restored on both nodes).
        let deadline = Instant::now() + WAIT;
        let (mut seen_a, mut seen_b) = (false, false);
        while !(seen_a && seen_b) {
            assert!(
                Instant::now() < deadline,
                "no cross-node delivery after the restart"
            );
            if !seen_a {
                ns_a.emit("after", &()).unwrap();
            }
            if !seen_b {
                b.io.of("/").emit("after-b", &()).unwrap();
            }
            sleep(Duration::from_millis(100)).await;
            while let Ok(ev) = b1.events.try_recv() {
                seen_a |= matches!(ev, Received::Event { ref name, .. } if name == "after");
            }
            while let Ok(ev) = a1.events.try_recv() {
                seen_b |= matches!(ev, Received::Event { ref name, .. } if name == "after-b");
            }
        }
        assert_eq!(ns_a.broadcast().fetch_sockets().await.unwrap().len(), 4);
        drop((a, b));
    });
    // Each node (each adapter factory) logs the outage once, and its recovery.
    assert_eq!(
        counter.lost.load(Ordering::SeqCst),
        2,
        "outage logged once per node"
    );
    assert_eq!(
        counter.back.load(Ordering::SeqCst),
        2,
        "recovery logged once per node"
    );
}

// -----------------------------------------------------------------------------------------
// The throttler's Redis storage
// -----------------------------------------------------------------------------------------

/// Two nodes' stores share their counts; a window ends; a Redis outage is an error (the
/// throttler then lets the hit through) and the store reconnects after it.
#[tokio::test]
async fn throttler_counts_are_shared_through_redis() {
    use gateway_runtime::throttle::{RedisThrottlerStorage, ThrottlerStorage};
    let mut redis = RedisServer::start().await;
    let a = RedisThrottlerStorage::new(&redis.url()).unwrap();
    let b = RedisThrottlerStorage::new(&redis.url()).unwrap();
    let ttl = Duration::from_millis(500);
    assert_eq!(a.increment("k", ttl).await.unwrap().hits, 1);
    assert_eq!(b.increment("k", ttl).await.unwrap().hits, 2);
    let third = a.increment("k", ttl).await.unwrap();
    assert_eq!(third.hits, 3);
    assert!(third.reset_in <= ttl && third.reset_in > Duration::ZERO);
    assert_eq!(b.increment("other", ttl).await.unwrap().hits, 1);
    sleep(Duration::from_millis(600)).await;
    assert_eq!(b.increment("k", ttl).await.unwrap().hits, 1, "a new window");

    redis.kill();
    assert!(a.increment("k", ttl).await.is_err());
    redis.launch().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(r) = a.increment("k", ttl).await {
            assert_eq!(r.hits, 1, "a fresh server");
            break;
        }
        assert!(Instant::now() < deadline, "the store reconnects");
        sleep(Duration::from_millis(50)).await;
    }
}
