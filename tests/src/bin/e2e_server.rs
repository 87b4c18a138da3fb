//! The server driven by the JavaScript end-to-end tests (tests/js). Each event exercises
//! one feature of the Socket.IO server; see tests/js/README.md for the contract.
//!
//! Env: `PORT` (0 = any free port), `MAX_PAYLOAD` (bytes), `MAX_BUFFERED_BYTES` (bytes),
//! `MAX_ROOMS` (rooms per socket), `MAX_NAMESPACES` (namespaces per connection), `PING_MS`
//! (ping interval and timeout, default 1000), `RECOVERY_MS` (turns connection state recovery
//! on, with this max disconnection duration), `CLIENT_DIST` (serves the browser client from
//! this `socket.io-client/dist` folder), `PARSER=msgpack` (the MessagePack parser), `DEFLATE` (WebSocket compression on, with this
//! threshold in bytes), `ADMIN_UI_HASH` (the admin UI on `/admin` with user `admin` and this
//! bcrypt hash, instead of the test's own `/admin` namespace; `ADMIN_UI_READONLY=1`,
//! `ADMIN_UI_MODE=production`, and `ADMIN_UI_DIST`: the UI's built files under `/ui/`).

use std::time::Duration;

use gateway_runtime::adapter::Room;
use gateway_runtime::socketio::{
    AckSender, AnyValue, Args, ClientBundle, ConnectError, ConnectionStateRecovery, MsgpackParser,
    Socket, SocketIo,
};
use serde::Deserialize;
use serde_json::{json, Value};

fn ack_ok(ack: Option<AckSender>, value: &Value) {
    if let Some(ack) = ack {
        let _ = ack.send(&(value,));
    }
}

