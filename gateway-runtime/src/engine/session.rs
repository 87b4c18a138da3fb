//! Server-side session state, and the task that drives a session's heartbeat and teardown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use gateway_core::engineio::Packet;
use tokio::sync::Notify;

use super::{
    CloseReason, EngineHandler, EngineInner, EngineSocket, Message, Outgoing, TransportKind,
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
}

impl<C> Session<C> {
    pub(crate) fn new(socket: Arc<EngineSocket>, conn: C) -> Self {
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
        }
    }
}

impl<C> Session<C> {
    fn set_pong_deadline(&self, deadline: Option<tokio::time::Instant>) {
        *self.pong_deadline.lock().unwrap_or_else(|e| e.into_inner()) = deadline;
    }

    /// Closes the session if its pong is overdue (the heartbeat timer may run late on a
    /// busy machine; requests check the deadline too). Returns whether it timed out.
    pub(crate) fn check_heartbeat(&self) -> bool {
        let due = *self.pong_deadline.lock().unwrap_or_else(|e| e.into_inner());
        if due.is_some_and(|d| tokio::time::Instant::now() >= d) {
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
                    .on_message(&session.conn, &session.socket, Message::Text(data));
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
            Packet::Ping(data) => {
                let mut pong = String::with_capacity(1 + data.len());
                pong.push('3');
                pong.push_str(data);
                let _ = session.socket.send(Outgoing::Text(pong.into()));
            }
            Packet::Close => session.socket.close(CloseReason::TransportClose),
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// Pings the client every `ping_interval`, closes it when a pong is late or when it was
    /// not established in time ([`EngineSocket::establish_within`]), and tears the session
    /// down once it is closed for any reason. One timer, re-armed for the next due time.
    ///
    /// [`EngineSocket::establish_within`]: super::EngineSocket::establish_within
    pub(crate) async fn drive(self: Arc<Self>, session: Arc<Session<H::Conn>>) {
        let socket = &session.socket;
        let interval = self.config.ping_interval;
        let timeout = self.config.ping_timeout;
        // The clock starts with the session, not when this task first runs.
        let mut next_ping = session.opened + interval;
        let mut pong_due: Option<tokio::time::Instant> = None;
        let sleep = tokio::time::sleep_until(next_ping);
        tokio::pin!(sleep);
        let reason = loop {
            let establish_by = socket.establish_by();
            let due = pong_due.unwrap_or(next_ping);
            let wake = establish_by.map_or(due, |e| e.min(due));
            if sleep.deadline() != wake {
                sleep.as_mut().reset(wake);
            }
            tokio::select! {
                _ = socket.closed_signal.notified() => break socket.close_reason(),
                _ = session.pong.notified(), if pong_due.is_some() => {
                    pong_due = None;
                    next_ping = tokio::time::Instant::now() + interval;
                    continue;
                }
                _ = &mut sleep => {}
            }
            let now = tokio::time::Instant::now();
            if socket.establish_by().is_some_and(|by| now >= by) {
                socket.close(CloseReason::ForcedClose);
                break socket.close_reason();
            }
            match pong_due {
                Some(deadline) if now >= deadline => {
                    socket.close(CloseReason::PingTimeout);
                    break socket.close_reason();
                }
                Some(_) => {}
                None if now >= next_ping => {
                    let deadline = now + timeout;
                    session.set_pong_deadline(Some(deadline));
                    session.awaiting_pong.store(true, Ordering::Release);
                    if socket
                        .send(Outgoing::Text(Utf8Bytes::from_static("2")))
                        .is_err()
                    {
                        break socket.close_reason();
                    }
                    pong_due = Some(deadline);
                }
                None => {}
            }
        };
        let reason = reason.unwrap_or(CloseReason::TransportClose);
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
        self.remove(&session);
    }

    fn remove(&self, session: &Arc<Session<H::Conn>>) {
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        sessions.remove(&session.socket.sid());
        if sessions.is_empty() {
            self.drained.notify_waiters();
        }
    }
}
