//! HTTP long-polling: a GET waits for packets, a POST delivers packets.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use gateway_core::engineio::{decode_payload, PayloadEncoder};
use http::{HeaderMap, StatusCode};

use super::http::{text_response, EngineError};
use super::session::{FlagGuard, Session};
use super::{CloseReason, EngineHandler, EngineInner, Outgoing, TransportKind};

const TEXT: &str = "text/plain; charset=UTF-8";
/// How long a poll waiting during an upgrade is kept before its noop (engine.io checks
/// every 100 ms).
const UPGRADE_NOOP_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Closes the session when dropped while armed: a polling GET cancelled before it
/// answered.
struct CloseOnDrop<'a>(Option<&'a Arc<super::EngineSocket>>);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(socket) = self.0.take() {
            if !socket.is_closed() {
                tracing::debug!(sid = %socket.sid(), "polling request cancelled; closing the session");
                socket.close(CloseReason::TransportError);
            }
        }
    }
}

impl<H: EngineHandler> EngineInner<H> {
    /// Answers a polling GET with the queued packets, waiting until there is one.
    pub(crate) async fn poll(
        &self,
        session: Arc<Session<H::Conn>>,
        headers: &HeaderMap,
    ) -> Response {
        let cors = &self.config.cors;
        let socket = &session.socket;
        if socket.transport() != TransportKind::Polling {
            return EngineError::BadRequest.response(cors, headers);
        }
        if session.polling_get.swap(true, Ordering::AcqRel) {
            // Only one GET may wait at a time: an overlapping one ends the session.
            socket.close(CloseReason::TransportError);
            return EngineError::BadRequest.response(cors, headers);
        }
        let _active = FlagGuard(&session.polling_get);
        // A GET the client gives up on (its request is cancelled, so this future is
        // dropped before it answers) ends the session, as engine.io does: the packets it
        // would have carried are lost, so the session cannot go on.
        let mut cancelled = CloseOnDrop(Some(socket));
        let mut batch = Vec::new();
        // One answer carries about `max_payload` bytes: the rest waits for the next poll.
        let max = self.config.max_payload;
        let mut closing = socket.take_queued_upto(&mut batch, max);
        let mut noop_at = None;
        loop {
            if !batch.is_empty() || closing.is_some() {
                let mut body = PayloadEncoder::new();
                for item in batch.drain(..) {
                    match item {
                        Outgoing::Text(t) => body.push_text(t.as_bytes()),
                        Outgoing::Binary(b) => body.push_binary(&b),
                    }
                }
                // The close packet travels alone, in the poll after the last packets:
                // clients handle a payload's packets asynchronously, and a close in the
                // same payload would overtake them.
                if closing.is_some() && body.is_empty() {
                    if closing == Some(CloseReason::TransportClose) {
                        // The client closed the session itself: just release its poll.
                        body.push_text(b"6");
                    } else {
                        body.push_text(b"1");
                    }
                    session.close_delivered_flag.store(true, Ordering::Release);
                    session.close_delivered.notify_one();
                }
                cancelled.0 = None;
                return text_response(StatusCode::OK, TEXT, body.finish(), cors, headers);
            }
            if session.upgrading.load(Ordering::Acquire) {
                // Releases the client's pending poll so it can finish the upgrade, on the
                // next 100 ms check as engine.io does (packets queued meanwhile go in this
                // answer): clients count a noop that comes at once as a packet of their
                // own exchange.
                let due = *noop_at
                    .get_or_insert_with(|| tokio::time::Instant::now() + UPGRADE_NOOP_DELAY);
                match tokio::time::timeout_at(due, socket.drain_upto(&mut batch, max)).await {
                    Ok(close) => {
                        closing = close;
                        continue;
                    }
                    Err(_) => {
                        cancelled.0 = None;
                        return text_response(StatusCode::OK, TEXT, "6", cors, headers);
                    }
                }
            }
            closing = socket.drain_upto(&mut batch, max).await;
        }
    }

    /// Reads a polling POST body and handles its packets.
    pub(crate) async fn post(
        &self,
        session: Arc<Session<H::Conn>>,
        headers: &HeaderMap,
        body: Body,
    ) -> Response {
        let cors = &self.config.cors;
        let socket = &session.socket;
        if socket.transport() != TransportKind::Polling {
            return EngineError::BadRequest.response(cors, headers);
        }
        if session.polling_post.swap(true, Ordering::AcqRel) {
            socket.close(CloseReason::TransportError);
            return EngineError::BadRequest.response(cors, headers);
        }
        let _active = FlagGuard(&session.polling_post);
        let body: Bytes = match axum::body::to_bytes(body, self.config.max_payload).await {
            Ok(b) => b,
            Err(_) => {
                socket.close(CloseReason::TransportError);
                return text_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    TEXT,
                    "payload too large",
                    cors,
                    headers,
                );
            }
        };
        for packet in decode_payload(&body) {
            // The packets of one body are handled as those of WebSocket frames: not after
            // the session closed, and not while the layer above holds reading.
            if socket.reading_held() {
                socket.reading_resumed().await;
            }
            // Answers the client has not polled for yet hold half the byte budget: the
            // rest of its requests wait for its next poll (a client that never polls
            // times out; one that polls is slowed down, not closed).
            // (During an upgrade the client polls no more until this POST is answered.)
            let upgrading = || session.upgrading.load(Ordering::Acquire);
            if socket.backlogged() && !upgrading() {
                socket.backlog_taken(upgrading).await;
            }
            if socket.is_closed() {
                break;
            }
            match packet {
                Ok(packet) => self.on_packet(&session, packet, &body),
                Err(_) => {
                    socket.close(CloseReason::ParseError);
                    return EngineError::BadRequest.response(cors, headers);
                }
            }
        }
        // Backpressure: the client sends its next POST after this answer, so it waits
        // until reading resumes (or the session closes).
        socket.reading_resumed().await;
        text_response(StatusCode::OK, "text/html", "ok", cors, headers)
    }
}
