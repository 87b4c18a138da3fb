//! Rate limiting in the style of `@nestjs/throttler`: a [`Throttler`] guard with named
//! limits, per socket, per address or per user, and `#[throttle(..)]` /
//! `#[skip_throttle]` on gateways and handlers.
//!
//! | NestJS | here |
//! |---|---|
//! | `ThrottlerModule.forRoot([{ name: 'short', ttl: 1000, limit: 3 }])` | `Throttler::new().limit("short", 3, Duration::from_secs(1))` |
//! | `{ provide: APP_GUARD, useClass: ThrottlerGuard }` | `App::builder().global_guard(throttler)` |
//! | `@UseGuards(WsThrottlerGuard)` | `#[use_guards(Throttler)]` (the registered provider, or a bare one) |
//! | `@Throttle({ default: { limit: 3, ttl: 60000 } })` | `#[throttle(limit = 3, ttl = 60000)]` (ttl in milliseconds) |
//! | `@Throttle({ short: { limit: 1, ttl: 1000 } })` | `#[throttle(short(limit = 1, ttl = 1000))]` |
//! | `@SkipThrottle()` | `#[skip_throttle]` (every limit) or `#[skip_throttle(short)]` |
//! | `ThrottlerStorage` | [`ThrottlerStorage`]: in memory by default, Redis with the `redis` feature |
//! | `getTracker` | [`ThrottleKey`] |
//!
//! Each limit counts the hits of one tracker (socket, address, user) on one handler in a
//! fixed window of `ttl`; the hit past `limit` is refused with the `exception` event (or
//! the ack with `ack_errors`) carrying
//! `{"status":"error","message":"ThrottlerException: Too Many Requests","retryAfter":<seconds>}`,
//! to that client only. As a connection guard (`#[use_connection_guards(Throttler)]`) it
//! limits how often a tracker may connect (`connect_error` "ThrottlerException: Too Many
//! Requests").
//!
//! ```no_run
//! use std::time::Duration;
//! use gateway_runtime::prelude::*;
//! use gateway_runtime::throttle::{Throttler, ThrottleKey};
//!
//! #[gateway(namespace = "/chat")]
//! #[use_guards(Throttler)]
//! #[throttle(limit = 20, ttl = 1000)]          // every handler: 20 a second per socket
//! struct Chat;
//!
//! #[gateway]
//! impl Chat {
//!     #[subscribe_message("send")]
//!     #[throttle(limit = 5, ttl = 1000)]      // this one: 5 a second
//!     fn send(&self) {}
//!
//!     #[subscribe_message("ping")]
//!     #[skip_throttle]
//!     fn ping(&self) {}
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App::builder()
//!     // A limit for every gateway, per user (the `sub` claim of a JWT), with a Redis
//!     // store so that it holds across nodes: `.storage(RedisThrottlerStorage::new(url)?)`.
//!     .provider(Throttler::new()
//!         .limit("long", 1000, Duration::from_secs(60))
//!         .key(ThrottleKey::Claim("sub".into())))
//!     .gateway::<Chat>()
//!     .build()
//!     .await?;
//! # let _ = app; Ok(()) }
//! ```

mod storage;

#[cfg(feature = "redis")]
mod redis_storage;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

pub use storage::{
    MemoryThrottlerStorage, ThrottleRecord, ThrottlerStorage, ThrottlerStorageError,
};

#[cfg(feature = "redis")]
pub use redis_storage::RedisThrottlerStorage;

use crate::app::{
    Container, Dependency, DiError, Exception, ExecutionContext, Guard, Injectable, WsException,
};
use crate::jwt::Claims;

/// The metadata key `#[throttle(..)]` writes (read by [`Throttler`]).
pub const THROTTLE_METADATA: &str = "__throttle";
/// The metadata key `#[skip_throttle]` writes (read by [`Throttler`]).
pub const SKIP_THROTTLE_METADATA: &str = "__skip_throttle";

/// The message of a refused hit, as `@nestjs/throttler`'s `ThrottlerException`.
pub const THROTTLED_MESSAGE: &str = "ThrottlerException: Too Many Requests";

/// One named limit: at most `limit` hits per `ttl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleLimit {
    /// The name (`"default"` for `#[throttle(limit = .., ttl = ..)]`).
    pub name: String,
    /// Hits allowed in one window.
    pub limit: u64,
    /// The window.
    pub ttl: Duration,
}

/// A tracker of your own: the key of the hits of the context's socket, `None` for per
/// socket.
pub type TrackerFn = Arc<dyn Fn(&ExecutionContext) -> Option<String> + Send + Sync>;

/// Whose hits a limit counts (`@nestjs/throttler`'s `getTracker`).
#[derive(Clone, Default)]
pub enum ThrottleKey {
    /// Each socket on its own (the default). As a connection guard, where every socket
    /// is new, the address counts instead.
    #[default]
    Socket,
    /// The client's IP address (the TCP peer: behind a proxy, use `Custom` with the
    /// header the proxy sets).
    Ip,
    /// A claim of the socket's JWT (e.g. `"sub"`: per user, across all of the user's
    /// sockets); sockets without it count per socket.
    Claim(String),
    /// Your own tracker; `None` counts per socket.
    Custom(TrackerFn),
}

