//! The WebSocket transport: direct connections and upgrades from long-polling.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use gateway_core::engineio::Packet;

use super::session::Session;
use super::{CloseReason, EngineHandler, EngineInner, Outgoing, RequestInfo, TransportKind};

/// Pause after writing a namespace CONNECT answer when more packets are queued.
const CONNECT_PACING: std::time::Duration = std::time::Duration::from_millis(1);

impl<H: EngineHandler> EngineInner<H> {
    /// A client that opened its session over WebSocket.
    pub(crate) async fn serve_new_websocket(
        self: Arc<Self>,
        mut ws: WebSocket,
        request: RequestInfo,
    ) {
        let (session, open) = self.open_session(TransportKind::Websocket, request);
        if ws.send(WsMessage::Text(open.into())).await.is_err() {
            session.socket.close(CloseReason::TransportError);
            return;
        }
        self.run_websocket(session, ws).await;
    }

    /// A polling client probing and then upgrading to WebSocket.
    pub(crate) async fn serve_upgrade(
        self: Arc<Self>,
        mut ws: WebSocket,
        session: Arc<Session<H::Conn>>,
    ) {
        let probe = async {
            while let Some(Ok(msg)) = ws.recv().await {
                let WsMessage::Text(text) = msg else {
                    return false;
                };
                match Packet::decode_text(text.as_str()) {
                    Ok(Packet::Ping("probe")) => {
                        if ws
                            .send(WsMessage::Text(Utf8Bytes::from_static("3probe")))
                            .await
                            .is_err()
                        {
                            return false;
                        }
                        session.upgrading.store(true, Ordering::Release);
                        session.socket.wake.notify_one();
                    }
                    Ok(Packet::Upgrade) if session.upgrading.load(Ordering::Acquire) => {
                        return true
                    }
                    Ok(Packet::Noop) => {}
                    _ => return false,
                }
            }
            false
        };
        let upgraded = matches!(
            tokio::time::timeout(self.config.upgrade_timeout, probe).await,
            Ok(true)
        );
        if !upgraded || session.socket.is_closed() {
            session.upgrading.store(false, Ordering::Release);
            session.upgrade_claimed.store(false, Ordering::Release);
            let _ = ws.send(WsMessage::Close(None)).await;
            return;
        }
        session.socket.set_transport(TransportKind::Websocket);
        session.upgrading.store(false, Ordering::Release);
        session.socket.wake.notify_one();
        self.run_websocket(session, ws).await;
    }

    async fn run_websocket(&self, session: Arc<Session<H::Conn>>, ws: WebSocket) {
        let socket = &session.socket;
        let (mut sink, mut stream) = ws.split();
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(WsMessage::Text(text))) => {
                        let frame = Bytes::from(text);
                        match std::str::from_utf8(&frame).ok().map(Packet::decode_text) {
                            Some(Ok(packet)) => self.on_packet(&session, packet, &frame),
                            _ => socket.close(CloseReason::ParseError),
                        }
                    }
                    Some(Ok(WsMessage::Binary(data))) => {
                        self.on_packet(&session, Packet::Binary(data), &Bytes::new());
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                    Some(Ok(WsMessage::Close(_))) | None => {
                        socket.close(CloseReason::TransportClose);
                        break;
                    }
                    Some(Err(_)) => {
                        socket.close(CloseReason::TransportError);
                        break;
                    }
                },
                _ = socket.wake.notified() => {
                    let closing = socket.drain_into(&mut batch);
                    // A peer that stops reading must not hold the connection forever.
                    let deadline = self.config.ping_interval + self.config.ping_timeout;
                    let written = tokio::time::timeout(deadline, write_batch(&mut sink, &mut batch)).await;
                    batch.clear();
                    if !matches!(written, Ok(Ok(()))) {
                        socket.close(CloseReason::TransportError);
                        break;
                    }
                    if closing.is_some() {
                        let close = sink.send(WsMessage::Close(None));
                        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
                        break;
                    }
                }
            }
        }
    }
}

/// Writes queued packets: frames are written together and flushed once; a namespace
/// CONNECT answer is flushed on its own, then the writer pauses briefly so the client can
/// handle it before what the connection listener emitted (socket.io's write-after-drain has
/// the same effect, and clients that handle one frame per event-loop turn rely on it).
async fn write_batch(
    sink: &mut futures_util::stream::SplitSink<WebSocket, WsMessage>,
    batch: &mut Vec<Outgoing>,
) -> Result<(), axum::Error> {
    let mut items = batch.drain(..).peekable();
    while let Some(item) = items.next() {
        let pace = matches!(&item, Outgoing::Text(t) if t.as_str().starts_with("40"))
            && items.peek().is_some();
        let msg = match item {
            Outgoing::Text(t) => WsMessage::Text(t),
            Outgoing::Binary(b) => WsMessage::Binary(b),
        };
        if pace {
            sink.send(msg).await?;
            tokio::time::sleep(CONNECT_PACING).await;
        } else {
            sink.feed(msg).await?;
        }
    }
    sink.flush().await
}
