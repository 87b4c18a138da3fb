//! Connection limits checked at the handshake: sessions in all, sessions per address, and
//! handshakes per address in a window. A handshake that is let in takes its place under
//! the limits at once (a [`Reservation`], kept by its session), so a burst of concurrent
//! handshakes cannot get past them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{EngineHandler, EngineInner};
use crate::throttle::MemoryThrottlerStorage;

/// Sessions admitted under the limits, in all and per address, and recent handshakes per
/// address.
#[derive(Default)]
pub(crate) struct Admission {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    handshakes: MemoryThrottlerStorage,
}

/// A session's place under the connection limits; given back when dropped (the session
/// ends, or its handshake failed before it opened).
pub(crate) struct Reservation {
    admission: Arc<Admission>,
    ip: Option<IpAddr>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.admission.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut map = self
                .admission
                .per_ip
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

impl<H: EngineHandler> EngineInner<H> {
    /// Lets a new session from `addr` in under the connection limits (`Ok(None)` when no
    /// limit is set), or says why not: the metrics reason and the message of the 403
    /// answer.
    pub(crate) fn admit(
        &self,
        addr: Option<SocketAddr>,
    ) -> Result<Option<Reservation>, (&'static str, &'static str)> {
        let config = &self.config;
        if !config.limits_connections() {
            return Ok(None);
        }
        let ip = addr.map(|a| a.ip());
        if let (Some((limit, window)), Some(ip)) = (config.max_handshakes_per_ip, ip) {
            if self.admission.handshakes.hit(&ip.to_string(), window).hits > limit {
                tracing::debug!(%ip, "handshake refused: max_handshakes_per_ip reached");
                return Err((
                    "too_many_handshakes",
                    "Too many handshakes from this address",
                ));
            }
        }
        let admission = &self.admission;
        let total = admission.total.fetch_add(1, Ordering::AcqRel);
        // From here on the reservation gives its place back if it is refused.
        let mut reservation = Reservation {
            admission: admission.clone(),
            ip: None,
        };
        if config.max_connections.is_some_and(|max| total >= max) {
            tracing::debug!(?addr, "handshake refused: max_connections reached");
            return Err(("max_connections", "Too many connections"));
        }
        if let Some(ip) = ip {
            let mut map = admission.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            let open = map.entry(ip).or_default();
            if config
                .max_connections_per_ip
                .is_some_and(|max| *open >= max)
            {
                if *open == 0 {
                    map.remove(&ip);
                }
                tracing::debug!(%ip, "handshake refused: max_connections_per_ip reached");
                return Err((
                    "max_connections_per_ip",
                    "Too many connections from this address",
                ));
            }
            *open += 1;
            reservation.ip = Some(ip);
        }
        Ok(Some(reservation))
    }
}
