//! The sending half of an Engine.IO session.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::Notify;

use super::{CloseReason, Sid, Text};

/// One queued packet, already encoded (text packets include their type digit).
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A text packet, e.g. `42["event"]` or `2`.
    Text(Text),
    /// A binary message.
    Binary(Bytes),
}

impl Outgoing {
    /// The packet's size in bytes, as counted against the outgoing byte budget.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.as_bytes().len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the packet is empty (never the case for a packet the engine writes).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bytes of a packet and its attachments, as counted against the byte budget.
fn parts_len(first: &Outgoing, attachments: &[Bytes]) -> usize {
    first.len() + attachments.iter().map(Bytes::len).sum::<usize>()
}

/// Why a packet was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The session is closed.
    Closed,
    /// The queue held `max_buffered_packets` packets or `max_buffered_bytes` bytes: the
    /// session is being closed (see [`CloseReason::BufferFull`]).
    QueueFull,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "the connection is closed",
            Self::QueueFull => "the connection's outgoing queue is full; it is being closed",
        })
    }
}

impl std::error::Error for SendError {}

/// What the client sent with its handshake request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    headers: OnceLock<http::HeaderMap>,
    /// The request head as received, when the headers are parsed from it on demand.
    head: Bytes,
    /// The request URI (path and query).
    pub uri: http::Uri,
    /// The peer address, when known.
    pub remote_addr: Option<SocketAddr>,
    /// When the handshake arrived.
    pub time: SystemTime,
}

impl RequestInfo {
    /// A request with these headers.
    pub fn new(
        headers: http::HeaderMap,
        uri: http::Uri,
        remote_addr: Option<SocketAddr>,
        time: SystemTime,
    ) -> Self {
        Self {
            headers: OnceLock::from(headers),
            head: Bytes::new(),
            uri,
            remote_addr,
            time,
        }
    }

    /// A request whose headers are read from `head` (the whole request head) when first
    /// asked for: most sessions never look at them, and a parsed map costs far more memory
    /// than the bytes.
    pub(crate) fn from_head(
        head: Bytes,
        uri: http::Uri,
        remote_addr: Option<SocketAddr>,
        time: SystemTime,
    ) -> Self {
        Self {
            headers: OnceLock::new(),
            head,
            uri,
            remote_addr,
            time,
        }
    }

    /// Request headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.headers
            .get_or_init(|| super::accept::parse_headers(&self.head))
    }

    /// The value of query parameter `key`, percent-decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        super::http::query_pairs(self.uri.query().unwrap_or(""))
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

/// The transport a session uses now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

struct Queue {
    items: VecDeque<Outgoing>,
    /// The bytes of `items`.
    bytes: usize,
    close: Option<CloseReason>,
    /// The transport task waiting for packets (one at a time: the WebSocket task, or the
    /// pending polling GET).
    writer: Option<Waker>,
    /// The writer should look at the session again although nothing was queued (a
    /// transport change).
    kicked: bool,
    /// When the session is closed unless the layer above has called
    /// [`EngineSocket::established`] by then.
    establish_by: Option<tokio::time::Instant>,
}

impl Queue {
    /// Moves every queued packet into `out` (and consumes a kick); the close reason if
    /// closing.
    fn take_all(&mut self, out: &mut Vec<Outgoing>) -> Option<CloseReason> {
        self.kicked = false;
        out.extend(self.items.drain(..));
        self.bytes = 0;
        self.shrink();
        self.close
    }

    /// Moves queued packets into `out` until about `max_bytes` are taken (always at least
    /// one); the close reason once nothing is left.
    fn take_upto(&mut self, out: &mut Vec<Outgoing>, max_bytes: usize) -> Option<CloseReason> {
        if max_bytes == usize::MAX {
            return self.take_all(out);
        }
        self.kicked = false;
        let mut taken = 0;
        while let Some(item) = self.items.front() {
            let len = item.len();
            if taken > 0 && taken + len > max_bytes {
                break;
            }
            taken += len;
            self.bytes -= len;
            out.extend(self.items.pop_front());
        }
        self.shrink();
        self.items.is_empty().then_some(self.close).flatten()
    }

