//! Events between the server nodes of a cluster (socket.io's `serverSideEmit`): sent by
//! [`Namespace::server_side_emit`], received by the listeners of
//! [`Namespace::on_server_side`] on every other node, carried by the adapter.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::socketio::{ArgList, Args, EncodeError, Encoder};
use serde::Serialize;
use tokio::sync::mpsc;

use super::error::{AckError, EmitError};
use super::namespace::Namespace;
use super::operators::BroadcastAckError;
use super::socket::BoxFuture;
use crate::adapter::AdapterError;

/// A listener of a server-side event.
pub(crate) type ServerSideHandler =
    Arc<dyn Fn(Args, Option<ServerSideAck>) -> BoxFuture + Send + Sync>;

/// Listeners by event name.
pub(crate) type ServerSideHandlers = Arc<HashMap<String, ServerSideHandler>>;

/// The answer a node gives to a server-side event sent with
/// [`Namespace::server_side_emit_with_ack`]: one value, sent once.
pub struct ServerSideAck(Box<dyn FnOnce(&str) + Send>);

impl std::fmt::Debug for ServerSideAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSideAck")
    }
}

impl ServerSideAck {
    /// An answer that hands its value, as JSON text, to `send` (for adapters).
    pub fn new(send: impl FnOnce(&str) + Send + 'static) -> Self {
        Self(Box::new(send))
    }

    /// Answers with `value` (binary values are not carried between nodes).
    pub fn send<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        let json = serde_json::to_string(value).map_err(EncodeError::from)?;
        (self.0)(&json);
        Ok(())
    }
}

/// The JSON array `["event", ...args]` that travels between nodes.
fn packet(event: &str, args: &(impl ArgList + ?Sized)) -> Result<String, EmitError> {
    let encoded = Encoder::event("/", None, event, args)?;
    if !encoded.attachments.is_empty() {
        return Err(EmitError::Encode(EncodeError::from(
            <serde_json::Error as serde::ser::Error>::custom(
                "binary values cannot be sent to other server nodes",
            ),
        )));
    }
    // `42[...]`: the message and EVENT type digits, then the array (namespace `/`, no
    // ack id).
    let text = String::from_utf8(encoded.text).unwrap_or_default();
    Ok(text.get(2..).unwrap_or_default().to_owned())
}

impl Namespace {
    /// Sends `event` with `args` to this namespace on every other server node of the
    /// cluster (socket.io's `serverSideEmit`); their [`on_server_side`] listeners get it.
    /// With the in-memory adapter there is no other node: nothing is sent.
    ///
    /// [`on_server_side`]: Namespace::on_server_side
    pub fn server_side_emit(
        &self,
        event: &str,
        args: &(impl ArgList + ?Sized),
    ) -> Result<(), ServerSideEmitError> {
        let packet = packet(event, args).map_err(ServerSideEmitError::Emit)?;
        self.adapter()
            .server_side_emit(&packet)
            .map_err(ServerSideEmitError::Adapter)
    }

    /// Like [`server_side_emit`](Namespace::server_side_emit), and waits up to `timeout`
    /// for one answer from each other node (socket.io's `serverSideEmitWithAck`). On
    /// timeout, the error holds the answers that arrived.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: &(impl ArgList + ?Sized),
        timeout: Duration,
    ) -> Result<Vec<Args>, BroadcastAckError> {
        let failed = |error| BroadcastAckError {
            error,
            responses: Vec::new(),
        };
        let packet = packet(event, args).map_err(|e| match e {
            EmitError::Send(e) => failed(AckError::Send(e)),
            EmitError::Encode(_) => failed(AckError::Encode),
        })?;
        let deadline = tokio::time::Instant::now() + timeout;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let on_answer: Arc<dyn Fn(Args) + Send + Sync> = Arc::new(move |args| {
            let _ = tx.send(args);
        });
        let request = self
            .adapter()
            .server_side_emit_with_ack(&packet, timeout, on_answer);
        let expected = match tokio::time::timeout_at(deadline, request).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::warn!(nsp = %self.name(), "serverSideEmit with acks: {e}");
                return Err(failed(AckError::Cluster));
            }
            Err(_) => return Err(failed(AckError::Timeout)),
        };
        let mut responses = Vec::with_capacity(expected);
        while responses.len() < expected {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(args)) => responses.push(args),
                Ok(None) | Err(_) => {
                    return Err(BroadcastAckError {
                        error: AckError::Timeout,
                        responses,
                    })
                }
            }
        }
        Ok(responses)
    }

    /// Sets the listener of server-side event `event` (one per event: a new one replaces
    /// it), called when another node sends it; `ack` is there when that node waits for
    /// an answer. It runs on the adapter's task, like socket.io's listeners in order of
    /// arrival: keep its synchronous part short (spawn long work).
    ///
    /// ```no_run
    /// # use gateway_runtime::socketio::SocketIo;
    /// let io = SocketIo::builder().build();
    /// io.of("/").on_server_side("ping", |args, ack| async move {
    ///     let from: String = args.get(0).unwrap_or_default();
    ///     if let Some(ack) = ack {
    ///         let _ = ack.send(&format!("pong to {from}"));
    ///     }
    /// });
    /// ```
    pub fn on_server_side<F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(Args, Option<ServerSideAck>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ServerSideHandler = Arc::new(move |args, ack| Box::pin(handler(args, ack)));
        self.set_server_side_handler(event.into(), handler);
    }
}

/// Why a server-side event could not be sent.
#[derive(Debug)]
pub enum ServerSideEmitError {
    /// The arguments could not be encoded (or hold binary values).
    Emit(EmitError),
    /// The adapter could not send it.
    Adapter(AdapterError),
}

impl std::fmt::Display for ServerSideEmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Emit(e) => e.fmt(f),
            Self::Adapter(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ServerSideEmitError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::{Binary, SocketIo};

    #[test]
    fn the_packet_is_the_event_array() {
        assert_eq!(packet("hello", &(1, "a")).unwrap(), r#"["hello",1,"a"]"#);
        assert_eq!(packet("x", &()).unwrap(), r#"["x"]"#);
        assert!(packet("x", &(Binary::from(vec![1u8]),)).is_err());
    }

    #[tokio::test]
    async fn a_single_node_has_no_one_to_tell() {
        let io = SocketIo::builder().build();
        let ns = io.of("/");
        ns.server_side_emit("hello", &(1,)).unwrap();
        let answers = ns
            .server_side_emit_with_ack("hello", &(), Duration::from_millis(50))
            .await
            .unwrap();
        assert!(answers.is_empty());
        // The same through the server handle (namespace `/`).
        io.on_server_side("hello", |_args, _ack| async move {});
        io.server_side_emit("hello", &(1,)).unwrap();
        let answers = io
            .server_side_emit_with_ack("hello", &(), Duration::from_millis(50))
            .await
            .unwrap();
        assert!(answers.is_empty());
    }
}
