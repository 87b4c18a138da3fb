//! Server-side session state, and the task that drives a session's heartbeat and teardown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use gateway_core::engineio::Packet;
use tokio::sync::Notify;

use super::{
    CloseReason, EngineHandler, EngineInner, EngineSocket, Message, Outgoing, Text, TransportKind,
};

pub(crate) struct Session<C> {
    pub(crate) socket: Arc<EngineSocket>,
    pub(crate) conn: C,
    pong: Notify,
    awaiting_pong: AtomicBool,
    pub(crate) polling_get: AtomicBool,
    pub(crate) polling_post: AtomicBool,
    pub(crate) upgrading: AtomicBool,
    /// When the session was opened (the heartbeat's origin).
    pub(crate) opened: tokio::time::Instant,
    /// When the pong for the last ping is due, if one is awaited.
    pong_deadline: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// An upgrade request holds the session (only one at a time).
    pub(crate) upgrade_claimed: AtomicBool,
    pub(crate) close_delivered: Notify,
    pub(crate) close_delivered_flag: AtomicBool,
    /// The session's place under the connection limits, given back when it is removed.
    admission: std::sync::Mutex<Option<super::admission::Reservation>>,
}

impl<C> Session<C> {
    pub(crate) fn new(
        socket: Arc<EngineSocket>,
        conn: C,
        admission: Option<super::admission::Reservation>,
    ) -> Self {
        Self {
            socket,
            conn,
            pong: Notify::new(),
            awaiting_pong: AtomicBool::new(false),
            polling_get: AtomicBool::new(false),
            polling_post: AtomicBool::new(false),
            upgrading: AtomicBool::new(false),
            opened: tokio::time::Instant::now(),
            pong_deadline: std::sync::Mutex::new(None),
            upgrade_claimed: AtomicBool::new(false),
            close_delivered: Notify::new(),
            close_delivered_flag: AtomicBool::new(false),
            admission: std::sync::Mutex::new(admission),
        }
    }
}

impl<C> Session<C> {
    /// Whether a ping is sent and its pong has not arrived yet.
    pub(crate) fn awaiting_pong(&self) -> bool {
        self.awaiting_pong.load(Ordering::Acquire)
    }

    fn set_pong_deadline(&self, deadline: Option<tokio::time::Instant>) {
        *self.pong_deadline.lock().unwrap_or_else(|e| e.into_inner()) = deadline;
    }

    /// Closes the session if its pong is overdue (the heartbeat timer may run late on a
    /// busy machine; requests check the deadline too). Returns whether it timed out.
    pub(crate) fn check_heartbeat(&self) -> bool {
        let due = *self.pong_deadline.lock().unwrap_or_else(|e| e.into_inner());
        // While reading is held, the heartbeat timer decides (see `Heartbeat::on_timer`).
        if due.is_some_and(|d| tokio::time::Instant::now() >= d) && !self.socket.reading_held() {
            self.socket.close(CloseReason::PingTimeout);
        }
        self.socket.close_reason() == Some(CloseReason::PingTimeout)
    }
}

/// Resets a flag when a request ends, however it ends.
pub(crate) struct FlagGuard<'a>(pub(crate) &'a AtomicBool);

impl Drop for FlagGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<H: EngineHandler> EngineInner<H> {
    /// Handles one packet received on any transport. `frame` owns the bytes `packet`
    /// borrows from, so messages are handed on without copying.
    pub(crate) fn on_packet(&self, session: &Session<H::Conn>, packet: Packet<'_>, frame: &Bytes) {
        match packet {
            Packet::Message(text) => {
                let data = frame.slice_ref(text.as_bytes());
                self.handler
                    .on_text(&session.conn, &session.socket, data, text);
            }
            Packet::Binary(data) => {
                self.handler
                    .on_message(&session.conn, &session.socket, Message::Binary(data));
            }
            Packet::Pong(_) => {
                if session.awaiting_pong.swap(false, Ordering::AcqRel) {
                    session.set_pong_deadline(None);
                    session.pong.notify_one();
                }
            }
            // In Engine.IO v4 only the server pings: a ping from the client is an
            // "invalid heartbeat direction", and the session ends, as in engine.io. (The
            // upgrade's `2probe` is read by the upgrade itself, before this.)
            Packet::Ping(_) => {
                tracing::debug!(sid = %session.socket.sid(), "client ping (invalid heartbeat direction); closing");
                session.socket.close(CloseReason::TransportError);
            }
            Packet::Close => session.socket.close(CloseReason::TransportClose),
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// Keeps a polling (or upgraded) session's heartbeat in a task of its own, and tears
    /// the session down once it is closed for any reason. (A session opened over
    /// WebSocket keeps its heartbeat in its connection task instead.)
    pub(crate) async fn drive(self: Arc<Self>, session: Arc<Session<H::Conn>>) {
        let socket = &session.socket;
        let mut heartbeat =
            Heartbeat::new(&self.config, &session, self.metrics.outgoing_bytes.clone());
        let sleep = tokio::time::sleep_until(heartbeat.wake_at(socket));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = socket.closed_signal.notified() => break,
                _ = session.pong.notified(), if heartbeat.awaiting_pong() => {
                    heartbeat.pong_received();
                }
                _ = &mut sleep => {
                    if heartbeat.on_timer(&session).is_err() {
                        break;
                    }
                }
            }
            let wake = heartbeat.wake_at(socket);
            if sleep.deadline() != wake {
                sleep.as_mut().reset(wake);
            }
        }
        self.teardown(&session).await;
    }

