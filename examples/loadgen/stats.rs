//! Small statistics helpers and the CPU meter.

use std::time::{Duration, Instant};

use crate::client::{core_busy, pinned_core, sched_times};
use crate::fmt;

/// The `q` quantile (0..=1) of sorted microsecond samples, in milliseconds.
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted_us.len() as f64 - 1.0) * q).round() as usize;
    f64::from(sorted_us[rank.min(sorted_us.len() - 1)]) / 1000.0
}

/// Microseconds of a duration, saturating.
pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// CPU used by this process and by the server (when its pid is known) between two points,
/// and the time their threads waited for a CPU (other work on the same core).
pub struct CpuMeter {
    server_pid: Option<String>,
    at: Instant,
    own: Option<(Duration, Duration)>,
    server: Option<(Duration, Duration)>,
    /// Pinned cores of the server and of this process, with their busy time at the start.
    server_core: Option<(usize, Duration)>,
    own_core: Option<(usize, Duration)>,
}

/// Fractions of one core during a measured interval (NaN when unknown): time on a CPU, and
/// time ready to run but waiting for one.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    pub client: f64,
    pub server: f64,
    pub client_wait: f64,
    pub server_wait: f64,
    /// Busy time of the pinned core not spent by the process pinned there: other work.
    pub client_core_other: f64,
    pub server_core_other: f64,
}

impl CpuMeter {
    pub fn start(server_pid: Option<&str>) -> Self {
        let core = |pid: &str| pinned_core(pid).and_then(|c| Some((c, core_busy(c)?)));
        let server_core = server_pid.and_then(core);
        let mut own_core = core("self");
        if own_core.is_some() && own_core.map(|c| c.0) == server_core.map(|c| c.0) {
            own_core = None; // both on one core: "other" would be meaningless
        }
        Self {
            server_pid: server_pid.map(str::to_owned),
            at: Instant::now(),
            own: sched_times("self"),
            server: server_pid.and_then(sched_times),
            server_core,
            own_core,
        }
    }

    pub fn stop(&self) -> CpuUse {
        let wall = self.at.elapsed().as_secs_f64();
        let own = sched_times("self");
        let server = self.server_pid.as_deref().and_then(sched_times);
        let frac = |before: Option<Duration>, after: Option<Duration>| match (before, after) {
            (Some(b), Some(a)) if wall > 0.0 => a.saturating_sub(b).as_secs_f64() / wall,
            _ => f64::NAN,
        };
        let client = frac(self.own.map(|t| t.0), own.map(|t| t.0));
        let server_cpu = frac(self.server.map(|t| t.0), server.map(|t| t.0));
        // /proc/stat counts in ticks of 10 ms: one tick of the difference may be rounding.
        let tick = 0.01 / wall;
        let other = |core: Option<(usize, Duration)>, used: f64| match core {
            Some((n, before)) => (frac(Some(before), core_busy(n)) - used - tick).max(0.0),
            None => f64::NAN,
        };
        CpuUse {
            client,
            server: server_cpu,
            client_wait: frac(self.own.map(|t| t.1), own.map(|t| t.1)),
            server_wait: frac(self.server.map(|t| t.1), server.map(|t| t.1)),
            client_core_other: other(self.own_core, client),
            server_core_other: other(self.server_core, server_cpu),
        }
    }

    /// The CPU fields of a RESULT line.
    pub fn fields(u: &CpuUse) -> String {
        format!(
            "server_cpu={} client_cpu={} server_wait={} client_wait={} server_core_other={} \
             client_core_other={}",
            fmt(u.server, 2),
            fmt(u.client, 2),
            fmt(u.server_wait, 2),
            fmt(u.client_wait, 2),
            fmt(u.server_core_other, 2),
            fmt(u.client_core_other, 2)
        )
    }
}