fn sorted_rooms(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    rooms.sort();
    rooms
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BroadcastOpts {
    to: Vec<String>,
    except: Vec<String>,
    from_socket: bool,
    local: bool,
    volatile: bool,
    event: String,
    data: AnyValue,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
struct RoomTarget {
    room: Option<String>,
    target: Option<String>,
    #[serde(default)]
    close: bool,
}

fn operator(socket: &Socket, opts: &BroadcastOpts) -> gateway_runtime::socketio::BroadcastOperator {
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
    if opts.volatile {
        op = op.volatile();
    }
    op
}

fn scoped(socket: &Socket, room: &Option<String>) -> gateway_runtime::socketio::BroadcastOperator {
    match room {
        Some(room) => socket.namespace().to(room.as_str()),
        None => socket.namespace().broadcast(),
    }
}

async fn echo(socket: Socket, args: Args, ack: Option<AckSender>) {
    match ack {
        Some(ack) => {
            let _ = ack.send(&args);
        }
        None => {
            let _ = socket.emit_args("echo", &args);
        }
    }
}

fn register(socket: &Socket) {
    socket.on("echo", echo);
    socket.on("join", |socket, args, ack| async move {
        if let Ok(room) = args.get::<String>(0) {
            socket.join(room);
        }
        ack_ok(ack, &json!("ok"));
    });
    socket.on("leave", |socket, args, ack| async move {
        if let Ok(room) = args.get::<String>(0) {
            socket.leave(&room);
        }
        ack_ok(ack, &json!("ok"));
    });
    socket.on("recovered", |socket, _args, ack| async move {
        ack_ok(ack, &json!(socket.recovered()));
    });
    socket.on("rooms", |socket, _args, ack| async move {
        ack_ok(ack, &json!(sorted_rooms(&socket)));
    });
    socket.on("broadcast", |socket, args, ack| async move {
        let opts: BroadcastOpts = args.get(0).unwrap_or_default();
        let _ = operator(&socket, &opts).emit(&opts.event, &opts.data);
        ack_ok(ack, &json!("done"));
    });
    socket.on("broadcast-with-ack", |socket, args, ack| async move {
        let opts: BroadcastOpts = args.get(0).unwrap_or_default();
        let op = operator(&socket, &opts)
            .timeout(Duration::from_millis(opts.timeout_ms.unwrap_or(1000)));
        let result = op.emit_with_ack("ask", &(42,)).await;
        let to_values = |list: Vec<Args>| {
            let mut v: Vec<Value> = list
                .iter()
                .map(|a| a.get::<Value>(0).unwrap_or(Value::Null))
                .collect();
            v.sort_by_key(|x| x.to_string());
            v
        };
        let answer = match result {
            Ok(responses) => json!({ "responses": to_values(responses) }),
            Err(e) => json!({ "err": "timeout", "responses": to_values(e.responses) }),
        };
        ack_ok(ack, &answer);
    });
    socket.on("emit-with-ack", |socket, args, ack| async move {
        let opts: BroadcastOpts = args.get(0).unwrap_or_default();
        let timeout = Duration::from_millis(opts.timeout_ms.unwrap_or(1000));
        match socket
            .emit_with_ack("question", &(&opts.data,), timeout)
            .await
        {
            Ok(answer) => {
                if let Some(ack) = ack {
                    let first: AnyValue = answer.get(0).unwrap_or_default();
                    let mut reply = gateway_runtime::socketio::AnyMap::new();
                    reply.insert("answer".to_string(), first);
                    let _ = ack.send(&(AnyValue::Object(reply),));
                }
            }
            Err(_) => ack_ok(ack, &json!({ "err": "timeout" })),
        }
    });
    socket.on("fetch-sockets", |socket, args, ack| async move {
        let room: Option<String> = args.get(0).unwrap_or(None);
        let mut list: Vec<Value> = scoped(&socket, &room)
            .fetch_sockets()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                let mut rooms: Vec<String> = s.rooms.iter().map(|r| r.to_string()).collect();
                rooms.sort();
                json!({ "id": s.id.as_str(), "rooms": rooms })
            })
            .collect();
        list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        ack_ok(ack, &json!(list));
    });
    socket.on("sockets-join", |socket, args, ack| async move {
        if let Ok(t) = args.get::<RoomTarget>(0) {
            if let Some(target) = &t.target {
                scoped(&socket, &t.room).sockets_join(&[Room::from(target.as_str())]);
            }
        }
        ack_ok(ack, &json!("ok"));
    });
    socket.on("sockets-leave", |socket, args, ack| async move {
        if let Ok(t) = args.get::<RoomTarget>(0) {
            if let Some(target) = &t.target {
                scoped(&socket, &t.room).sockets_leave(&[Room::from(target.as_str())]);
            }
        }
        ack_ok(ack, &json!("ok"));
    });
    socket.on("disconnect-sockets", |socket, args, ack| async move {
        ack_ok(ack, &json!("ok"));
        if let Ok(t) = args.get::<RoomTarget>(0) {
            scoped(&socket, &t.room).disconnect_sockets(t.close);
        }
    });
    socket.on("disconnect-me", |socket, args, _ack| async move {
        let close: bool = args.get(0).unwrap_or(false);
        socket.disconnect(close);
    });
    socket.on("handshake-object", |socket, _args, ack| async move {
        if let Some(ack) = ack {
            let _ = ack.send(&(socket.handshake(),));
        }
    });
    socket.on("handshake", |socket, _args, ack| async move {
        let h = socket.handshake();
        let query: serde_json::Map<String, Value> = h
            .query_pairs()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let host = h
            .headers()
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let time = httpdate(h.issued());
        ack_ok(
            ack,
            &json!({
                "auth": h.auth,
                "query": query,
                "headers_host": host,
                "address": h.address().map(|a| a.ip().to_string()).unwrap_or_default(),
                "url": h.url(),
                "time": time,
                "issued": h.issued(),
            }),
        );
    });
    socket.on("try-join", |socket, args, ack| async move {
        let room: String = args.get(0).unwrap_or_default();
        match socket.try_join(room.as_str()) {
            Ok(()) => ack_ok(ack, &json!({ "ok": socket.in_room(&room) })),
            Err(e) => ack_ok(ack, &json!({ "err": e.to_string() })),
        }
    });
    // Answers with `size` bytes: what a handler returning a large history does.
    socket.on("big", |_socket, args, ack| async move {
        let size: usize = args.get(0).unwrap_or(0).min(1 << 20);
        ack_ok(ack, &json!("b".repeat(size)));
    });
    socket.on("burst", |socket, args, ack| async move {
        #[derive(Deserialize)]
        struct Burst {
            count: u64,
        }
        let count = args.get::<Burst>(0).map(|b| b.count).unwrap_or(0);
        for i in 0..count {
            let _ = socket.emit("seq", &i);
        }
        ack_ok(ack, &json!("done"));
    });
    socket.on_any(|socket, args, _ack| async move {
        let event = args.event().to_string();
        if event.starts_with("any:") {
            let mut values = vec![AnyValue::String(event)];
            values.extend((0..args.len()).map(|i| args.get::<AnyValue>(i).unwrap_or_default()));
            let _ = socket.emit_args("any", &values);
        }
    });
}