impl fmt::Debug for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Socket => f.write_str("Socket"),
            Self::Ip => f.write_str("Ip"),
            Self::Claim(c) => f.debug_tuple("Claim").field(c).finish(),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl ThrottleKey {
    fn tracker(&self, ctx: &ExecutionContext) -> String {
        let socket = ctx.socket();
        // At connection time each socket is new: per socket would limit nothing, so the
        // address counts instead.
        let connecting = ctx.handler().event == "connection";
        let found = match self {
            Self::Socket if connecting => socket
                .handshake()
                .address()
                .map(|a| format!("ip:{}", a.ip())),
            Self::Socket => None,
            Self::Ip => socket
                .handshake()
                .address()
                .map(|a| format!("ip:{}", a.ip())),
            Self::Claim(name) => socket.extension::<Claims>().and_then(|Claims(c)| {
                c.get(name).map(|v| match v {
                    Value::String(s) => format!("claim:s:{s}"),
                    other => format!("claim:j:{other}"),
                })
            }),
            Self::Custom(f) => f(ctx).map(|k| format!("custom:{k}")),
        };
        found.unwrap_or_else(|| format!("socket:{}", socket.id()))
    }
}

/// The rate-limiting guard: named limits for every handler it guards, overridden or added
/// to by `#[throttle(..)]` and skipped with `#[skip_throttle]`. See the [module
/// docs](self).
#[derive(Clone)]
pub struct Throttler {
    limits: Vec<ThrottleLimit>,
    key: ThrottleKey,
    storage: Arc<dyn ThrottlerStorage>,
}

impl fmt::Debug for Throttler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttler")
            .field("limits", &self.limits)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Default for Throttler {
    fn default() -> Self {
        Self::new()
    }
}

impl Throttler {
    /// A throttler with no limit of its own (only `#[throttle(..)]` ones apply), per
    /// socket, counting in memory.
    pub fn new() -> Self {
        Self {
            limits: Vec::new(),
            key: ThrottleKey::Socket,
            storage: Arc::new(MemoryThrottlerStorage::new()),
        }
    }

    /// Adds (or replaces) the limit `name`: `limit` hits per `ttl` on each handler.
    ///
    /// # Panics
    /// When `ttl` is zero (a window of no length limits nothing).
    pub fn limit(mut self, name: impl Into<String>, limit: u64, ttl: Duration) -> Self {
        assert!(
            !ttl.is_zero(),
            "a throttle window (ttl) must be longer than zero"
        );
        let name = name.into();
        self.limits.retain(|l| l.name != name);
        self.limits.push(ThrottleLimit { name, limit, ttl });
        self
    }

    /// Whose hits are counted (default: each socket).
    pub fn key(mut self, key: ThrottleKey) -> Self {
        self.key = key;
        self
    }

    /// Where hits are counted (default: this process's memory). With a shared store
    /// (Redis), a limit holds across every node of a cluster.
    pub fn storage(mut self, storage: impl ThrottlerStorage) -> Self {
        self.storage = Arc::new(storage);
        self
    }

    /// The limits in force for the handler of `ctx`.
    fn limits_for(&self, ctx: &ExecutionContext) -> Vec<ThrottleLimit> {
        let metadata = &ctx.handler().metadata;
        let mut limits = self.limits.clone();
        // Method entries come first: the first value found for a name wins.
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in metadata {
            if *key != THROTTLE_METADATA {
                continue;
            }
            let Some(map) = value.as_object() else {
                continue;
            };
            for (name, v) in map {
                if seen.contains(&name.as_str()) {
                    continue;
                }
                seen.push(name);
                let (Some(limit), Some(ttl)) = (
                    v.get("limit").and_then(Value::as_u64),
                    v.get("ttl").and_then(Value::as_u64).filter(|&t| t > 0),
                ) else {
                    continue;
                };
                limits.retain(|l| l.name != *name);
                limits.push(ThrottleLimit {
                    name: name.clone(),
                    limit,
                    ttl: Duration::from_millis(ttl),
                });
            }
        }
        // `#[skip_throttle]` (all) or `#[skip_throttle(a, b)]` (those), method first.
        if let Some(skip) = ctx.metadata(SKIP_THROTTLE_METADATA) {
            match skip {
                Value::Array(names) => {
                    limits.retain(|l| !names.iter().any(|n| n.as_str() == Some(&l.name)))
                }
                _ => limits.clear(),
            }
        }
        limits
    }
}

/// The exception a refused hit becomes.
fn throttled(retry_after: Duration) -> Exception {
    let seconds = retry_after.as_millis().div_ceil(1000).max(1) as u64;
    WsException::object(json!({
        "status": "error",
        "message": THROTTLED_MESSAGE,
        "retryAfter": seconds,
    }))
    .with_kind(crate::app::exception::WsKind::Throttled)
    .into()
}

impl Guard for Throttler {
    async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
        let limits = self.limits_for(ctx);
        if limits.is_empty() {
            return Ok(true);
        }
        let tracker = self.key.tracker(ctx);
        let info = ctx.handler();
        for limit in &limits {
            let key = format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
                limit.name,
                ctx.socket().namespace_name(),
                info.gateway,
                info.event,
                tracker
            );
            match self.storage.increment(&key, limit.ttl).await {
                Ok(record) if record.hits > limit.limit => {
                    tracing::debug!(
                        socket = %ctx.socket().id(),
                        event = %info.event,
                        limit = %limit.name,
                        "throttled"
                    );
                    return Err(throttled(record.reset_in));
                }
                Ok(_) => {}
                // A store that cannot answer lets the hit through: an outage of the store
                // must not take the application down with it.
                Err(e) => tracing::warn!(error = %e, "throttler storage failed; hit allowed"),
            }
        }
        Ok(true)
    }
}

impl Injectable for Throttler {
    fn dependencies() -> Vec<Dependency> {
        Vec::new()
    }
    fn construct(_: &Container) -> Result<Self, DiError> {
        Ok(Throttler::new())
    }
}
