//! The engine as an axum service: request routing, handshakes, shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use gateway_core::engineio::OpenPacket;
use http::{Method, StatusCode};
use tokio::sync::Notify;

use super::http::{preflight, text_response, EngineError, EngineQuery};
use super::session::Session;
use super::websocket::Upgrade;
use crate::telemetry::EngineMetrics;

use super::{
    CloseReason, EngineConfig, EngineHandler, EngineSocket, Message, Outgoing, RequestInfo,
    Sessions, Sid, TransportKind,
};

pub(crate) struct EngineInner<H: EngineHandler> {
    pub(crate) config: EngineConfig,
    pub(crate) handler: H,
    pub(crate) sessions: Sessions<H::Conn>,
    pub(crate) drained: Notify,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) admission: Arc<super::admission::Admission>,
    pub(crate) metrics: crate::telemetry::EngineMetrics,
}

/// An Engine.IO server. Cheap to clone; all clones share the sessions.
pub struct Engine<H: EngineHandler> {
    inner: Arc<EngineInner<H>>,
}

impl<H: EngineHandler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<H: EngineHandler> std::fmt::Debug for Engine<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl EngineSocket {
    /// Queues a received [`Message`] back as it came (handy for echo servers).
    pub fn send_message(&self, message: Message) -> Result<(), super::SendError> {
        match message {
            Message::Text(t) => {
                let mut text = Vec::with_capacity(t.len() + 1);
                text.push(b'4');
                text.extend_from_slice(&t);
                let text = super::Text::try_from(text).map_err(|_| super::SendError::Closed)?;
                self.send(Outgoing::Text(text))
            }
            Message::Binary(b) => self.send(Outgoing::Binary(b)),
        }
    }
}

impl<H: EngineHandler> Engine<H> {
    /// An engine calling `handler` for every session.
    pub fn new(handler: H, config: EngineConfig) -> Self {
        if config.release_large_buffers {
            super::listen::release_large_buffers();
        }
        Self {
            inner: Arc::new(EngineInner {
                config,
                handler,
                sessions: Default::default(),
                drained: Notify::new(),
                shutting_down: AtomicBool::new(false),
                admission: Default::default(),
                metrics: crate::telemetry::EngineMetrics::new(),
            }),
        }
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Arc<EngineInner<H>> {
        &self.inner
    }

    /// The options in force.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The handler given to [`Engine::new`].
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.read().map(|s| s.len()).unwrap_or(0)
    }

    /// A router answering on the configured path (with and without its trailing slash).
    /// Merge it with your own routes to share the port.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let path = self.inner.config.path.trim_end_matches('/').to_string();
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        let route = any(handle::<H>).with_state(self.inner.clone());
        let mut router = Router::new().route(&path, route.clone());
        if path != "/" {
            router = router.route(&format!("{path}/"), route);
        }
        router
    }

    /// Serves `routes` and the engine on `listener` until `shutdown` completes, then waits
    /// for the HTTP requests in flight (call [`Engine::shutdown`] in `shutdown` to close the
    /// sessions first).
    ///
    /// Like `axum::serve` with the merged router, plus: a new WebSocket session's handshake
    /// is answered without going through the HTTP stack (one read, one write for the
    /// `101` answer and the OPEN packet), `TCP_NODELAY` is set on every connection, and the
    /// accept loop runs as a task of the runtime (not on the thread that awaits this).
    pub async fn serve_with_shutdown(
        &self,
        listener: tokio::net::TcpListener,
        routes: Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = routes.merge(self.router());
        let accept = super::accept::serve(self.inner.clone(), listener, router, shutdown);
        match tokio::spawn(accept).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Refuses new handshakes from now on (answered with 400 "Server is shutting down");
    /// open sessions go on.
    pub fn stop_accepting(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
    }

    /// Whether new handshakes are accepted (false once shutting down).
    pub fn is_accepting(&self) -> bool {
        !self.inner.shutting_down.load(Ordering::Acquire)
    }

    /// Closes every session with "server shutting down" and waits (up to `grace`) until
    /// they are gone. New handshakes are refused from now on.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutting_down.store(true, Ordering::Release);
        let sessions: Vec<_> = self
            .inner
            .sessions
            .read()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        let wait = self.inner.drained.notified();
        for s in &sessions {
            s.socket.close(CloseReason::ServerShutdown);
        }
        if !sessions.is_empty() {
            let _ = tokio::time::timeout(grace, wait).await;
        }
    }
}

impl<H: EngineHandler> EngineInner<H> {
    /// Opens a session; a polling session gets a task for its heartbeat, a WebSocket
    /// session keeps it in its connection task (which then tears the session down).
    pub(crate) fn open_session(
        self: &Arc<Self>,
        transport: TransportKind,
        request: Arc<RequestInfo>,
        admission: Option<super::admission::Reservation>,
    ) -> (Arc<Session<H::Conn>>, String) {
        let sid = Sid::random();
        let socket = Arc::new(EngineSocket::new(
            sid,
            transport,
            (
                self.config.max_buffered_packets,
                self.config.max_buffered_bytes,
            ),
            request,
        ));
        let conn = self.handler.on_open(&socket);
        let session = Arc::new(Session::new(socket, conn, admission));
        self.metrics.handshakes[transport as usize].increment(1);
        self.metrics.connections[transport as usize].increment(1.0);
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid, session.clone());
        if transport == TransportKind::Polling {
            tokio::spawn(self.clone().drive(session.clone()));
        }
        let upgrades: &[&str] =
            if transport == TransportKind::Polling && self.config.transports.websocket {
                &["websocket"]
            } else {
                &[]
            };
        let open = OpenPacket {
            sid: sid.as_str(),
            upgrades,
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
            max_payload: self.config.max_payload as u64,
        }
        .encode();
        (session, open)
    }

    fn session(&self, sid: &str) -> Option<Arc<Session<H::Conn>>> {
        let sid = Sid::parse(sid)?;
        self.sessions.read().ok()?.get(&sid).cloned()
    }
}

