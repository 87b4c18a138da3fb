//! Engine options over real HTTP: CORS, the admission hook, transports, path, the outgoing
//! queue limit, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gateway_runtime::engine::{AllowOrigin, Cors, EngineConfig, Transports};
use gateway_runtime::socketio::{DisconnectReason, SocketIo};
use gateway_runtime::testing::{serve_ephemeral, TestClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

async fn serve(io: &SocketIo) -> SocketAddr {
    serve_ephemeral(io.router()).await.unwrap().0
}

/// Sends a raw HTTP/1.1 request; returns the status line and headers (lowercased) and body.
async fn http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_lowercase(), body.to_string())
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}\r\n")
}

fn with_engine(f: impl FnOnce(&mut EngineConfig)) -> SocketIo {
    let io = SocketIo::builder().configure(f).build();
    io.of("/").on_connection(|_socket| async move {});
    io
}

#[tokio::test]
async fn cors_origin_list_with_credentials() {
    let io = with_engine(|c| {
        c.cors = Cors {
            origin: AllowOrigin::List(vec!["https://app.example".parse().unwrap()]),
            credentials: true,
            ..Cors::default()
        }
    });
    let addr = serve(&io).await;
    let (head, body) = http(
        addr,
        &get(
            "/socket.io/?EIO=4&transport=polling",
            "Origin: https://app.example\r\n",
        ),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://app.example"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-credentials: true"),
        "{head}"
    );
    assert!(body.starts_with("0{"), "{body}");
    let (head, _) = http(
        addr,
        &get(
            "/socket.io/?EIO=4&transport=polling",
            "Origin: https://evil.example\r\n",
        ),
    )
    .await;
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    let preflight = "OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n";
    let (head, _) = http(addr, preflight).await;
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert!(head.contains("access-control-allow-methods:"), "{head}");
    assert!(
        head.contains("access-control-allow-headers: content-type"),
        "{head}"
    );
}

#[tokio::test]
async fn cors_any_and_predicate() {
    let io = with_engine(|c| c.cors = Cors::any());
    let addr = serve(&io).await;
    let (head, _) = http(
        addr,
        &get(
            "/socket.io/?EIO=4&transport=polling",
            "Origin: https://x.example\r\n",
        ),
    )
    .await;
    assert!(
        head.contains("access-control-allow-origin: https://x.example"),
        "{head}"
    );
    assert!(!head.contains("access-control-allow-credentials"), "{head}");

    let io = with_engine(|c| {
        c.cors = Cors {
            origin: AllowOrigin::Predicate(Arc::new(|o: &str| o.ends_with(".trusted.example"))),
            ..Cors::default()
        }
    });
    let addr = serve(&io).await;
    let (head, _) = http(
        addr,
        &get(
            "/socket.io/?EIO=4&transport=polling",
            "Origin: https://a.trusted.example\r\n",
        ),
    )
    .await;
    assert!(
        head.contains("access-control-allow-origin: https://a.trusted.example"),
        "{head}"
    );
    let (head, _) = http(
        addr,
        &get(
            "/socket.io/?EIO=4&transport=polling",
            "Origin: https://untrusted.example\r\n",
        ),
    )
    .await;
    assert!(!head.contains("access-control-allow-origin"), "{head}");
}

/// An admission hook letting in requests with `X-Api-Key: letmein`.
fn require_api_key(c: &mut EngineConfig) {
    c.allow_request = Some(Arc::new(|parts: &http::request::Parts| {
        match parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            Some("letmein") => Ok(()),
            _ => Err("missing api key".into()),
        }
    }))
}

/// Asserts a polling handshake carrying the API key is accepted.
async fn assert_keyed_polling_handshake(addr: SocketAddr) {
    let (head, body) = http(
        addr,
        &get(
            "/socket.io/?EIO=4&transport=polling",
            "X-Api-Key: letmein\r\n",
        ),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.starts_with("0{"), "{body}");
}

