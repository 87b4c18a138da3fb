//! Connection limits checked at the handshake: sessions in all, sessions per address, and
//! handshakes per address in a window.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use super::{EngineConfig, EngineHandler, EngineInner};
use crate::throttle::MemoryThrottlerStorage;

/// Open sessions per address, and recent handshakes per address (kept only when the
/// matching limit is set).
#[derive(Default)]
pub(crate) struct Admission {
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    handshakes: MemoryThrottlerStorage,
}

impl Admission {
    /// A session of `addr` opened.
    pub(crate) fn opened(&self, config: &EngineConfig, addr: Option<SocketAddr>) {
        if let (Some(_), Some(addr)) = (config.max_connections_per_ip, addr) {
            *self
                .per_ip
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(addr.ip())
                .or_default() += 1;
        }
    }

    /// A session of `addr` ended.
    pub(crate) fn closed(&self, config: &EngineConfig, addr: Option<SocketAddr>) {
        if let (Some(_), Some(addr)) = (config.max_connections_per_ip, addr) {
            let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = map.get_mut(&addr.ip()) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&addr.ip());
                }
            }
        }
    }
}

impl<H: EngineHandler> EngineInner<H> {
    /// Why a new session from `addr` is refused, if it is: the message of the 403 answer.
    pub(crate) fn refuse_handshake(&self, addr: Option<SocketAddr>) -> Option<&'static str> {
        let config = &self.config;
        if let Some(max) = config.max_connections {
            if self
                .sessions
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .len()
                >= max
            {
                tracing::debug!(?addr, "handshake refused: max_connections reached");
                return Some("Too many connections");
            }
        }
        let ip = addr.map(|a| a.ip())?;
        if let Some(max) = config.max_connections_per_ip {
            let open = self
                .admission
                .per_ip
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&ip)
                .copied()
                .unwrap_or(0);
            if open >= max {
                tracing::debug!(%ip, "handshake refused: max_connections_per_ip reached");
                return Some("Too many connections from this address");
            }
        }
        if let Some((limit, window)) = config.max_handshakes_per_ip {
            let record = self.admission.handshakes.hit(&ip.to_string(), window);
            if record.hits > limit {
                tracing::debug!(%ip, "handshake refused: max_handshakes_per_ip reached");
                return Some("Too many handshakes from this address");
            }
        }
        None
    }
}
