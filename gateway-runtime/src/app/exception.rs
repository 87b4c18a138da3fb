//! Errors that reach the client: [`WsException`] (NestJS's), and [`Exception`], anything a
//! handler, guard, pipe, interceptor or hook can fail with.

use std::fmt;

use serde_json::Value;

/// An error meant for the client, as in NestJS: the default filter emits the `exception`
/// event with `{"status":"error","message":…,"cause":{"pattern":…,"data":…}}`, or with the
/// error object itself when it is an object.
///
/// ```
/// use gateway_runtime::app::WsException;
/// let e = WsException::new("room is full");
/// assert_eq!(e.message(), "room is full");
/// let e = WsException::object(serde_json::json!({"code": "FULL", "message": "room is full"}));
/// assert_eq!(e.message(), "room is full");
/// ```
#[derive(Debug, Clone)]
pub struct WsException {
    error: Value,
    kind: WsKind,
}

impl PartialEq for WsException {
    /// Exceptions are equal when what the client sees is.
    fn eq(&self, other: &Self) -> bool {
        self.error == other.error
    }
}

/// Where a [`WsException`] came from, as [`Exception::kind`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsKind {
    /// Raised by application code.
    Client,
    /// A body that is not valid (bad type, or refused by `ValidationPipe`).
    Validation,
    /// A guard said no.
    Forbidden,
    /// Authentication failed (JWT).
    Unauthorized,
    /// The throttler refused the hit.
    Throttled,
}

impl WsException {
    /// An exception with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            error: Value::String(message.into()),
            kind: WsKind::Client,
        }
    }

    /// An exception whose error is an object, sent to the client as it is.
    pub fn object(error: Value) -> Self {
        Self {
            error,
            kind: WsKind::Client,
        }
    }

    pub(crate) fn with_kind(mut self, kind: WsKind) -> Self {
        self.kind = kind;
        self
    }

    /// The error: a string, or an object.
    pub fn error(&self) -> &Value {
        &self.error
    }

    /// The message: the string, or the object's `message` field.
    pub fn message(&self) -> &str {
        match &self.error {
            Value::String(s) => s,
            Value::Object(o) => o.get("message").and_then(Value::as_str).unwrap_or(""),
            _ => "",
        }
    }

    /// The "Forbidden resource" exception a guard's refusal becomes.
    pub fn forbidden() -> Self {
        Self::new("Forbidden resource").with_kind(WsKind::Forbidden)
    }
}

impl fmt::Display for WsException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Value::String(s) => f.write_str(s),
            other => write!(f, "{other}"),
        }
    }
}

/// Any failure in the request pipeline. A [`WsException`] is shown to the client; other
/// errors (and panics) become "Internal server error" and are logged.
#[derive(Debug)]
pub enum Exception {
    /// An error meant for the client.
    Ws(WsException),
    /// An unexpected error.
    Internal(Box<dyn std::error::Error + Send + Sync>),
    /// A handler, guard or hook panicked.
    Panic(String),
}

impl Exception {
    /// The [`WsException`], if this is one.
    pub fn as_ws(&self) -> Option<&WsException> {
        match self {
            Exception::Ws(e) => Some(e),
            _ => None,
        }
    }

    /// What kind of failure this is, as the `socketio_exceptions_total` metric and the
    /// event span's `exception` field report it: `"ws"` (a [`WsException`] raised by the
    /// application), `"validation"` (a body of the wrong shape, or refused by
    /// `ValidationPipe`), `"forbidden"` (a guard said no), `"unauthorized"` (JWT),
    /// `"throttled"`, `"internal"` (any other error) or `"panic"`.
    ///
    /// ```
    /// use gateway_runtime::app::{Exception, WsException};
    /// assert_eq!(Exception::from(WsException::new("room is full")).kind(), "ws");
    /// assert_eq!(Exception::from(WsException::forbidden()).kind(), "forbidden");
    /// assert_eq!(Exception::internal("db down").kind(), "internal");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Exception::Ws(e) => match e.kind {
                WsKind::Client => "ws",
                WsKind::Validation => "validation",
                WsKind::Forbidden => "forbidden",
                WsKind::Unauthorized => "unauthorized",
                WsKind::Throttled => "throttled",
            },
            Exception::Internal(_) => "internal",
            Exception::Panic(_) => "panic",
        }
    }

    /// An internal error from a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Exception::Internal(message.into().into())
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exception::Ws(e) => e.fmt(f),
            Exception::Internal(e) => e.fmt(f),
            Exception::Panic(m) => write!(f, "panicked: {m}"),
        }
    }
}

impl From<WsException> for Exception {
    fn from(e: WsException) -> Self {
        Exception::Ws(e)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Exception {
    fn from(e: E) -> Self {
        Exception::Internal(Box::new(e))
    }
}

impl From<crate::socketio::RoomLimitError> for WsException {
    /// "Too many rooms (at most N per socket)", for `client.try_join(room)?` in a handler.
    fn from(e: crate::socketio::RoomLimitError) -> Self {
        Self::new(e.to_string())
    }
}
