//! The engine's own accept loop.
//!
//! A WebSocket handshake on the engine path is answered straight from the TCP stream:
//! the request head is read once, and the `101` answer and the Engine.IO OPEN packet leave
//! in one write. Every other request (polling, upgrades of polling sessions, errors, your
//! routes) goes to the axum router through hyper, with the bytes already read put back in
//! front of the stream, so it is answered exactly as `axum::serve` would answer it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use gateway_core::websocket::accept_key;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::http::EngineQuery;
use super::websocket::{Limits, WsConn};
use super::{EngineHandler, EngineInner, RequestInfo};

/// Largest request head looked at here; a bigger one goes to hyper (which refuses it).
const MAX_HEAD: usize = 16 * 1024;
/// Time a new connection has to send its first request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers parsed in a handshake; a request with more goes to hyper.
const MAX_HEADERS: usize = 64;

/// Accepts connections on `listener` until `shutdown` completes, then waits for the HTTP
/// requests in flight (sessions are closed by the engine's own shutdown).
pub(crate) async fn serve<H: EngineHandler>(
    engine: Arc<EngineInner<H>>,
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut nodelay = NoDelay::on_listener(&listener);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        nodelay.apply(&stream);
        tokio::spawn(connection(
            engine.clone(),
            stream,
            addr,
            router.clone(),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    stop_tx.closed().await;
    Ok(())
}

/// TCP_NODELAY for every accepted connection: set on the listening socket, where the
/// system passes it on to accepted ones (Linux does), else on each connection.
enum NoDelay {
    /// Not known yet whether accepted connections inherit it: the first one tells.
    Unchecked,
    Inherited,
    PerConnection,
}

impl NoDelay {
    fn on_listener(listener: &TcpListener) -> Self {
        match socket2::SockRef::from(listener).set_tcp_nodelay(true) {
            Ok(()) => Self::Unchecked,
            Err(_) => Self::PerConnection,
        }
    }

    fn apply(&mut self, stream: &TcpStream) {
        match self {
            Self::Inherited => {}
            Self::PerConnection => {
                let _ = stream.set_nodelay(true);
            }
            Self::Unchecked => {
                if stream.nodelay().unwrap_or(false) {
                    *self = Self::Inherited;
                } else {
                    *self = Self::PerConnection;
                    let _ = stream.set_nodelay(true);
                }
            }
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn connection<H: EngineHandler>(
    engine: Arc<EngineInner<H>>,
    mut stream: TcpStream,
    addr: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<()>,
) {
    let mut buf = BytesMut::with_capacity(1024);
    let classify = |req: &httparse::Request<'_, '_>, head: &[u8]| {
        websocket_handshake(&engine, req, head, addr)
    };
    let head = tokio::select! {
        read = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream, &mut buf, classify)) => match read {
            Ok(Ok(head)) => head,
            Ok(Err(_)) | Err(_) => return,
        },
        // Shutting down: a connection that has not sent a request yet is closed.
        _ = stop.changed() => return,
    };
    if let Some((len, Some(handshake))) = head {
        drop(stop);
        let rest = if len == buf.len() {
            BytesMut::new()
        } else {
            buf.split_off(len)
        };
        // The head's bytes go now: the read buffer can then reuse the allocation.
        drop(buf);
        // In a block: a `ws` local of this function would keep a second copy of the
        // connection in the task for its whole life.
        let ws = {
            let mut ws = WsConn::new(stream, Limits::from(&engine.config), rest).with_deflate(
                engine
                    .config
                    .per_message_deflate
                    .filter(|_| handshake.deflate),
            );
            ws.queue_raw(&handshake.answer);
            ws
        };
        engine
            .serve_new_websocket(ws, handshake.request, handshake.admission)
            .await;
        return;
    }
    // Boxed: a WebSocket connection's task must not carry the HTTP connection's state.
    Box::pin(serve_http(stream, buf.freeze(), addr, router, stop)).await;
}

/// Serves HTTP/1 on `stream` (whose first bytes, already read, are `prefix`) with `router`.
async fn serve_http(
    stream: TcpStream,
    prefix: Bytes,
    addr: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<()>,
) {
    let io = TokioIo::new(Prefixed { prefix, io: stream });
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(addr));
        tower_service::Service::call(&mut router.clone(), req)
    });
    let mut conn = pin!(hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(io, service)
        .with_upgrades());
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Reads until `buf` holds a whole request head and hands it, parsed once, to `classify`:
/// `Some((its length, what classify made of it))`, or `None` when it is not one this
/// module answers (malformed, too big: hyper will say so).
async fn read_head<T>(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    classify: impl FnOnce(&httparse::Request<'_, '_>, &[u8]) -> T,
) -> io::Result<Option<(usize, T)>> {
    loop {
        if stream.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) => {
                return Ok(Some((len, classify(&req, &buf[..len]))))
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => buf.reserve(1024),
            _ => return Ok(None),
        }
    }
}

