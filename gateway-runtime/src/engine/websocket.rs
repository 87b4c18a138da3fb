//! The WebSocket transport: direct connections and upgrades from long-polling.
//!
//! The RFC 6455 handshake is answered here and the upgraded connection is driven by one
//! task that reads frames ([`FrameReader`], payloads unmasked in place and handed on
//! without a copy) and writes every queued packet of a wake-up in one write.

use std::future::Future;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::response::Response;
use bytes::{Bytes, BytesMut};
use gateway_core::engineio::Packet;
use gateway_core::websocket::{
    accept_key, encode_close, encode_close_with_reason, encode_header, encode_header_rsv1,
    CloseCode, FrameKind, FrameReader, ProtocolError, WsMessage,
};
use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use http::{HeaderValue, Method, StatusCode};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::session::{Heartbeat, Session};
use super::{
    CloseReason, EngineConfig, EngineHandler, EngineInner, Outgoing, RequestInfo, TransportKind,
};

/// Pause after writing a namespace CONNECT answer when more packets are queued.
const CONNECT_PACING: Duration = Duration::from_millis(1);
/// A read buffer larger than this (or than 4 read chunks) after a message is replaced by a
/// small one.
const RESTING_MAX: usize = 64 * 1024;
/// Time given to a close frame to leave before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A connection a WebSocket can run on: the upgraded HTTP connection, or the TCP stream
/// itself when the handshake was answered before any HTTP stack saw it.
pub(crate) trait WsIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> WsIo for T {}

/// A valid WebSocket upgrade request, not answered yet.
pub(crate) struct Upgrade {
    on_upgrade: OnUpgrade,
    accept: HeaderValue,
    /// The `Sec-WebSocket-Extensions` answer: permessage-deflate accepted.
    extensions: Option<&'static str>,
}

/// The `Sec-WebSocket-Extensions` answer to a request's headers: `Some` when compression is
/// on (`per_message_deflate`) and the client offered an acceptable `permessage-deflate`.
pub(crate) fn negotiate_deflate<'a>(
    config: &EngineConfig,
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Option<&'static str> {
    config.per_message_deflate?;
    let offers = headers
        .filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok());
    gateway_core::permessage_deflate::negotiate(offers)
}

/// The `Sec-WebSocket-Key` among an upgrade request's headers (`Connection: upgrade`,
/// `Upgrade: websocket`, `Sec-WebSocket-Version: 13`); `None` when they do not ask for a
/// WebSocket.
pub(crate) fn upgrade_key<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Option<&'a [u8]> {
    let (mut connection, mut upgrade, mut version, mut key) = (false, false, false, None);
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            version = value == b"13";
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            key = Some(value);
        }
    }
    if connection && upgrade && version {
        key
    } else {
        None
    }
}

fn has_token(value: &[u8], token: &str) -> bool {
    std::str::from_utf8(value)
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

impl Upgrade {
    /// Checks an HTTP/1.1 upgrade request (`GET`, `Connection: upgrade`,
    /// `Upgrade: websocket`, version 13, a key); `None` when it is not one.
    pub(crate) fn from_parts(
        parts: &mut http::request::Parts,
        config: &EngineConfig,
    ) -> Option<Self> {
        if parts.method != Method::GET {
            return None;
        }
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        let key = upgrade_key(headers)?;
        let accept = HeaderValue::try_from(accept_key(key)).ok()?;
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        let extensions = negotiate_deflate(config, headers);
        let on_upgrade = parts.extensions.remove::<OnUpgrade>()?;
        Some(Self {
            on_upgrade,
            accept,
            extensions,
        })
    }

    /// Answers `101 Switching Protocols` and runs `serve` on the connection once the
    /// answer is written.
    pub(crate) fn respond<F, Fut>(self, config: &EngineConfig, serve: F) -> Response
    where
        F: FnOnce(WsConn<TokioIo<Upgraded>>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let limits = Limits::from(config);
        let deflate = self.extensions.and(config.per_message_deflate);
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let ws = WsConn::new(TokioIo::new(upgraded), limits, BytesMut::new());
                serve(ws.with_deflate(deflate)).await;
            }
        });
        let mut response = Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(SEC_WEBSOCKET_ACCEPT, self.accept);
        if let Some(extensions) = self.extensions {
            headers.insert(
                http::header::SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_static(extensions),
            );
        }
        response
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Limits {
    read_chunk: usize,
    max_message: usize,
    copy_threshold: usize,
}