    /// Runs once the session is closed: tells the handler, then forgets the session (a
    /// polling client first gets the chance to read the close).
    pub(crate) async fn teardown(&self, session: &Arc<Session<H::Conn>>) {
        let socket = &session.socket;
        let timeout = self.config.ping_timeout;
        let interval = self.config.ping_interval;
        let reason = socket.close_reason();
        let reason = reason.unwrap_or(CloseReason::TransportClose);
        crate::telemetry::EngineMetrics::closed(reason);
        self.handler.on_close(&session.conn, socket, reason);
        let client_closed = reason == CloseReason::TransportClose;
        if socket.transport() == TransportKind::Polling
            && (reason.is_server_side() || client_closed)
        {
            // The client learns of the close (and reads what was queued before it) from
            // its next poll: keep the session until then.
            let delivered = session.close_delivered.notified();
            if !session.close_delivered_flag.load(Ordering::Acquire) {
                let mut grace = timeout.max(interval);
                if client_closed {
                    // Only a poll racing the client's own close can still come.
                    grace = grace.min(std::time::Duration::from_secs(1));
                }
                let _ = tokio::time::timeout(grace, delivered).await;
            }
        }
        self.remove(session);
    }

    fn remove(&self, session: &Arc<Session<H::Conn>>) {
        drop(
            session
                .admission
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        if sessions.remove(&session.socket.sid()).is_some() {
            self.metrics.connections[session.socket.transport() as usize].decrement(1.0);
        }
        if sessions.is_empty() {
            self.drained.notify_waiters();
        }
    }
}

/// How many more ping timeouts a pong gets while the session's reading is held.
const HELD_EXTENSIONS: u8 = 4;

/// A session's heartbeat: when to ping next, whether a pong is awaited, and the deadline
/// for the protocol on top to establish itself. Time is kept by the task that owns it.
pub(crate) struct Heartbeat {
    interval: std::time::Duration,
    timeout: std::time::Duration,
    next_ping: tokio::time::Instant,
    pong_due: Option<tokio::time::Instant>,
    /// Extensions given to the awaited pong while reading was held.
    extended: u8,
    /// The engine's `engineio_outgoing_buffered_bytes`, and this session's share of it.
    outgoing: metrics::Gauge,
    reported_bytes: usize,
}

impl Drop for Heartbeat {
    /// The session is over: its share of the queued bytes goes.
    fn drop(&mut self) {
        if self.reported_bytes > 0 {
            self.outgoing.decrement(self.reported_bytes as f64);
        }
    }
}

impl Heartbeat {
    pub(crate) fn new<C>(
        config: &super::EngineConfig,
        session: &Session<C>,
        outgoing: metrics::Gauge,
    ) -> Self {
        Self {
            interval: config.ping_interval,
            timeout: config.ping_timeout,
            // The clock starts with the session, not when its task first runs.
            next_ping: session.opened + config.ping_interval,
            pong_due: None,
            extended: 0,
            outgoing,
            reported_bytes: 0,
        }
    }

    /// Brings this session's share of `engineio_outgoing_buffered_bytes` up to date.
    fn report_queued(&mut self, socket: &EngineSocket) {
        let now = socket.queued_bytes();
        if now != self.reported_bytes {
            self.outgoing
                .increment(now as f64 - self.reported_bytes as f64);
            self.reported_bytes = now;
        }
    }

    /// When the owning task must call [`on_timer`](Self::on_timer) next.
    pub(crate) fn wake_at(&self, socket: &EngineSocket) -> tokio::time::Instant {
        let due = self.pong_due.unwrap_or(self.next_ping);
        socket.establish_by().map_or(due, |by| by.min(due))
    }

    pub(crate) fn awaiting_pong(&self) -> bool {
        self.pong_due.is_some()
    }

    /// The awaited pong arrived: the next ping is an interval from now.
    pub(crate) fn pong_received(&mut self) {
        self.pong_due = None;
        self.extended = 0;
        self.next_ping = tokio::time::Instant::now() + self.interval;
    }

    /// Sends a ping when one is due; closes the session when its pong or its
    /// establishment is overdue (`Err`: the session is closed).
    pub(crate) fn on_timer<C>(&mut self, session: &Session<C>) -> Result<(), ()> {
        let socket = &session.socket;
        let now = tokio::time::Instant::now();
        if socket.establish_by().is_some_and(|by| now >= by) {
            socket.close(CloseReason::ForcedClose);
            return Err(());
        }
        match self.pong_due {
            // While reading is held (this server's handlers catching up), the pong may be
            // among the messages left unread: not the client's fault, so it gets a few more
            // timeouts (not endless ones: a dead client must still be found out).
            Some(due) if now >= due && socket.reading_held() && self.extended < HELD_EXTENSIONS => {
                let due = now + self.timeout;
                session.set_pong_deadline(Some(due));
                self.pong_due = Some(due);
                self.extended += 1;
                Ok(())
            }
            Some(due) if now >= due => {
                socket.close(CloseReason::PingTimeout);
                Err(())
            }
            Some(_) => Ok(()),
            None if now >= self.next_ping => {
                self.report_queued(socket);
                let due = now + self.timeout;
                session.set_pong_deadline(Some(due));
                session.awaiting_pong.store(true, Ordering::Release);
                self.pong_due = Some(due);
                socket
                    .send(Outgoing::Text(Text::from_static("2")))
                    .map_err(|_| ())
            }
            None => Ok(()),
        }
    }
}
