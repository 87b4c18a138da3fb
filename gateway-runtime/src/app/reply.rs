//! What a handler returns, and what the client gets for it.

use std::pin::Pin;

use futures_util::Stream;
use serde::Serialize;

use super::exception::Exception;
use crate::socketio::{AnyValue, Payload};

/// The outcome of a handler, after result mapping.
pub enum Reply {
    /// Nothing is sent (`()` or `None` returned).
    None,
    /// The acknowledgement's value, serialized (dropped when the client asked for none).
    /// `Payload::to_any` reads it; `Payload::from_serialize` makes a new one.
    Value(Payload),
    /// An emit to the client instead of an acknowledgement ([`WsResponse`]).
    Emit {
        /// The event.
        event: String,
        /// Its single argument.
        data: Payload,
    },
    /// One emit per item until the stream ends or the client disconnects.
    Stream(Pin<Box<dyn Stream<Item = WsResponse<Payload>> + Send>>),
    /// The acknowledgement with several arguments (or none): the payload is their JSON
    /// array, `null` for none ([`Arguments`]).
    Arguments(Payload),
    /// An emit with several arguments (or none) instead of an acknowledgement
    /// (`WsResponse<Arguments<T>>`).
    EmitArguments {
        /// The event.
        event: String,
        /// The arguments, as for [`Reply::Arguments`].
        args: Payload,
    },
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::None => f.write_str("None"),
            Reply::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Reply::Emit { event, data } => f
                .debug_struct("Emit")
                .field("event", event)
                .field("data", data)
                .finish(),
            Reply::Stream(_) => f.write_str("Stream(..)"),
            Reply::Arguments(a) => f.debug_tuple("Arguments").field(a).finish(),
            Reply::EmitArguments { event, args } => f
                .debug_struct("EmitArguments")
                .field("event", event)
                .field("args", args)
                .finish(),
        }
    }
}

/// Returned by a handler: emit `event` with `data` to the client instead of acknowledging.
///
/// ```
/// use gateway_runtime::app::WsResponse;
/// fn handler() -> WsResponse<&'static str> {
///     WsResponse::new("pong", "hello")
/// }
/// ```
#[derive(Debug, Clone)]
pub struct WsResponse<T> {
    /// The event.
    pub event: String,
    /// Its argument.
    pub data: T,
}

impl<T> WsResponse<T> {
    /// An emit of `event` with `data`.
    pub fn new(event: impl Into<String>, data: T) -> Self {
        Self {
            event: event.into(),
            data,
        }
    }
}

/// Returned by a handler: the acknowledgement with exactly these arguments, where a plain
/// return value acknowledges with one (`cb(value)`, and `None` sends nothing, as in
/// NestJS). A tuple gives one argument per element, `()` none, a `Vec` one per item.
/// Inside [`WsResponse`], the emit's arguments.
///
/// | the client's callback gets | return |
/// |---|---|
/// | `cb()` | `Arguments(())` |
/// | `cb(null)` | `Arguments((None::<()>,))` |
/// | `cb(null, user)` (Node's error-first style) | `Arguments((None::<()>, user))` |
/// | `cb(a, b)` | `Arguments((a, b))` |
/// | `socket.on("tick", () => ..)` with no argument | `WsResponse::new("tick", Arguments(()))` |
///
/// ```
/// use gateway_runtime::prelude::*;
/// use gateway_runtime::app::Arguments;
///
/// #[gateway(namespace = "/files")]
/// struct Files;
///
/// #[gateway]
/// impl Files {
///     /// `socket.emitWithAck("stat", "a.txt")` resolves to the first argument; with
///     /// `socket.emit("stat", "a.txt", (err, size) => ..)` the client gets both.
///     #[subscribe_message("stat")]
///     fn stat(&self, #[message_body] name: String) -> Arguments<(Option<String>, usize)> {
///         Arguments((None, name.len()))
///     }
///
///     #[subscribe_message("ping")]
///     fn ping(&self) -> WsResponse<Arguments<()>> {
///         WsResponse::new("pong", Arguments(()))
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Arguments<T>(pub T);