impl From<&EngineConfig> for Limits {
    fn from(config: &EngineConfig) -> Self {
        Self {
            read_chunk: config.ws_read_buffer.max(64),
            max_message: config.max_payload,
            copy_threshold: config.ws_write_buffer,
        }
    }
}

/// Why reading from a WebSocket stopped.
enum ReadEnd {
    /// The peer closed the TCP connection, or reading failed.
    Eof(CloseReason),
    /// The peer broke the protocol (a close frame with its code was queued).
    Protocol(ProtocolError),
}

/// An upgraded connection: framing on top of the raw bytes.
pub(crate) struct WsConn<IO> {
    io: IO,
    reader: FrameReader,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    limits: Limits,
    /// The read buffer grew past its resting size for a large message: it is replaced by
    /// a small one once that message is taken out of it.
    grown: bool,
    /// permessage-deflate negotiated: messages of at least this many bytes are compressed.
    deflate: Option<u32>,
}

impl<IO: WsIo> WsConn<IO> {
    /// A connection whose first bytes (read with the handshake) are `read`.
    pub(crate) fn new(io: IO, limits: Limits, read: BytesMut) -> Self {
        Self {
            io,
            reader: FrameReader::new(limits.max_message),
            rbuf: read,
            wbuf: Vec::new(),
            limits,
            grown: false,
            deflate: None,
        }
    }

    /// Compression negotiated (`threshold`: the smallest message compressed), or not.
    pub(crate) fn with_deflate(mut self, threshold: Option<usize>) -> Self {
        if let Some(threshold) = threshold {
            self.deflate = Some(u32::try_from(threshold).unwrap_or(u32::MAX));
            self.reader = FrameReader::new(self.limits.max_message).with_deflate(true);
        }
        self
    }

    /// Queues bytes to send before the first frame (the handshake answer), so that both
    /// leave in one write.
    pub(crate) fn queue_raw(&mut self, bytes: &[u8]) {
        // With room for the OPEN packet that follows.
        self.wbuf.reserve(bytes.len() + 160);
        self.wbuf.extend_from_slice(bytes);
    }

    /// The next whole message among the bytes already read.
    fn next_message(&mut self) -> Result<Option<WsMessage>, ProtocolError> {
        self.reader.next_message(&mut self.rbuf)
    }

    /// Reads more bytes (cancel safe): `Err` at the end of the stream.
    async fn fill(&mut self) -> Result<(), CloseReason> {
        if self.grown && self.rbuf.len() <= self.limits.read_chunk {
            // The large message is out: the allocation that held it goes with it (a
            // reserve would otherwise reuse it, and keep it, for the connection's life).
            let mut small = BytesMut::with_capacity(self.limits.read_chunk);
            small.extend_from_slice(&self.rbuf);
            self.rbuf = small;
            self.grown = false;
        }
        // Room for the rest of a large frame grows with what has arrived (at most doubling):
        // a header announcing a megabyte must not make an idle peer cost a megabyte.
        let rest = self
            .reader
            .frame_len_hint(&self.rbuf)
            .unwrap_or(0)
            .saturating_sub(self.rbuf.len());
        let want = rest
            .min(self.rbuf.len().max(self.limits.read_chunk))
            .max(self.limits.read_chunk);
        self.rbuf.reserve(want);
        self.grown |= self.rbuf.capacity() > (self.limits.read_chunk * 4).max(RESTING_MAX);
        match self.io.read_buf(&mut self.rbuf).await {
            Ok(0) => Err(CloseReason::TransportClose),
            Ok(_) => Ok(()),
            Err(_) => Err(CloseReason::TransportError),
        }
    }

    /// The next message, reading as needed.
    async fn recv(&mut self) -> Result<WsMessage, ReadEnd> {
        loop {
            if let Some(message) = self.next_message().map_err(ReadEnd::Protocol)? {
                return Ok(message);
            }
            self.fill().await.map_err(ReadEnd::Eof)?;
        }
    }

    /// Queues a small frame to go with the next write.
    fn queue_frame(&mut self, kind: FrameKind, payload: &[u8]) {
        encode_header(&mut self.wbuf, kind, payload.len());
        self.wbuf.extend_from_slice(payload);
    }

