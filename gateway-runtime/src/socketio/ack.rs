//! Acknowledgements in both directions.

use std::future::Future;
use std::sync::Arc;
use std::task::Context;

use gateway_core::socketio::{ArgList, Args, Encoder, Payload};

use super::error::EmitError;
use super::socket::Socket;
use crate::engine::{Outgoing, Text};

/// Answers a client's event that asked for an acknowledgement. Sending consumes it, so
/// an event is acknowledged at most once.
///
/// ```no_run
/// # use gateway_runtime::socketio::{Socket, AckSender};
/// # fn f(socket: Socket) {
/// socket.on("ping", |_socket, _args, ack: Option<AckSender>| async move {
///     if let Some(ack) = ack {
///         let _ = ack.send(&("pong",));
///     }
/// });
/// # }
/// ```
#[derive(Debug)]
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> Self {
        Self { socket, id }
    }

    /// The ack id chosen by the client.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends the acknowledgement with these arguments (a tuple; `()` for none).
    pub fn send(self, args: &(impl ArgList + ?Sized)) -> Result<(), EmitError> {
        let packet = Encoder::ack(self.socket.namespace_name(), self.id, args)?;
        self.socket.send_encoded(packet)?;
        self.sent();
        Ok(())
    }

    /// Reports the acknowledgement sent (metrics, and the `event` span's `acked`).
    fn sent(&self) {
        self.socket.0.ns.metrics.acks_sent.increment(1);
        crate::telemetry::record_event("acked", true);
    }

    /// Sends the acknowledgement with one serialized argument, written around it where it
    /// lies (what a handler's return value becomes).
    pub fn send_payload(self, payload: Payload) -> Result<(), EmitError> {
        if !self.socket.json_parser() {
            return self.send(&payload);
        }
        match Encoder::ack_in_place(self.socket.namespace_name(), self.id, payload) {
            Ok((buf, start)) => {
                let text = Text::encoded(buf, start);
                self.socket.engine().send(Outgoing::Text(text))?;
                self.sent();
                Ok(())
            }
            Err(payload) => self.send(&payload),
        }
    }
}

/// Where an awaited acknowledgement is delivered.
pub(crate) enum AckSlot {
    One(tokio::sync::oneshot::Sender<Args>),
    Many(Arc<dyn Fn(Args) + Send + Sync>),
}

/// Runs a handler future the way Node runs a listener: its synchronous part runs now, in
/// arrival order; if it then waits on something, it continues as a task. Handlers are
/// boxed already (`Unpin`), so it is polled where it is and moved into a task only if it
/// has to wait.
pub(crate) fn run_now<F>(fut: F)
where
    F: Future<Output = ()> + Send + Unpin + 'static,
{
    if let Some(rest) = poll_now(fut) {
        tokio::spawn(rest);
    }
}

/// Polls `fut` once (a panic is logged, not propagated); what is left to run when it has
/// to wait.
pub(crate) fn poll_now<F>(fut: F) -> Option<impl Future<Output = ()> + Send + Unpin + 'static>
where
    F: Future<Output = ()> + Send + Unpin + 'static,
{
    use futures_util::FutureExt;
    // A panicking listener is logged; it takes down neither the connection nor the server.
    let mut fut = std::panic::AssertUnwindSafe(fut)
        .catch_unwind()
        .map(|outcome| {
            if outcome.is_err() {
                tracing::error!("a Socket.IO listener panicked");
            }
        });
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    std::pin::Pin::new(&mut fut)
        .poll(&mut cx)
        .is_pending()
        .then_some(fut)
}