    /// Lets go of the room a burst of packets needed.
    fn shrink(&mut self) {
        if self.items.capacity() > 64 && self.items.len() < 16 {
            self.items.shrink_to(16);
        }
    }

    /// The writer, to wake once the lock is released.
    fn take_writer(&mut self) -> Option<Waker> {
        self.writer.take()
    }
}

/// An Engine.IO session as seen by the layers above: send packets, close, read the
/// handshake request. Packets leave in the order they were queued.
pub struct EngineSocket {
    sid: Sid,
    queue: Mutex<Queue>,
    pub(crate) closed_signal: Notify,
    closed: AtomicBool,
    /// The writer waits in [`poll_drain`](Self::poll_drain) for packets. The writer clears
    /// it itself when something else woke it ([`unpark`](Self::unpark)), so the packets
    /// its own handlers queue do not wake it again.
    parked: AtomicBool,
    /// The layer above has too much in progress: the transport stops reading.
    read_held: AtomicBool,
    /// Wakes a polling POST whose answer waits for reading to resume, its backlog to be
    /// taken, or the close.
    read_released: Notify,
    /// Half the byte budget or more waits unsent: the transport reads no more requests
    /// until the client has taken some of it.
    backlogged: AtomicBool,
    transport: AtomicU8,
    max_buffered: usize,
    max_buffered_bytes: usize,
    request: Arc<RequestInfo>,
}

impl fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSocket")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

