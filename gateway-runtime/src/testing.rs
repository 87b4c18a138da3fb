//! Testing utilities: start an app on an ephemeral port (with providers overridden by
//! fakes through [`AppBuilder::override_provider`]) and talk to it with a small Socket.IO
//! client, the way NestJS users test gateways. Enable the `testing` feature.
//!
//! ```no_run
//! # use gateway_runtime::prelude::*;
//! # use gateway_runtime::testing::TestApp;
//! # async fn t(builder: gateway_runtime::app::AppBuilder) {
//! let app = TestApp::start(builder).await.unwrap();
//! let mut client = app.client("/chat").await.unwrap();
//! let reply = client.emit_with_ack("ping", &(), std::time::Duration::from_secs(1)).await.unwrap();
//! assert_eq!(reply, vec![serde_json::json!("pong")]);
//! # }
//! ```
//!
//! The client speaks text packets over WebSocket; binary attachments are not decoded.
//!
//! [`AppBuilder::override_provider`]: crate::app::AppBuilder::override_provider

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway_core::socketio::{ArgList, Args, Encoder, PacketKind, RawPacket};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::app::{App, AppBuilder, BuildError};

/// Serves `router` on `127.0.0.1:<ephemeral port>` (with the peer address available to
/// handshakes); returns the address and the serving task.
pub async fn serve_ephemeral(
    router: axum::Router,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    Ok((addr, task))
}

/// A running application on `127.0.0.1:<ephemeral port>`; stopped when dropped.
#[derive(Debug)]
pub struct TestApp {
    /// The application.
    pub app: App,
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why a test client could not connect or get an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// The connection failed or closed.
    Transport(String),
    /// The namespace refused the connection (`connect_error`): message and data.
    Refused(String, Option<Value>),
    /// No answer in time.
    Timeout,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "transport: {e}"),
            ClientError::Refused(m, d) => write!(f, "refused: {m} {d:?}"),
            ClientError::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for ClientError {}

impl TestApp {
    /// Builds the app and serves it on an ephemeral loopback port.
    pub async fn start(builder: AppBuilder) -> Result<TestApp, BuildError> {
        let app = builder.build().await?;
        let (addr, task) = serve_ephemeral(app.router())
            .await
            .map_err(|e| BuildError::Config(format!("cannot bind: {e}")))?;
        Ok(TestApp { app, addr, task })
    }

    /// A client connected to `nsp` without auth.
    pub async fn client(&self, nsp: &str) -> Result<TestClient, ClientError> {
        TestClient::connect(
            self.addr,
            &self.app.io().engine_config().path,
            nsp,
            None,
            "",
        )
        .await
    }

    /// A client connected to `nsp` with `auth`.
    pub async fn client_with_auth(
        &self,
        nsp: &str,
        auth: Value,
    ) -> Result<TestClient, ClientError> {
        TestClient::connect(
            self.addr,
            &self.app.io().engine_config().path,
            nsp,
            Some(auth),
            "",
        )
        .await
    }

