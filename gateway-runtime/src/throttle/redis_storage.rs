//! Hit counts in Redis, shared by every node of a cluster (feature `redis`).

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::storage::{StorageFuture, ThrottleRecord, ThrottlerStorage, ThrottlerStorageError};

/// Hit counts in Redis: one key per tracker and window (`SET NX PX`, then `INCR` and
/// `PTTL`, in one `MULTI`), so that a limit holds across every node using the same
/// server. The connection is opened on first use and again after a failure; a hit that
/// Redis cannot count in `timeout` (default 1 s) is let through.
///
/// ```no_run
/// use gateway_runtime::throttle::{RedisThrottlerStorage, Throttler};
/// let storage = RedisThrottlerStorage::new("redis://127.0.0.1:6379/").unwrap();
/// let throttler = Throttler::new().storage(storage);
/// # let _ = throttler;
/// ```
pub struct RedisThrottlerStorage {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl fmt::Debug for RedisThrottlerStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisThrottlerStorage")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisThrottlerStorage {
    /// A store on the Redis server at `url`; keys start with `throttle:`.
    pub fn new(url: &str) -> Result<Self, ThrottlerStorageError> {
        let client = redis::Client::open(url).map_err(|e| ThrottlerStorageError(e.to_string()))?;
        Ok(Self {
            client,
            prefix: "throttle:".into(),
            timeout: Duration::from_secs(1),
            connection: Mutex::new(None),
        })
    }

    /// Another key prefix (several applications on one Redis).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one hit may wait for Redis before it is let through (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn connection(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let cached = self
            .connection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(c) = cached {
            return Ok(c);
        }
        let c = self.client.get_multiplexed_async_connection().await?;
        *self.connection.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.clone());
        Ok(c)
    }

    async fn hit(&self, key: &str, ttl: Duration) -> Result<ThrottleRecord, redis::RedisError> {
        let mut conn = self.connection().await?;
        let key = format!("{}{}", self.prefix, key);
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let (hits, pttl): (u64, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("PX")
            .arg(ttl_ms)
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(&key)
            .cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        Ok(ThrottleRecord {
            hits,
            reset_in: Duration::from_millis(pttl.max(0) as u64),
        })
    }
}

impl ThrottlerStorage for RedisThrottlerStorage {
    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> StorageFuture<'a> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.hit(key, ttl)).await {
                Ok(Ok(record)) => Ok(record),
                Ok(Err(e)) => {
                    // Reconnect on the next hit.
                    *self.connection.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    Err(ThrottlerStorageError(format!("redis: {e}")))
                }
                Err(_) => {
                    // A connection that stopped answering is not used again.
                    *self.connection.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    Err(ThrottlerStorageError("redis: timed out".into()))
                }
            }
        })
    }
}