struct Handshake {
    /// Shared already: the connection's long-lived task then carries a pointer, not the
    /// request.
    request: Arc<RequestInfo>,
    answer: Vec<u8>,
    /// permessage-deflate was accepted.
    deflate: bool,
    /// The connection's place under the per-address limit, kept by its session.
    admission: Option<super::admission::Reservation>,
}

/// The handshake of a new WebSocket session that this module can answer, checked as the
/// router's handler would check it; `None` leaves the request to the router.
fn websocket_handshake<H: EngineHandler>(
    engine: &EngineInner<H>,
    req: &httparse::Request<'_, '_>,
    head: &[u8],
    addr: SocketAddr,
) -> Option<Handshake> {
    let config = &engine.config;
    if !config.transports.websocket
        || engine.shutting_down.load(Ordering::Acquire)
        || config.allow_request_async.is_some()
    {
        return None;
    }
    if req.method? != "GET" || req.version? != 1 {
        return None;
    }
    let target = req.path?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !path_matches(&config.path, path) {
        return None;
    }
    let query = EngineQuery::parse(query);
    if query.eio.as_deref() != Some("4")
        || query.transport.as_deref() != Some("websocket")
        || query.sid.is_some()
    {
        return None;
    }
    let key = super::websocket::upgrade_key(req.headers.iter().map(|h| (h.name, h.value)))?;
    // Only a new session's handshake counts against the connection limits.
    let admission = if config.limits_connections() {
        match engine.admit(Some(addr)) {
            Ok(reservation) => reservation,
            // The router's handler answers the refusal.
            Err(_) => return None,
        }
    } else {
        None
    };
    let mut answer = Vec::with_capacity(160);
    answer.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: ",
    );
    answer.extend_from_slice(accept_key(key).as_bytes());
    let extensions =
        super::websocket::negotiate_deflate(config, req.headers.iter().map(|h| (h.name, h.value)));
    if let Some(extensions) = extensions {
        answer.extend_from_slice(b"\r\nsec-websocket-extensions: ");
        answer.extend_from_slice(extensions.as_bytes());
    }
    answer.extend_from_slice(b"\r\n\r\n");
    // One copy of the head, kept by the session: the URI is a slice of it, the headers are
    // parsed from it if someone asks (not the connection's read buffer: it is reused).
    let owned = Bytes::copy_from_slice(head);
    let uri = Uri::from_maybe_shared(part_of(&owned, head, target.as_bytes())).ok()?;
    let time = SystemTime::now();
    let request = match &config.allow_request {
        None => RequestInfo::from_head(owned, uri, Some(addr), time),
        Some(allow) => {
            let mut parts = http::Request::builder()
                .method(Method::GET)
                .uri(uri)
                .version(Version::HTTP_11)
                .body(())
                .ok()?
                .into_parts()
                .0;
            parts.headers = parse_headers(&owned);
            parts.extensions.insert(ConnectInfo(addr));
            allow(&parts).ok()?;
            RequestInfo::new(parts.headers, parts.uri, Some(addr), time)
        }
    };
    Some(Handshake {
        request: Arc::new(request),
        answer,
        deflate: extensions.is_some(),
        admission,
    })
}

