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
            close_delivered: Notify::new(),
            close_delivered_flag: AtomicBool::new(false),
        }
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

    /// Pings the client every `ping_interval`, closes it when a pong is late, and tears the
    /// session down once it is closed for any reason.
    pub(crate) async fn drive(self: Arc<Self>, session: Arc<Session<H::Conn>>) {
        let socket = &session.socket;
        let interval = self.config.ping_interval;
        let timeout = self.config.ping_timeout;
        let reason = loop {
            tokio::select! {
                _ = socket.closed_signal.notified() => break socket.close_reason(),
                _ = tokio::time::sleep(interval) => {}
            }
            session.awaiting_pong.store(true, Ordering::Release);
            if socket
                .send(Outgoing::Text(Utf8Bytes::from_static("2")))
                .is_err()
            {
                break socket.close_reason();
            }
            tokio::select! {
                _ = socket.closed_signal.notified() => break socket.close_reason(),
                _ = session.pong.notified() => {}
                _ = tokio::time::sleep(timeout) => {
                    socket.close(CloseReason::PingTimeout);
                    break socket.close_reason();
                }
            }
        };
        let reason = reason.unwrap_or(CloseReason::TransportClose);
        self.handler.on_close(&session.conn, socket, reason);
        if socket.transport() == TransportKind::Polling && reason.is_server_side() {
            // The client learns of the close (and reads what was queued before it) from
            // its next poll: keep the session until then.
            let delivered = session.close_delivered.notified();
            if !session.close_delivered_flag.load(Ordering::Acquire) {
                let _ = tokio::time::timeout(timeout.max(interval), delivered).await;
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
