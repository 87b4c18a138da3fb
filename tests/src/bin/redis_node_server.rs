//! One node of a Redis cluster, for the JavaScript tests `tests/js/redis-*.test.mjs`:
//! a Socket.IO server on `/` with the Redis adapter. The test's Node.js node implements
//! the same events with socket.io and `@socket.io/redis-adapter`.
//!
//! Env: `PORT` (0 = any free port), `REDIS_URL` (default `redis://127.0.0.1:6379/`),
//! `REQUESTS_TIMEOUT_MS` (default 2000). Prints `listening on http://127.0.0.1:<port>`.
//!
//! Events (each answers through its ack):
//! - `join` / `leave` (room) → `"ok"`; `rooms` → this socket's rooms, sorted
//! - `broadcast` `{to, except, from_socket, local, event, data}` → `"done"`
//! - `broadcast-with-ack` `{to, except, from_socket, local, timeout_ms}`: emits `ask` and
//!   answers `{responses}` (or `{err, responses}`), the answers sorted by their JSON
//! - `fetch-sockets` (room or null) → `[{id, rooms}]`, sorted by id, rooms sorted
//! - `sockets-join` / `sockets-leave` `{room, target}` → `"ok"`
//! - `disconnect-sockets` `{room, close}` → `"ok"` (answered first)
//! - `server-count` → a number (or `{err}`); `all-rooms` → every room, sorted (or `{err}`)
//! - `server-side-emit` `{args, with_ack, timeout_ms}`: `serverSideEmit("hello", ...args)`;
//!   answers `"done"`, or with acks `{responses}` / `{err, responses}`, sorted by JSON
//! - `server-side-received` → the argument lists of the `hello` server-side events this
//!   node got since the last call; each was answered `{impl: "rust", got: args}`

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_runtime::adapter::redis::{RedisAdapter, RedisConfig, ShardedRedisAdapter};
use gateway_runtime::adapter::Room;
use gateway_runtime::socketio::{AckSender, AnyValue, Args, BroadcastOperator, Socket, SocketIo};
use serde::Deserialize;
use serde_json::{json, Value};