    /// A client with extra query parameters (`"token=abc&x=1"`).
    pub async fn client_with_query(
        &self,
        nsp: &str,
        query: &str,
    ) -> Result<TestClient, ClientError> {
        TestClient::connect(
            self.addr,
            &self.app.io().engine_config().path,
            nsp,
            None,
            query,
        )
        .await
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<Value>>>>>;

/// A Socket.IO client on one namespace, over WebSocket.
#[derive(Debug)]
pub struct TestClient {
    nsp: String,
    /// The socket id the server gave.
    pub id: String,
    out: mpsc::UnboundedSender<String>,
    events: mpsc::UnboundedReceiver<(String, Vec<Value>, Option<u64>)>,
    pending: Pending,
    next_id: u64,
    _closer: oneshot::Sender<()>,
}

fn values(args: &Args) -> Vec<Value> {
    (0..args.len())
        .map(|i| args.get(i).unwrap_or(Value::Null))
        .collect()
}

impl TestClient {
    /// Connects to `nsp` on the server at `addr`.
    pub async fn connect(
        addr: SocketAddr,
        path: &str,
        nsp: &str,
        auth: Option<Value>,
        query: &str,
    ) -> Result<TestClient, ClientError> {
        let sep = if query.is_empty() { "" } else { "&" };
        let url = format!("ws://{addr}{path}?EIO=4&transport=websocket{sep}{query}");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();
        let open = stream.next().await;
        if !matches!(open, Some(Ok(Message::Text(ref t))) if t.starts_with('0')) {
            return Err(ClientError::Transport("no open packet".into()));
        }
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        let auth = auth.map(|a| a.to_string()).unwrap_or_default();
        sink.send(Message::Text(format!("40{prefix}{auth}").into()))
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let id = loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .map_err(|_| ClientError::Timeout)?;
            let Some(Ok(Message::Text(text))) = msg else {
                return Err(ClientError::Transport("closed during connect".into()));
            };
            if text.as_str() == "2" {
                let _ = sink.send(Message::Text("3".into())).await;
                continue;
            }
            let Some(sio) = text.strip_prefix('4') else {
                continue;
            };
            let Ok(raw) = RawPacket::decode(sio) else {
                continue;
            };
            match raw.kind {
                PacketKind::Connect => {
                    let v: Value = serde_json::from_str(raw.data).unwrap_or(Value::Null);
                    break v
                        .get("sid")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                }
                PacketKind::ConnectError => {
                    let v: Value = serde_json::from_str(raw.data).unwrap_or(Value::Null);
                    let message = v
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    return Err(ClientError::Refused(message, v.get("data").cloned()));
                }
                _ => {}
            }
        };
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (events_tx, events) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        let pending_reader = pending.clone();
        let pong = out.clone();
        let (closer, mut closed) = oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    text = out_rx.recv() => match text {
                        Some(text) => {
                            if sink.send(Message::Text(text.into())).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    _ = &mut closed => break,
                }
            }
            let _ = sink.close().await;
        });
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                if text.as_str() == "2" {
                    let _ = pong.send("3".into());
                    continue;
                }
                let Some(sio) = text.strip_prefix('4') else {
                    continue;
                };
                let Ok(raw) = RawPacket::decode(sio) else {
                    continue;
                };
                let data = bytes::Bytes::copy_from_slice(raw.data.as_bytes());
                match raw.kind {
                    PacketKind::Event | PacketKind::BinaryEvent => {
                        if let Ok(args) = Args::parse_event(data) {
                            let _ =
                                events_tx.send((args.event().to_string(), values(&args), raw.id));
                        }
                    }
                    PacketKind::Ack | PacketKind::BinaryAck => {
                        if let (Some(id), Ok(args)) = (raw.id, Args::parse_ack(data)) {
                            let tx = pending_reader.lock().ok().and_then(|mut p| p.remove(&id));
                            if let Some(tx) = tx {
                                let _ = tx.send(values(&args));
                            }
                        }
                    }
                    PacketKind::Disconnect => {
                        let _ = events_tx.send((
                            "disconnect".into(),
                            vec![Value::from("io server disconnect")],
                            None,
                        ));
                    }
                    _ => {}
                }
            }
            let _ = events_tx.send((
                "disconnect".into(),
                vec![Value::from("transport close")],
                None,
            ));
        });
        Ok(TestClient {
            nsp: nsp.to_string(),
            id,
            out,
            events,
            pending,
            next_id: 0,
            _closer: closer,
        })
    }

    fn send(
        &self,
        id: Option<u64>,
        event: &str,
        args: &(impl ArgList + ?Sized),
    ) -> Result<(), ClientError> {
        let packet = Encoder::event(&self.nsp, id, event, args)
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let text = String::from_utf8_lossy(&packet.text).into_owned();
        self.out
            .send(text)
            .map_err(|_| ClientError::Transport("closed".into()))
    }

    /// Emits `event` with `args` (a tuple, `()` for none).
    pub fn emit(&self, event: &str, args: &(impl ArgList + ?Sized)) -> Result<(), ClientError> {
        self.send(None, event, args)
    }

    /// Emits `event` asking for an acknowledgement; returns its arguments.
    pub async fn emit_with_ack(
        &mut self,
        event: &str,
        args: &(impl ArgList + ?Sized),
        timeout: Duration,
    ) -> Result<Vec<Value>, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        self.send(Some(id), event, args)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ClientError::Transport("closed".into())),
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// The next event received (name and arguments), waiting up to `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<(String, Vec<Value>)> {
        self.next_event_with_ack(timeout)
            .await
            .map(|(e, a, _)| (e, a))
    }

    async fn next_event_with_ack(
        &mut self,
        timeout: Duration,
    ) -> Option<(String, Vec<Value>, Option<u64>)> {
        tokio::time::timeout(timeout, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits for `event`, skipping others; returns its arguments.
    pub async fn expect_event(
        &mut self,
        event: &str,
        timeout: Duration,
    ) -> Result<Vec<Value>, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event_with_ack(left).await {
                Some((name, args, _)) if name == event => return Ok(args),
                Some(_) => continue,
                None => return Err(ClientError::Timeout),
            }
        }
    }

    /// Closes the connection.
    pub fn close(self) {
        drop(self);
    }
}