/// The headers of a request head (the values are slices of `head`).
pub(crate) fn parse_headers(head: &Bytes) -> HeaderMap {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let mut map = HeaderMap::new();
    if req.parse(head).is_err() {
        return map;
    }
    map.reserve(req.headers.len());
    for h in req.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_maybe_shared(head.slice_ref(h.value)),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    map
}

/// The bytes of `owned` (a copy of `head`) where `part` (a slice of `head`) lies.
fn part_of(owned: &Bytes, head: &[u8], part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).saturating_sub(head.as_ptr() as usize);
    owned.slice(start.min(owned.len())..(start + part.len()).min(owned.len()))
}

/// Whether `path` is the engine path, with or without its trailing slash (as routed).
fn path_matches(engine_path: &str, path: &str) -> bool {
    let base = engine_path.trim_end_matches('/');
    if base.is_empty() {
        return path == "/";
    }
    path.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest == "/")
}

/// A stream with bytes already read put back in front of it.
struct Prefixed {
    prefix: Bytes,
    io: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            if !self.prefix.has_remaining() {
                // An empty slice still holds the whole read buffer: an upgraded
                // connection keeps this stream for its life.
                self.prefix = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::{connection, path_matches, NoDelay, Prefixed};
    use bytes::Bytes;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    /// An idle WebSocket connection costs its buffers, its session and this task, which
    /// lives as long as the connection: it must not carry what only the handshake needs.
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let io = crate::socketio::SocketIo::builder().build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, addr) = listener.accept().await.unwrap();
        let (_stop_tx, stop_rx) = watch::channel(());
        let task = connection(
            io.engine_inner(),
            stream,
            addr,
            axum::Router::new(),
            stop_rx,
        );
        let size = std::mem::size_of_val(&task);
        eprintln!("connection task: {size} bytes");
        assert!(size <= 2048, "a connection's task takes {size} bytes");
    }

    #[tokio::test]
    async fn every_accepted_connection_has_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut nodelay = NoDelay::on_listener(&listener);
        for _ in 0..3 {
            let _client = TcpStream::connect(addr).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            nodelay.apply(&stream);
            assert!(stream.nodelay().unwrap());
        }
        // Linux passes the listener's option on: no system call per connection.
        if cfg!(target_os = "linux") {
            assert!(matches!(nodelay, NoDelay::Inherited));
        }
    }

    /// An upgraded connection keeps its stream for its whole life: once the request head
    /// put back in front has been read, the buffer it came in must be let go.
    #[tokio::test]
    async fn a_read_prefix_lets_go_of_its_buffer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let head = Bytes::from(b"GET /socket.io/?EIO=4 HTTP/1.1\r\n\r\n".to_vec());
        let mut io = Prefixed {
            prefix: head.clone(),
            io: stream,
        };
        let mut got = vec![0; head.len()];
        io.read_exact(&mut got[..10]).await.unwrap();
        assert!(!head.is_unique(), "half of the head is still to be read");
        io.read_exact(&mut got[10..]).await.unwrap();
        assert_eq!(got, head);
        assert!(
            head.is_unique(),
            "the stream still holds the request head's buffer"
        );
    }

    #[test]
    fn engine_paths_match_with_and_without_the_slash() {
        assert!(path_matches("/socket.io/", "/socket.io/"));
        assert!(path_matches("/socket.io/", "/socket.io"));
        assert!(!path_matches("/socket.io/", "/socket.iox"));
        assert!(!path_matches("/socket.io/", "/socket.io/x"));
        assert!(path_matches("/", "/"));
        assert!(!path_matches("/", "/x"));
    }
}