    /// Queues a frame; payloads above the copy threshold are written at once, in place.
    /// With compression, data messages from the threshold on are compressed into the queue.
    async fn queue(&mut self, kind: FrameKind, payload: &[u8], limit: Duration) -> io::Result<()> {
        if let Some(threshold) = self.deflate {
            if payload.len() >= threshold as usize
                && matches!(kind, FrameKind::Text | FrameKind::Binary)
            {
                let mut packed = Vec::new();
                gateway_core::permessage_deflate::deflate(payload, &mut packed);
                encode_header_rsv1(&mut self.wbuf, kind, packed.len(), true);
                self.wbuf.extend_from_slice(&packed);
                if self.wbuf.len() > self.limits.copy_threshold {
                    return self.flush(limit).await;
                }
                return Ok(());
            }
        }
        if payload.len() <= self.limits.copy_threshold {
            self.queue_frame(kind, payload);
            return Ok(());
        }
        encode_header(&mut self.wbuf, kind, payload.len());
        self.flush(limit).await?;
        write_within(&mut self.io, payload, limit).await
    }

    /// Writes what is queued; a peer that does not read for `limit` is an error.
    async fn flush(&mut self, limit: Duration) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let result = write_within(&mut self.io, &self.wbuf, limit).await;
        self.wbuf.clear();
        if self.wbuf.capacity() > self.limits.copy_threshold.max(4096) * 4 {
            self.wbuf = Vec::new();
        }
        result
    }

    /// Sends a close frame with `code` and shuts the connection down.
    pub(crate) async fn close(&mut self, code: Option<CloseCode>) {
        match code {
            Some(code) => encode_close(&mut self.wbuf, code),
            None => encode_header(&mut self.wbuf, FrameKind::Close, 0),
        }
        self.shut_down().await;
    }

    /// Sends the close frame that tells the client why the server closed its session.
    async fn close_for(&mut self, reason: CloseReason) {
        match reason {
            CloseReason::BufferFull => {
                encode_close_with_reason(
                    &mut self.wbuf,
                    CloseCode::POLICY_VIOLATION,
                    reason.as_str(),
                );
                self.shut_down().await;
            }
            _ => self.close(None).await,
        }
    }

    async fn shut_down(&mut self) {
        let _ = self.flush(CLOSE_GRACE).await;
        let _ = tokio::time::timeout(CLOSE_GRACE, self.io.shutdown()).await;
    }

    async fn send_text(&mut self, text: &str, limit: Duration) -> io::Result<()> {
        self.queue(FrameKind::Text, text.as_bytes(), limit).await?;
        self.flush(limit).await
    }
}