async fn handle<H: EngineHandler>(
    State(engine): State<Arc<EngineInner<H>>>,
    req: Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let cors = &engine.config.cors;
    if parts.method == Method::OPTIONS {
        return preflight(cors, &parts.headers);
    }
    let query = EngineQuery::parse(parts.uri.query().unwrap_or(""));
    if query.eio.as_deref() != Some("4") {
        EngineMetrics::refused("unsupported_protocol");
        return EngineError::UnsupportedProtocolVersion.response(cors, &parts.headers);
    }
    let transport = match query.transport.as_deref() {
        Some("polling") if engine.config.transports.polling => TransportKind::Polling,
        Some("websocket") if engine.config.transports.websocket => TransportKind::Websocket,
        other => {
            tracing::debug!(transport = ?other, "transport not allowed by the server's `transports`: HTTP 400 \"Transport unknown\"");
            if query.sid.is_none() {
                EngineMetrics::refused("unknown_transport");
            }
            return EngineError::UnknownTransport.response(cors, &parts.headers);
        }
    };

    if let Some(sid) = &query.sid {
        let Some(session) = engine
            .session(sid)
            // Closed and told so: the session is on its way out of the map.
            .filter(|s| !s.close_delivered_flag.load(Ordering::Acquire))
        else {
            return EngineError::UnknownSid.response(cors, &parts.headers);
        };
        if session.check_heartbeat()
            && transport == TransportKind::Polling
            && parts.method == Method::GET
        {
            // A session that missed its pong is gone, even if its timer has not fired yet.
            return EngineError::UnknownSid.response(cors, &parts.headers);
        }
        return match transport {
            TransportKind::Polling => match parts.method {
                Method::GET => engine.poll(session, &parts.headers).await,
                Method::POST => engine.post(session, &parts.headers, body).await,
                _ => EngineError::BadRequest.response(cors, &parts.headers),
            },
            TransportKind::Websocket => {
                let Some(upgrade) = Upgrade::from_parts(&mut parts, &engine.config) else {
                    return EngineError::BadRequest.response(cors, &parts.headers);
                };
                if session.socket.transport() != TransportKind::Polling
                    || session.upgrade_claimed.swap(true, Ordering::AcqRel)
                {
                    // Already upgraded (or upgrading): accept the socket and close it at
                    // once, as engine.io does; clients without an error handler on the
                    // upgrade request would crash on an HTTP error.
                    return upgrade.respond(&engine.config, |mut ws| async move {
                        ws.close(None).await;
                    });
                }
                let serving = engine.clone();
                upgrade.respond(&engine.config, move |ws| serving.serve_upgrade(ws, session))
            }
        };
    }

    // A handshake.
    if engine.shutting_down.load(Ordering::Acquire) {
        EngineMetrics::refused("shutting_down");
        return EngineError::BadRequest.response_with(
            Some("Server is shutting down"),
            cors,
            &parts.headers,
        );
    }
    if transport == TransportKind::Polling && parts.method != Method::GET {
        EngineMetrics::refused("bad_method");
        return EngineError::BadHandshakeMethod.response(cors, &parts.headers);
    }
    if let Some(allow) = &engine.config.allow_request {
        if let Err(message) = allow(&parts) {
            EngineMetrics::refused("allow_request");
            return EngineError::Forbidden.response_with(Some(&message), cors, &parts.headers);
        }
    }
    if let Some(allow) = &engine.config.allow_request_async {
        if let Err(message) = allow(&parts).await {
            EngineMetrics::refused("allow_request");
            return EngineError::Forbidden.response_with(Some(&message), cors, &parts.headers);
        }
    }
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let admission = match engine.admit(remote_addr) {
        Ok(reservation) => reservation,
        Err((reason, message)) => {
            EngineMetrics::refused(reason);
            return EngineError::Forbidden.response_with(Some(message), cors, &parts.headers);
        }
    };
    let request = Arc::new(RequestInfo::new(
        owned_headers(&parts.headers),
        owned_uri(&parts.uri),
        remote_addr,
        SystemTime::now(),
    ));
    match transport {
        TransportKind::Polling => {
            let (_session, open) = engine.open_session(TransportKind::Polling, request, admission);
            text_response(
                StatusCode::OK,
                "text/plain; charset=UTF-8",
                Body::from(open),
                cors,
                &parts.headers,
            )
        }
        TransportKind::Websocket => {
            let Some(upgrade) = Upgrade::from_parts(&mut parts, &engine.config) else {
                EngineMetrics::refused("bad_request");
                return EngineError::BadRequest.response(cors, &parts.headers);
            };
            let serving = engine.clone();
            upgrade.respond(&engine.config, move |ws| {
                serving.serve_new_websocket(ws, request, admission)
            })
        }
    }
}

/// Copies the headers into their own allocations: the parsed values share the
/// connection's whole read buffer, which a session must not keep alive.
fn owned_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
            out.append(name.clone(), value);
        }
    }
    out
}

/// Copies the URI for the same reason as [`owned_headers`].
fn owned_uri(uri: &http::Uri) -> http::Uri {
    uri.to_string().parse().unwrap_or_else(|_| uri.clone())
}
