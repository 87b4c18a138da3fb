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

/// Returned by a handler: one emit per item ([`WsResponse`]) until the stream ends or the
/// client disconnects.
pub struct ReplyStream<S>(pub S);

/// Maps a handler's return value to a [`Reply`]. Any `Serialize` value is an
/// acknowledgement (`()` and `None` serialize to `null`: nothing is sent); [`WsResponse`]
/// emits; [`ReplyStream`] emits each item. `Result` is unwrapped by the macro: `Err` goes
/// to the exception filters.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a message handler",
    note = "return a `Serialize` value (sent as the acknowledgement), `()`, `Option<T>`, `WsResponse<T>`, `ReplyStream<S>`, or a `Result` of these"
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