impl<T: crate::socketio::ArgList + Serialize> IntoReply for Arguments<T> {
    fn into_reply(self) -> Result<Reply, Exception> {
        let args =
            Payload::from_serialize(&self.0).map_err(|e| Exception::Internal(Box::new(e)))?;
        Ok(Reply::Arguments(args))
    }
}

impl<T: crate::socketio::ArgList + Serialize> IntoReply for WsResponse<Arguments<T>> {
    fn into_reply(self) -> Result<Reply, Exception> {
        let args =
            Payload::from_serialize(&self.data.0).map_err(|e| Exception::Internal(Box::new(e)))?;
        Ok(Reply::EmitArguments {
            event: self.event,
            args,
        })
    }
}

/// Returned by a handler: one emit per item ([`WsResponse`]) until the stream ends or the
/// client disconnects.
pub struct ReplyStream<S>(pub S);

/// Maps a handler's return value to a [`Reply`]. Any `Serialize` value is an
/// acknowledgement (`()` and `None` serialize to `null`: nothing is sent); [`Arguments`]
/// acknowledges with several arguments or none; [`WsResponse`] emits; [`ReplyStream`]
/// emits each item. `Result` is unwrapped by the macro: `Err` goes
/// to the exception filters.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a message handler",
    note = "return a `Serialize` value (sent as the acknowledgement), `()`, `Option<T>`, `Arguments<(A, B)>`, `WsResponse<T>`, `ReplyStream<S>`, or a `Result` of these"
)]
pub trait IntoReply {
    /// The reply.
    fn into_reply(self) -> Result<Reply, Exception>;
}

impl<T: Serialize> IntoReply for T {
    fn into_reply(self) -> Result<Reply, Exception> {
        let payload =
            Payload::from_serialize(&self).map_err(|e| Exception::Internal(Box::new(e)))?;
        if payload.is_null() {
            Ok(Reply::None)
        } else {
            Ok(Reply::Value(payload))
        }
    }
}

/// The reply for an [`AnyValue`]: what `into_reply` gives, written by the direct JSON
/// writer (reached from the code `#[subscribe_message]` generates).
pub(crate) fn any_reply(value: &AnyValue) -> Reply {
    let payload = Payload::from_any(value);
    if payload.is_null() {
        Reply::None
    } else {
        Reply::Value(payload)
    }
}

impl<T: Serialize> IntoReply for WsResponse<T> {
    fn into_reply(self) -> Result<Reply, Exception> {
        let data =
            Payload::from_serialize(&self.data).map_err(|e| Exception::Internal(Box::new(e)))?;
        Ok(Reply::Emit {
            event: self.event,
            data,
        })
    }
}

impl<S, T> IntoReply for ReplyStream<S>
where
    S: Stream<Item = WsResponse<T>> + Send + 'static,
    T: Serialize,
{
    fn into_reply(self) -> Result<Reply, Exception> {
        use futures_util::StreamExt;
        let mapped = self.0.filter_map(|item| {
            let data = match Payload::from_serialize(&item.data) {
                Ok(data) => Some(WsResponse {
                    event: item.event,
                    data,
                }),
                Err(e) => {
                    tracing::error!("a streamed item cannot be serialized: {e}");
                    None
                }
            };
            std::future::ready(data)
        });
        Ok(Reply::Stream(Box::pin(mapped)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// The direct writer's reply is the one `into_reply` gives, `null` included.
    #[test]
    fn any_reply_matches_into_reply() {
        let values = [
            AnyValue::Null,
            AnyValue::Number(0.into()),
            AnyValue::String(String::new()),
            AnyValue::Array(vec![
                AnyValue::String("a\"b".into()),
                AnyValue::Binary(Bytes::from_static(b"\x01")),
            ]),
        ];
        for value in values {
            match (any_reply(&value), value.clone().into_reply().unwrap()) {
                (Reply::None, Reply::None) => assert_eq!(value, AnyValue::Null),
                (Reply::Value(ours), Reply::Value(theirs)) => assert_eq!(ours, theirs),
                (ours, theirs) => panic!("{value:?}: {ours:?} / {theirs:?}"),
            }
        }
    }
}