/// A readable timestamp for the handshake time (milliseconds since the epoch as text).
fn httpdate(ms: u64) -> String {
    ms.to_string()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let ping = Duration::from_millis(env("PING_MS").unwrap_or(1000) as u64);
    let mut builder = SocketIo::builder()
        .ping_interval(ping)
        .ping_timeout(ping)
        .connect_timeout(Duration::from_millis(3000));
    if let Some(max) = env("MAX_PAYLOAD") {
        builder = builder.max_payload(max);
    }
    if let Some(max) = env("MAX_BUFFERED_BYTES") {
        builder = builder.max_buffered_bytes(max);
    }
    if let Some(max) = env("MAX_ROOMS") {
        builder = builder.max_rooms_per_socket(max);
    }
    if let Some(max) = env("MAX_NAMESPACES") {
        builder = builder.max_namespaces_per_connection(max);
    }
    if let Some(ms) = env("RECOVERY_MS") {
        builder = builder.connection_state_recovery(ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_millis(ms as u64),
            ..ConnectionStateRecovery::default()
        });
    }
    if let Some(threshold) = env("DEFLATE") {
        builder = builder.per_message_deflate(threshold);
    }
    if std::env::var("PARSER").as_deref() == Ok("msgpack") {
        builder = builder.parser(MsgpackParser);
    }
    if let Ok(dist) = std::env::var("CLIENT_DIST") {
        builder = builder.serve_client(ClientBundle::from_dir(dist)?);
    }
    let io = builder.build();

    let main = io.of("/");
    main.middleware(|socket| async move {
        if socket.handshake().auth.get("reject") == Some(&Value::Bool(true)) {
            return Err(ConnectError::new("rejected").with_data(json!({ "reason": "test" })));
        }
        Ok(())
    });
    main.on_connection(|socket| async move {
        let _ = socket.emit("welcome", &json!({ "id": socket.id().as_str() }));
        register(&socket)
    });

    if let Ok(hash) = std::env::var("ADMIN_UI_HASH") {
        gateway_runtime::admin::AdminUi::basic_auth("admin", hash)
            .readonly(std::env::var("ADMIN_UI_READONLY").as_deref() == Ok("1"))
            .production(std::env::var("ADMIN_UI_MODE").as_deref() == Ok("production"))
            .server_id("e2e")
            .instrument(&io)
            .map_err(std::io::Error::other)?;
    } else {
        let admin = io.of("/admin");
        admin.middleware(|socket| async move {
            match socket.handshake().auth.get("token").and_then(Value::as_str) {
                Some("secret") => Ok(()),
                _ => Err(ConnectError::new("unauthorized").with_data(json!({ "code": 401 }))),
            }
        });
        admin.on_connection(|socket| async move { register(&socket) });
    }

    io.dynamic(|name| {
        name.strip_prefix("/dyn-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
    .on_connection(|socket| async move {
        let _ = socket.emit("dyn", socket.namespace_name());
        register(&socket);
    });

    let mut routes = axum::Router::new();
    if let Ok(dist) = std::env::var("ADMIN_UI_DIST") {
        routes = routes.route(
            "/ui/{*path}",
            axum::routing::get(
                move |axum::extract::Path(path): axum::extract::Path<String>| {
                    let dist = std::path::PathBuf::from(&dist);
                    async move { static_file(&dist, &path) }
                },
            ),
        );
    }
    let listener = gateway_tests::listen("127.0.0.1", 0).await?;
    io.serve_with_shutdown(listener, routes, std::future::pending())
        .await
}

/// A file of `dir` (no `..`), with its content type; 404 otherwise.
fn static_file(dir: &std::path::Path, path: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = if path.is_empty() { "index.html" } else { path };
    if path.split('/').any(|part| part == ".." || part.is_empty()) {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let kind = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    match std::fs::read(dir.join(path)) {
        Ok(bytes) => ([(axum::http::header::CONTENT_TYPE, kind)], bytes).into_response(),
        Err(_) => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}