fn reply(ack: Option<AckSender>, value: &Value) {
    if let Some(ack) = ack {
        let _ = ack.send(&(value,));
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BroadcastOpts {
    to: Vec<String>,
    except: Vec<String>,
    from_socket: bool,
    local: bool,
    event: String,
    data: AnyValue,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoomTarget {
    room: Option<String>,
    target: Option<String>,
    close: bool,
}

fn operator(socket: &Socket, opts: &BroadcastOpts) -> BroadcastOperator {
    let mut op = if opts.from_socket {
        socket.broadcast()
    } else {
        socket.namespace().broadcast()
    };
    for room in &opts.to {
        op = op.to(room.as_str());
    }
    for room in &opts.except {
        op = op.except(room.as_str());
    }
    if opts.local {
        op = op.local();
    }
    op
}

fn scoped(socket: &Socket, room: &Option<String>) -> BroadcastOperator {
    match room {
        Some(room) => socket.namespace().to(room.as_str()),
        None => socket.namespace().broadcast(),
    }
}

/// The first argument of each answer (binary kept), sorted by their JSON text.
fn sorted_answers(list: &[Args]) -> AnyValue {
    let mut values: Vec<(String, AnyValue)> = list
        .iter()
        .map(|a| {
            let key = a.raw(0).unwrap_or("null").to_owned();
            (key, a.get::<AnyValue>(0).unwrap_or_default())
        })
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    AnyValue::Array(values.into_iter().map(|(_, v)| v).collect())
}

fn object<const N: usize>(entries: [(&str, AnyValue); N]) -> AnyValue {
    AnyValue::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ServerSideOpts {
    args: Vec<Value>,
    with_ack: bool,
    timeout_ms: Option<u64>,
}

/// The argument lists of the `hello` server-side events received.
type Received = Arc<Mutex<Vec<Value>>>;

fn register(socket: &Socket, received: Received) {
    socket.on("server-side-emit", |socket, args, ack| async move {
        let opts: ServerSideOpts = args.get(0).unwrap_or_default();
        let ns = socket.namespace();
        let answer = if opts.with_ack {
            let timeout = Duration::from_millis(opts.timeout_ms.unwrap_or(2000));
            match ns
                .server_side_emit_with_ack("hello", &opts.args, timeout)
                .await
            {
                Ok(list) => object([("responses", sorted_answers(&list))]),
                Err(e) => object([
                    ("err", AnyValue::String(e.to_string())),
                    ("responses", sorted_answers(&e.responses)),
                ]),
            }
        } else {
            match ns.server_side_emit("hello", &opts.args) {
                Ok(()) => AnyValue::String("done".into()),
                Err(e) => object([("err", AnyValue::String(e.to_string()))]),
            }
        };
        if let Some(ack) = ack {
            let _ = ack.send(&(answer,));
        }
    });
    socket.on("server-side-received", move |_socket, _args, ack| {
        let received = received.clone();
        async move {
            let list = std::mem::take(&mut *received.lock().unwrap());
            reply(ack, &Value::Array(list));
        }
    });
    socket.on("join", |socket, args, ack| async move {
        if let Ok(room) = args.get::<String>(0) {
            socket.join(room);
        }
        reply(ack, &json!("ok"));
    });
    socket.on("leave", |socket, args, ack| async move {
        if let Ok(room) = args.get::<String>(0) {
            socket.leave(&room);
        }
        reply(ack, &json!("ok"));
    });
    socket.on("rooms", |socket, _args, ack| async move {
        let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
        rooms.sort();
        reply(ack, &json!(rooms));
    });
    socket.on("broadcast", |socket, args, ack| async move {
        let opts: BroadcastOpts = args.get(0).unwrap_or_default();
        let _ = operator(&socket, &opts).emit(&opts.event, &opts.data);
        reply(ack, &json!("done"));
    });
    socket.on("broadcast-with-ack", |socket, args, ack| async move {
        let opts: BroadcastOpts = args.get(0).unwrap_or_default();
        let result = operator(&socket, &opts)
            .timeout(Duration::from_millis(opts.timeout_ms.unwrap_or(2000)))
            .emit_with_ack("ask", &(42,))
            .await;
        let answer = match result {
            Ok(list) => object([("responses", sorted_answers(&list))]),
            Err(e) => object([
                ("err", AnyValue::String(e.to_string())),
                ("responses", sorted_answers(&e.responses)),
            ]),
        };
        if let Some(ack) = ack {
            let _ = ack.send(&(answer,));
        }
    });
    socket.on("fetch-sockets", |socket, args, ack| async move {
        let room: Option<String> = args.get(0).unwrap_or(None);
        let answer = match scoped(&socket, &room).fetch_sockets().await {
            Ok(list) => {
                let mut list: Vec<Value> = list
                    .into_iter()
                    .map(|s| {
                        let mut rooms: Vec<String> =
                            s.rooms.iter().map(|r| r.to_string()).collect();
                        rooms.sort();
                        json!({ "id": s.id.as_str(), "rooms": rooms })
                    })
                    .collect();
                list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
                json!(list)
            }
            Err(e) => json!({ "err": e.to_string() }),
        };
        reply(ack, &answer);
    });
    socket.on("sockets-join", |socket, args, ack| async move {
        let t: RoomTarget = args.get(0).unwrap_or_default();
        if let Some(target) = &t.target {
            scoped(&socket, &t.room).sockets_join(&[Room::from(target.as_str())]);
        }
        reply(ack, &json!("ok"));
    });
    socket.on("sockets-leave", |socket, args, ack| async move {
        let t: RoomTarget = args.get(0).unwrap_or_default();
        if let Some(target) = &t.target {
            scoped(&socket, &t.room).sockets_leave(&[Room::from(target.as_str())]);
        }
        reply(ack, &json!("ok"));
    });
    socket.on("disconnect-sockets", |socket, args, ack| async move {
        reply(ack, &json!("ok"));
        let t: RoomTarget = args.get(0).unwrap_or_default();
        scoped(&socket, &t.room).disconnect_sockets(t.close);
    });
    socket.on("server-count", |socket, _args, ack| async move {
        let answer = match socket.namespace().adapter().server_count().await {
            Ok(n) => json!(n),
            Err(e) => json!({ "err": e.to_string() }),
        };
        reply(ack, &answer);
    });
    socket.on("all-rooms", |socket, _args, ack| async move {
        let ns = socket.namespace();
        let answer = match ns.adapter().remote_rooms().await {
            Ok(remote) => {
                let mut rooms: Vec<String> = remote
                    .into_iter()
                    .chain(ns.adapter().local_rooms())
                    .chain(ns.sockets().iter().map(|s| Room::from(s.id().as_str())))
                    .map(|r| r.to_string())
                    .collect();
                rooms.sort();
                rooms.dedup();
                json!(rooms)
            }
            Err(e) => json!({ "err": e.to_string() }),
        };
        reply(ack, &answer);
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let requests_timeout = std::env::var("REQUESTS_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000u64);
    // REDIS_CLUSTER=url,url,..: a Redis Cluster (the sharded adapter).
    let base = match std::env::var("REDIS_CLUSTER") {
        Ok(nodes) if !nodes.is_empty() => RedisConfig::cluster(nodes.split(',')),
        _ => RedisConfig::new(url),
    };
    let config = base
        .requests_timeout(Duration::from_millis(requests_timeout))
        .retry_delays(Duration::from_millis(50), Duration::from_millis(500))
        .health_check_interval(Duration::from_secs(2));
    let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let builder = SocketIo::builder()
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(1000));
    // ADAPTER=sharded: Redis 7 sharded pub/sub (createShardedAdapter); else the classic one.
    let builder = match std::env::var("ADAPTER").as_deref() {
        Ok("sharded") => builder.adapter(ShardedRedisAdapter::factory(config).map_err(invalid)?),
        _ => builder.adapter(RedisAdapter::factory(config).map_err(invalid)?),
    };
    let io = builder.build();
    // The admin UI, as every node of the cluster has it (no auth: tests only).
    gateway_runtime::admin::AdminUi::without_auth()
        .server_id(format!("rust-{}", std::process::id()))
        .instrument(&io)
        .map_err(std::io::Error::other)?;
    let received: Received = Arc::default();
    let log = received.clone();
    io.of("/").on_server_side("hello", move |args, ack| {
        let log = log.clone();
        async move {
            let got: Vec<Value> = (0..args.len())
                .map(|i| args.get(i).unwrap_or(Value::Null))
                .collect();
            log.lock().unwrap().push(Value::Array(got.clone()));
            if let Some(ack) = ack {
                let _ = ack.send(&json!({ "impl": "rust", "got": got }));
            }
        }
    });
    io.of("/").on_connection(move |socket| {
        let received = received.clone();
        async move { register(&socket, received) }
    });

    let app = axum::Router::new().merge(io.router());
    let listener = gateway_tests::listen("127.0.0.1", 0).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