#[tokio::test]
async fn allow_request_refuses_with_403_and_the_message() {
    let io = with_engine(require_api_key);
    let addr = serve(&io).await;
    let (head, body) = http(addr, &get("/socket.io/?EIO=4&transport=polling", "")).await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert_eq!(body, r#"{"code":4,"message":"missing api key"}"#);
    assert_keyed_polling_handshake(addr).await;
}

#[tokio::test]
async fn transports_and_path_options() {
    let io = with_engine(|c| {
        c.transports = Transports::POLLING;
        c.path = "/rt/".into();
    });
    let addr = serve(&io).await;
    let (head, body) = http(addr, &get("/rt/?EIO=4&transport=polling", "")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        body.contains(r#""upgrades":[]"#),
        "no upgrade offered without websocket: {body}"
    );
    let (_, body) = http(addr, &get("/rt/?EIO=4&transport=websocket", "")).await;
    assert_eq!(body, r#"{"code":0,"message":"Transport unknown"}"#);
    let (head, _) = http(addr, &get("/socket.io/?EIO=4&transport=polling", "")).await;
    assert!(head.starts_with("http/1.1 404"), "{head}");

    let io = with_engine(|c| c.transports = Transports::WEBSOCKET);
    let addr = serve(&io).await;
    let (_, body) = http(addr, &get("/socket.io/?EIO=4&transport=polling", "")).await;
    assert_eq!(body, r#"{"code":0,"message":"Transport unknown"}"#);
    assert!(TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .is_ok());
}

#[tokio::test]
async fn a_connection_whose_queue_overflows_is_closed_and_others_are_not() {
    let io = SocketIo::builder()
        .configure(|c| c.max_buffered_packets = 50)
        .build();
    let (tx, mut reasons) = mpsc::unbounded_channel::<DisconnectReason>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on_disconnect(move |_s, reason| async move {
                let _ = tx.send(reason);
            });
            socket.on("flood", |socket, _args, _ack| async move {
                // More than the queue holds, in one synchronous burst.
                for i in 0..1000 {
                    if socket.emit("n", &i).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let addr = serve(&io).await;
    let flooder = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    let mut calm = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    flooder.emit("flood", &()).unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(3), reasons.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reason.as_str(), "outgoing buffer full");
    calm.emit("flood-not", &()).unwrap();
    assert!(
        calm.next_event(Duration::from_millis(200)).await.is_none(),
        "calm client untouched"
    );
    assert_eq!(io.connection_count(), 1);
}

#[tokio::test]
async fn shutdown_disconnects_everyone_with_server_shutting_down() {
    let io = SocketIo::builder().build();
    let (tx, mut reasons) = mpsc::unbounded_channel::<String>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on_disconnect(move |_s, reason| async move {
                let _ = tx.send(reason.to_string());
            });
        }
    });
    let addr = serve(&io).await;
    let _a = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    let _b = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    io.shutdown(Duration::from_secs(2)).await;
    for _ in 0..2 {
        let r = tokio::time::timeout(Duration::from_secs(2), reasons.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r, "server shutting down");
    }
    assert_eq!(io.connection_count(), 0);
    let (_, body) = http(addr, &get("/socket.io/?EIO=4&transport=polling", "")).await;
    assert!(body.contains("Server is shutting down"), "{body}");
}

/// A masked client text frame.
fn client_text(text: &str) -> Vec<u8> {
    let mask = [7u8, 1, 9, 4];
    let mut payload = text.as_bytes().to_vec();
    gateway_core::websocket::apply_mask(&mut payload, mask);
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend_from_slice(&payload);
    frame
}

/// Reads from `stream` until `needle` appears (or 3 s pass); returns everything read.
async fn read_until(stream: &mut tokio::net::TcpStream, needle: &str) -> String {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(needle) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&got).to_string()
}

#[tokio::test]
async fn own_accept_loop_answers_websockets_and_hands_the_rest_to_the_router() {
    let io = with_engine(require_api_key);
    let nsp = io.of("/keyed");
    nsp.on_connection(|socket| async move {
        let key = socket.handshake().headers().get("x-api-key").cloned();
        let key = key.and_then(|v| v.to_str().ok().map(str::to_owned));
        let _ = socket.emit("key", &key);
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let io = io.clone();
        async move {
            io.serve_with_shutdown(listener, routes, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let upgrade = |extra: &str| {
        format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        )
    };

    // Refused by allow_request: the router answers, as it would through axum::serve.
    let (head, body) = http(addr, &upgrade("")).await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert_eq!(body, r#"{"code":4,"message":"missing api key"}"#);

    // Accepted: the 101 and the OPEN packet, then the namespace sees the headers.
    let mut ws = tokio::net::TcpStream::connect(addr).await.unwrap();
    ws.write_all(upgrade("X-Api-Key: letmein\r\n").as_bytes())
        .await
        .unwrap();
    let answer = read_until(&mut ws, "\"maxPayload\"").await;
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert!(
        answer.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{answer}"
    );
    ws.write_all(&client_text("40/keyed,")).await.unwrap();
    let events = read_until(&mut ws, "letmein").await;
    assert!(events.contains(r#"42/keyed,["key","letmein"]"#), "{events}");

    // Everything else goes to the router: your routes, polling.
    let (head, body) = http(addr, &get("/health", "")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "ok");
    assert_keyed_polling_handshake(addr).await;

    // A connection that never sends a request does not hold the shutdown up.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    drop(ws);
    io.shutdown(Duration::from_secs(2)).await;
    let _ = stop.send(());
    let served = tokio::time::timeout(Duration::from_secs(5), server).await;
    drop(silent);
    assert!(
        matches!(served, Ok(Ok(Ok(())))),
        "the server stops: {served:?}"
    );
}
