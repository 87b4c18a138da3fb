//! Where the throttler counts hits.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The state of one key after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRecord {
    /// Hits in the current window, this one included.
    pub hits: u64,
    /// Time until the window ends.
    pub reset_in: Duration,
}

/// A storage failure (the hit is then let through and a warning logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlerStorageError(pub String);

impl fmt::Display for ThrottlerStorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ThrottlerStorageError {}

/// A boxed future of a storage call.
pub type StorageFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ThrottleRecord, ThrottlerStorageError>> + Send + 'a>>;

/// Counts hits per key in fixed windows (`@nestjs/throttler`'s `ThrottlerStorage`).
/// Implement it to keep counts elsewhere.
pub trait ThrottlerStorage: Send + Sync + 'static {
    /// Records one hit on `key`: a new window of `ttl` starts when none is running.
    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> StorageFuture<'a>;
}

struct Window {
    hits: u64,
    ends: Instant,
}

/// Hit counts in this process's memory (the default store). Windows that ended are
/// swept as the map grows, so it holds at most the keys active within their `ttl`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use gateway_runtime::throttle::{MemoryThrottlerStorage, ThrottlerStorage};
/// let store = MemoryThrottlerStorage::new();
/// let ttl = Duration::from_secs(1);
/// assert_eq!(store.increment("k", ttl).await.unwrap().hits, 1);
/// assert_eq!(store.increment("k", ttl).await.unwrap().hits, 2);
/// # }
/// ```
#[derive(Default)]
pub struct MemoryThrottlerStorage {
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    map: HashMap<Box<str>, Window>,
    /// The map's size after the last sweep: the next sweep comes when it doubles.
    swept_at: usize,
}

impl fmt::Debug for MemoryThrottlerStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryThrottlerStorage")
            .finish_non_exhaustive()
    }
}

impl MemoryThrottlerStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys whose window is still running.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        let w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        w.map.values().filter(|x| x.ends > now).count()
    }

    /// Whether no window is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn hit(&self, key: &str, ttl: Duration) -> ThrottleRecord {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.map.len() >= (w.swept_at * 2).max(1024) {
            w.map.retain(|_, x| x.ends > now);
            w.swept_at = w.map.len();
        }
        let window = match w.map.get_mut(key) {
            Some(x) if x.ends > now => {
                x.hits += 1;
                x
            }
            _ => {
                // A window past what the clock can hold ends in about a year.
                let ends = now
                    .checked_add(ttl)
                    .unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
                w.map.insert(key.into(), Window { hits: 1, ends });
                w.map.get_mut(key).expect("just inserted")
            }
        };
        ThrottleRecord {
            hits: window.hits,
            reset_in: window.ends.saturating_duration_since(now),
        }
    }
}

impl ThrottlerStorage for MemoryThrottlerStorage {
    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> StorageFuture<'a> {
        let record = self.hit(key, ttl);
        Box::pin(std::future::ready(Ok(record)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn windows_count_and_end() {
        let store = MemoryThrottlerStorage::new();
        let ttl = Duration::from_millis(1000);
        for hits in 1..=3 {
            assert_eq!(store.increment("a", ttl).await.unwrap().hits, hits);
        }
        assert_eq!(
            store.increment("b", ttl).await.unwrap().hits,
            1,
            "keys apart"
        );
        tokio::time::advance(Duration::from_millis(1001)).await;
        let record = store.increment("a", ttl).await.unwrap();
        assert_eq!(record.hits, 1, "a new window");
        assert_eq!(record.reset_in, ttl);
    }

    #[tokio::test(start_paused = true)]
    async fn ended_windows_are_swept() {
        let store = MemoryThrottlerStorage::new();
        for i in 0..2000 {
            store.hit(&format!("k{i}"), Duration::from_millis(10));
        }
        tokio::time::advance(Duration::from_millis(20)).await;
        for i in 0..2000 {
            store.hit(&format!("n{i}"), Duration::from_secs(10));
        }
        let held = store.windows.lock().unwrap().map.len();
        assert!(held <= 3000, "{held} keys held");
        assert_eq!(store.len(), 2000);
    }
}