impl EngineSocket {
    pub(crate) fn new(
        sid: Sid,
        transport: TransportKind,
        (max_buffered, max_buffered_bytes): (usize, usize),
        request: Arc<RequestInfo>,
    ) -> Self {
        Self {
            sid,
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                bytes: 0,
                close: None,
                writer: None,
                kicked: false,
                establish_by: None,
            }),
            closed_signal: Notify::new(),
            closed: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            read_held: AtomicBool::new(false),
            read_released: Notify::new(),
            backlogged: AtomicBool::new(false),
            transport: AtomicU8::new(transport as u8),
            max_buffered,
            max_buffered_bytes,
            request,
        }
    }

    /// The session id.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The handshake request.
    pub fn request(&self) -> &Arc<RequestInfo> {
        &self.request
    }

    /// The transport in use.
    pub fn transport(&self) -> TransportKind {
        if self.transport.load(Ordering::Acquire) == TransportKind::Websocket as u8 {
            TransportKind::Websocket
        } else {
            TransportKind::Polling
        }
    }

    pub(crate) fn set_transport(&self, t: TransportKind) {
        self.transport.store(t as u8, Ordering::Release);
    }

    /// Whether the session is closed (or closing).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The bytes queued and not yet taken by the transport.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Queues one packet.
    pub fn send(&self, packet: Outgoing) -> Result<(), SendError> {
        self.send_parts(packet, &[])
    }

    /// Queues a text packet followed by its binary attachments, atomically: nothing sent
    /// from another task can slip in between.
    ///
    /// When the queue would exceed `max_buffered_packets` packets or `max_buffered_bytes`
    /// bytes, nothing more is queued: what waits unsent is dropped and the session closes
    /// with [`CloseReason::BufferFull`]. (A single packet larger than the byte budget is
    /// still queued when nothing else waits.)
    pub fn send_parts(&self, first: Outgoing, attachments: &[Bytes]) -> Result<(), SendError> {
        let writer = {
            let mut q = self.lock();
            if q.close.is_some() {
                return Err(SendError::Closed);
            }
            let bytes = parts_len(&first, attachments);
            if q.items.len() + 1 + attachments.len() > self.max_buffered
                || (!q.items.is_empty() && q.bytes + bytes > self.max_buffered_bytes)
            {
                let (packets, queued) = (q.items.len(), q.bytes);
                // Unsent packets are dropped at once: a peer that does not read must not
                // keep them in memory until its session is torn down.
                q.items = VecDeque::new();
                q.bytes = 0;
                drop(q);
                tracing::warn!(
                    sid = %self.sid, packets, bytes = queued,
                    "outgoing queue over its limit (the client does not read fast enough); closing the connection"
                );
                self.close(CloseReason::BufferFull);
                return Err(SendError::QueueFull);
            }
            q.bytes += bytes;
            q.items.push_back(first);
            q.items
                .extend(attachments.iter().cloned().map(Outgoing::Binary));
            self.note_backlog(&q);
            // A writer that is not waiting takes everything queued when it next looks.
            self.take_parked(&mut q)
        };
        if let Some(writer) = writer {
            writer.wake();
        }
        Ok(())
    }

    /// Queues a packet only when nothing is waiting to be written (socket.io's
    /// `volatile`): returns whether it was queued.
    pub fn send_volatile(&self, first: Outgoing, attachments: &[Bytes]) -> bool {
        let writer = {
            let mut q = self.lock();
            if q.close.is_some() || !q.items.is_empty() {
                return false;
            }
            q.bytes += parts_len(&first, attachments);
            q.items.push_back(first);
            q.items
                .extend(attachments.iter().cloned().map(Outgoing::Binary));
            self.note_backlog(&q);
            self.take_parked(&mut q)
        };
        if let Some(writer) = writer {
            writer.wake();
        }
        true
    }

    /// Marks the session backlogged when half its byte budget waits (queue locked).
    fn note_backlog(&self, q: &Queue) {
        if q.bytes >= self.backlog_mark() {
            self.backlogged.store(true, Ordering::Relaxed);
        }
    }

    /// Clears the backlog mark once the client took enough (queue locked).
    fn taken(&self, q: &Queue) {
        if q.bytes < self.backlog_mark() && self.backlogged.swap(false, Ordering::Relaxed) {
            self.read_released.notify_waiters();
        }
    }

    /// Half the byte budget (at least one byte: an empty queue is never backlogged).
    fn backlog_mark(&self) -> usize {
        (self.max_buffered_bytes / 2).max(1)
    }

    /// Whether half the byte budget or more waits unsent: transports stop handling the
    /// client's requests (whose answers would add to it) until it takes some.
    pub(crate) fn backlogged(&self) -> bool {
        self.backlogged.load(Ordering::Relaxed)
    }

    /// Waits until the session is not [`backlogged`](Self::backlogged), `stop()` says so,
    /// or the session is closed.
    pub(crate) async fn backlog_taken(&self, stop: impl Fn() -> bool) {
        self.released_when(|| !self.backlogged() || stop()).await;
    }

    /// Wakes the requests waiting in [`backlog_taken`](Self::backlog_taken) to look again.
    pub(crate) fn wake_waiting_requests(&self) {
        self.read_released.notify_waiters();
    }

    /// The writer, if it waits for packets (called with the queue locked).
    fn take_parked(&self, q: &mut Queue) -> Option<Waker> {
        if self.parked.swap(false, Ordering::Relaxed) {
            q.take_writer()
        } else {
            None
        }
    }

    /// The writer was woken by something else and will look at the queue before it
    /// waits again: packets queued meanwhile need not wake it.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Stops reading from the client until [`release_reading`](Self::release_reading):
    /// backpressure for a layer above that has too much in progress. Messages already
    /// received wait unread; the client's own sends slow down as its TCP window fills (a
    /// polling client's POST is answered only once reading resumes).
    pub fn hold_reading(&self) {
        self.read_held.store(true, Ordering::Release);
    }

    /// Resumes reading after [`hold_reading`](Self::hold_reading).
    pub fn release_reading(&self) {
        if self.read_held.swap(false, Ordering::AcqRel) {
            self.read_released.notify_waiters();
            self.kick();
        }
    }

    /// Waits until reading is not held, or the session is closed.
    pub(crate) async fn reading_resumed(&self) {
        self.released_when(|| !self.reading_held()).await;
    }

    /// Waits on the read-release signal until `done()` or the session is closed.
    async fn released_when(&self, done: impl Fn() -> bool) {
        loop {
            let released = self.read_released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if done() || self.is_closed() {
                return;
            }
            released.await;
        }
    }

    /// Whether reading is held.
    pub fn reading_held(&self) -> bool {
        self.read_held.load(Ordering::Acquire)
    }

    /// Makes the waiting writer look at the session again (its transport changed).
    pub(crate) fn kick(&self) {
        let writer = {
            let mut q = self.lock();
            q.kicked = true;
            q.take_writer()
        };
        if let Some(writer) = writer {
            writer.wake();
        }
    }

    /// Closes the session: queued packets are still flushed, then the transport closes.
    /// Only the first reason counts.
    pub fn close(&self, reason: CloseReason) {
        let writer = {
            let mut q = self.lock();
            if q.close.is_some() {
                return;
            }
            q.close = Some(reason);
            q.take_writer()
        };
        self.closed.store(true, Ordering::Release);
        if let Some(writer) = writer {
            writer.wake();
        }
        self.closed_signal.notify_one();
        self.read_released.notify_waiters();
    }

    /// Closes the session (as [`CloseReason::ForcedClose`]) unless [`established`] is
    /// called within `limit` from now: for a protocol on top that must complete its own
    /// handshake (Socket.IO's CONNECT to a namespace). The session's heartbeat task keeps
    /// the time, so no task or timer is added per session.
    ///
    /// [`established`]: Self::established
    pub fn establish_within(&self, limit: std::time::Duration) {
        self.lock().establish_by = Some(tokio::time::Instant::now() + limit);
    }

    /// The protocol on top completed its handshake: [`establish_within`] no longer
    /// applies.
    ///
    /// [`establish_within`]: Self::establish_within
    pub fn established(&self) {
        self.lock().establish_by = None;
    }

    /// When the session must be established by, if it must.
    pub(crate) fn establish_by(&self) -> Option<tokio::time::Instant> {
        self.lock().establish_by
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.lock().close
    }

    /// Moves every queued packet into `out` once there is something to do: packets, a
    /// close (its reason is returned) or a [`kick`](Self::kick). Otherwise the task is
    /// woken when there is. One lock per look; one writer may wait at a time.
    pub(crate) fn poll_drain(
        &self,
        cx: &mut Context<'_>,
        out: &mut Vec<Outgoing>,
    ) -> Poll<Option<CloseReason>> {
        self.poll_drain_upto(cx, out, usize::MAX)
    }

    /// [`poll_drain`](Self::poll_drain), taking about `max_bytes` at most.
    fn poll_drain_upto(
        &self,
        cx: &mut Context<'_>,
        out: &mut Vec<Outgoing>,
        max_bytes: usize,
    ) -> Poll<Option<CloseReason>> {
        let mut q = self.lock();
        if q.items.is_empty() && q.close.is_none() && !q.kicked {
            match &mut q.writer {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            self.parked.store(true, Ordering::Relaxed);
            return Poll::Pending;
        }
        let close = q.take_upto(out, max_bytes);
        self.taken(&q);
        Poll::Ready(close)
    }

    /// Moves every queued packet into `out` without waiting; returns the close reason if
    /// closing.
    pub(crate) fn take_queued(&self, out: &mut Vec<Outgoing>) -> Option<CloseReason> {
        self.take_queued_upto(out, usize::MAX)
    }

    /// Moves queued packets into `out` without waiting, about `max_bytes` at most (at least
    /// one packet; all of them with `usize::MAX`); returns the close reason once nothing
    /// is left.
    pub(crate) fn take_queued_upto(
        &self,
        out: &mut Vec<Outgoing>,
        max_bytes: usize,
    ) -> Option<CloseReason> {
        let mut q = self.lock();
        let close = q.take_upto(out, max_bytes);
        self.taken(&q);
        close
    }

    /// The bytes of the packets waiting to be written.
    pub fn buffered_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Waits for [`poll_drain`](Self::poll_drain) to have something.
    pub(crate) async fn drain(&self, out: &mut Vec<Outgoing>) -> Option<CloseReason> {
        std::future::poll_fn(|cx| self.poll_drain(cx, out)).await
    }

    /// [`drain`](Self::drain), taking about `max_bytes` at most.
    pub(crate) async fn drain_upto(
        &self,
        out: &mut Vec<Outgoing>,
        max_bytes: usize,
    ) -> Option<CloseReason> {
        std::future::poll_fn(|cx| self.poll_drain_upto(cx, out, max_bytes)).await
    }
}