/// Writes `data` completely; the deadline timer is armed only when the socket is not
/// writable at once (the common case needs no timer).
async fn write_within<IO: WsIo>(io: &mut IO, data: &[u8], limit: Duration) -> io::Result<()> {
    let mut write = std::pin::pin!(async {
        io.write_all(data).await?;
        io.flush().await
    });
    if let Poll::Ready(result) =
        std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await
    {
        return result;
    }
    match tokio::time::timeout(limit, write).await {
        Ok(result) => result,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

impl<H: EngineHandler> EngineInner<H> {
    /// A client that opened its session over WebSocket.
    pub(crate) async fn serve_new_websocket<IO: WsIo>(
        self: Arc<Self>,
        mut ws: WsConn<IO>,
        request: Arc<RequestInfo>,
        admission: Option<super::admission::Reservation>,
    ) {
        let (session, open) = self.open_session(TransportKind::Websocket, request, admission);
        // Queued behind the handshake's answer: the connection loop's first write sends
        // both. (Awaiting a send here would size this long-lived task for that send's
        // state too.)
        ws.queue_frame(FrameKind::Text, open.as_bytes());
        let heartbeat = Heartbeat::new(&self.config, &session, self.metrics.outgoing_bytes.clone());
        self.run_websocket(&session, &mut ws, Some(heartbeat)).await;
        // The connection closes before the session's teardown (which may wait on hooks).
        drop(ws);
        self.teardown(&session).await;
    }

    /// A polling client probing and then upgrading to WebSocket.
    pub(crate) async fn serve_upgrade<IO: WsIo>(
        self: Arc<Self>,
        mut ws: WsConn<IO>,
        session: Arc<Session<H::Conn>>,
    ) {
        let limit = self.write_limit();
        let probe = async {
            loop {
                let frame = match ws.recv().await {
                    Ok(WsMessage::Text(frame)) => frame,
                    Ok(WsMessage::Ping(data)) => {
                        if ws.queue(FrameKind::Pong, &data, limit).await.is_err()
                            || ws.flush(limit).await.is_err()
                        {
                            return false;
                        }
                        continue;
                    }
                    Ok(WsMessage::Pong) => continue,
                    _ => return false,
                };
                match std::str::from_utf8(&frame).map(Packet::decode_text) {
                    Ok(Ok(Packet::Ping("probe"))) => {
                        if ws.send_text("3probe", limit).await.is_err() {
                            return false;
                        }
                        session.upgrading.store(true, Ordering::Release);
                        session.socket.kick();
                        session.socket.wake_waiting_requests();
                    }
                    Ok(Ok(Packet::Upgrade)) if session.upgrading.load(Ordering::Acquire) => {
                        return true
                    }
                    Ok(Ok(Packet::Noop)) => {}
                    _ => return false,
                }
            }
        };
        let upgraded = matches!(
            tokio::time::timeout(self.config.upgrade_timeout, probe).await,
            Ok(true)
        );
        if !upgraded || session.socket.is_closed() {
            session.upgrading.store(false, Ordering::Release);
            session.upgrade_claimed.store(false, Ordering::Release);
            ws.close(None).await;
            return;
        }
        session.socket.set_transport(TransportKind::Websocket);
        session.upgrading.store(false, Ordering::Release);
        self.metrics.upgrades.increment(1);
        self.metrics.connections[TransportKind::Polling as usize].decrement(1.0);
        self.metrics.connections[TransportKind::Websocket as usize].increment(1.0);
        self.handler.on_upgrade(&session.conn, &session.socket);
        // The session's own task keeps its heartbeat and tears it down.
        self.run_websocket(&session, &mut ws, None).await;
    }

    /// How long a write may wait for a peer that does not read.
    fn write_limit(&self) -> Duration {
        self.config.ping_interval + self.config.ping_timeout
    }

    /// Runs the connection until the session closes (it is closed when this returns).
    /// With `heartbeat`, this task also pings the client and enforces the deadlines.
    /// (`ws` is borrowed: an async fn keeps its arguments for its whole life, so a
    /// connection passed down by value would be stored once per level in the task.)
    async fn run_websocket<IO: WsIo>(
        &self,
        session: &Arc<Session<H::Conn>>,
        ws: &mut WsConn<IO>,
        mut heartbeat: Option<Heartbeat>,
    ) {
        let socket = &session.socket;
        let limit = self.write_limit();
        let mut batch = Vec::new();
        let mut timer = Timer::new(heartbeat.as_ref().map(|h| h.wake_at(socket)));
        loop {
            // Everything already read, in order, before waiting again (unless the layer
            // above holds reading: the rest waits in the buffer).
            let mut backlogged = false;
            let end = loop {
                if socket.reading_held() {
                    break None;
                }
                // Backlogged: what the handled messages queued is written before more
                // are handled (their answers would otherwise pile up in the queue).
                if socket.backlogged() {
                    backlogged = true;
                    break None;
                }
                match ws.next_message() {
                    Ok(None) => break None,
                    Ok(Some(WsMessage::Text(frame))) => match std::str::from_utf8(&frame) {
                        Ok(text) => match Packet::decode_text(text) {
                            Ok(packet) => self.on_packet(session, packet, &frame),
                            Err(_) => socket.close(CloseReason::ParseError),
                        },
                        Err(_) => {
                            break Some(ReadEnd::Protocol(ProtocolError {
                                code: CloseCode::INVALID_DATA,
                                reason: "text message is not UTF-8",
                            }))
                        }
                    },
                    Ok(Some(WsMessage::Binary(data))) => {
                        self.on_packet(session, Packet::Binary(data), &Bytes::new());
                    }
                    Ok(Some(WsMessage::Ping(data))) => {
                        if ws.queue(FrameKind::Pong, &data, limit).await.is_err() {
                            break Some(ReadEnd::Eof(CloseReason::TransportError));
                        }
                    }
                    Ok(Some(WsMessage::Pong)) => {}
                    Ok(Some(WsMessage::Close(code))) => {
                        socket.close(CloseReason::TransportClose);
                        ws.close(code.map(CloseCode)).await;
                        return;
                    }
                    Err(e) => break Some(ReadEnd::Protocol(e)),
                }
            };
            match end {
                Some(ReadEnd::Protocol(e)) => {
                    tracing::debug!(sid = %socket.sid(), error = %e, "closing a WebSocket that broke the protocol");
                    socket.close(CloseReason::TransportError);
                    ws.close(Some(e.code)).await;
                    return;
                }
                Some(ReadEnd::Eof(reason)) => {
                    socket.close(reason);
                    return;
                }
                None => {}
            }
            if let Some(heartbeat) = &mut heartbeat {
                if heartbeat.awaiting_pong() && !session.awaiting_pong() {
                    heartbeat.pong_received();
                    timer.set(heartbeat.wake_at(socket));
                }
            }
            // What the messages just handled queued (and anything else waiting) leaves
            // before more is read, in one write with the pongs.
            let closing = socket.take_queued(&mut batch);
            if write_batch(ws, &mut batch, limit).await.is_err() {
                socket.close(CloseReason::TransportError);
                return;
            }
            if batch.capacity() > 64 {
                // A burst's worth of room is not kept for the connection's life.
                batch = Vec::new();
            }
            if let Some(reason) = closing {
                ws.close_for(reason).await;
                return;
            }
            if backlogged {
                // Messages already read wait in the buffer: handle them before reading.
                continue;
            }
            tokio::select! {
                biased;
                read = ws.fill(), if !socket.reading_held() => {
                    // Packets queued while the messages are handled are written right
                    // after them: they need not wake this task.
                    socket.unpark();
                    if let Err(reason) = read {
                        socket.close(reason);
                        return;
                    }
                }
                // Packets queued by others (or reading released): handled at the top of
                // the loop.
                _ = socket.drain(&mut batch) => {}
                () = timer.fired() => {
                    if let Some(heartbeat) = &mut heartbeat {
                        // A close it decides is written at the top of the loop.
                        let _ = heartbeat.on_timer(session);
                        timer.set(heartbeat.wake_at(socket));
                    }
                }
            }
        }
    }
}

/// The heartbeat's timer in a connection task. It is polled (registered with the
/// runtime) once per deadline; afterwards the task only checks whether it fired, so
/// waiting on it costs nothing per message.
struct Timer {
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    registered: bool,
}

impl Timer {
    fn new(deadline: Option<tokio::time::Instant>) -> Self {
        Self {
            sleep: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            registered: false,
        }
    }

    fn set(&mut self, deadline: tokio::time::Instant) {
        if let Some(sleep) = &mut self.sleep {
            if sleep.deadline() != deadline {
                sleep.as_mut().reset(deadline);
                self.registered = false;
            }
        }
    }

    /// Completes when the deadline has passed; never without one.
    async fn fired(&mut self) {
        std::future::poll_fn(|cx| match &mut self.sleep {
            Some(sleep) if !self.registered => {
                self.registered = true;
                // Outside the task's budget: a poll refused for budget would leave the
                // timer unregistered, and it would never fire.
                let mut once = tokio::task::unconstrained(sleep.as_mut());
                std::pin::Pin::new(&mut once).poll(cx)
            }
            Some(sleep) if sleep.is_elapsed() => Poll::Ready(()),
            _ => Poll::Pending,
        })
        .await
    }
}

/// Writes queued packets together, in one write when they are small; a namespace CONNECT
/// answer is flushed on its own, then the writer pauses briefly so the client can handle
/// it before what the connection listener emitted (socket.io's write-after-drain has the
/// same effect, and clients that handle one frame per event-loop turn rely on it).
async fn write_batch<IO: WsIo>(
    ws: &mut WsConn<IO>,
    batch: &mut Vec<Outgoing>,
    limit: Duration,
) -> io::Result<()> {
    let mut items = batch.drain(..).peekable();
    while let Some(item) = items.next() {
        match &item {
            Outgoing::Text(t) => {
                ws.queue(FrameKind::Text, t.as_bytes(), limit).await?;
                if t.as_bytes().starts_with(b"40") && items.peek().is_some() {
                    ws.flush(limit).await?;
                    tokio::time::sleep(CONNECT_PACING).await;
                }
            }
            Outgoing::Binary(b) => ws.queue(FrameKind::Binary, b, limit).await?,
        }
    }
    ws.flush(limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heartbeat timer is armed in whatever poll the connection task is in; a poll
    /// whose budget is spent must still leave it registered.
    #[tokio::test(start_paused = true)]
    async fn a_timer_armed_with_the_budget_spent_still_fires() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut timer = Timer::new(Some(deadline));
        std::future::poll_fn(|cx| {
            loop {
                let mut spend = std::pin::pin!(tokio::task::consume_budget());
                if spend.as_mut().poll(cx).is_pending() {
                    break;
                }
            }
            let mut fired = std::pin::pin!(timer.fired());
            assert!(fired.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        tokio::time::timeout(Duration::from_secs(5), timer.fired())
            .await
            .expect("the timer fired");
        assert!(tokio::time::Instant::now() >= deadline);
    }
}
