//! What the server reports to the admin UI: counts for `server_stats`, and (development
//! mode) one report per socket, room and event, queued for the admin task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use gateway_core::socketio::{ArgList, Args, Encoded, RawPacket};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::serialize;
use crate::adapter::Room;
use crate::engine::Sid;
use crate::socketio::observe::Observer;
use crate::socketio::{DisconnectReason, Socket};

/// One event for the admin namespace: its name and its arguments, already written as
/// `,<json>` each (what it weighs in the queue is exactly its bytes).
pub(super) struct Report {
    pub(super) event: &'static str,
    pub(super) args: Vec<u8>,
}

impl Report {
    pub(super) fn len(&self) -> usize {
        self.args.len()
    }
}

/// Arguments written beforehand as `,<json>` each.
pub(super) struct WrittenArgs<'a>(pub(super) &'a [u8]);

impl ArgList for WrittenArgs<'_> {
    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.extend_from_slice(self.0);
        Ok(())
    }

    fn size_hint(&self) -> usize {
        self.0.len()
    }
}

/// JSON values as an event's arguments.
pub(super) struct ValueArgs<'a>(pub(super) &'a [Value]);

impl ArgList for ValueArgs<'_> {
    fn write_args(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        for value in self.0 {
            out.push(b',');
            serde_json::to_writer(&mut *out, value)?;
        }
        Ok(())
    }
}

pub(super) struct AdminObserver {
    admin: String,
    development: bool,
    reports: mpsc::Sender<Report>,
    /// Bytes of the reports waiting to be sent (at most `max_queued`; more are dropped).
    pub(super) queued: AtomicUsize,
    max_queued: usize,
    connections: AtomicU64,
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    /// Disconnections since the last statistics, by reason (a handful of reasons).
    disconnections: Mutex<HashMap<&'static str, u64>>,
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_iso() -> Value {
    Value::from(crate::clock::iso_from_millis(now_millis()))
}

impl AdminObserver {
    pub(super) fn new(
        admin: String,
        development: bool,
        reports: mpsc::Sender<Report>,
        max_queued: usize,
    ) -> Self {
        Self {
            admin,
            development,
            reports,
            queued: AtomicUsize::new(0),
            max_queued,
            connections: AtomicU64::new(0),
            packets_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            packets_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            disconnections: Mutex::default(),
        }
    }

    /// Queues a report; dropped when the reports waiting already weigh `max_queued` bytes.
    fn report(&self, event: &'static str, args: Vec<Value>) {
        let mut written = Vec::new();
        if ValueArgs(&args).write_args(&mut written).is_err() {
            return;
        }
        let len = written.len();
        if self.queued.fetch_add(len, Ordering::AcqRel) + len > self.max_queued {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return;
        }
        if self
            .reports
            .try_send(Report {
                event,
                args: written,
            })
            .is_err()
        {
            self.queued.fetch_sub(len, Ordering::AcqRel);
        }
    }

    /// The counts since the last call, as `aggregatedEvents` (one bucket: now, to the
    /// second).
    pub(super) fn take_aggregated(&self) -> Vec<Value> {
        let timestamp = now_millis() / 1000 * 1000;
        let mut out = Vec::new();
        let mut push = |kind: &str, sub: Option<&str>, count: u64| {
            if count > 0 {
                let mut entry = json!({ "timestamp": timestamp, "type": kind, "count": count });
                if let Some(sub) = sub {
                    entry["subType"] = Value::from(sub);
                }
                out.push(entry);
            }
        };
        push(
            "rawConnection",
            None,
            self.connections.swap(0, Ordering::Relaxed),
        );
        push(
            "packetsIn",
            None,
            self.packets_in.swap(0, Ordering::Relaxed),
        );
        push("bytesIn", None, self.bytes_in.swap(0, Ordering::Relaxed));
        push(
            "packetsOut",
            None,
            self.packets_out.swap(0, Ordering::Relaxed),
        );
        push("bytesOut", None, self.bytes_out.swap(0, Ordering::Relaxed));
        let reasons = std::mem::take(
            &mut *self
                .disconnections
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (reason, count) in reasons {
            push("rawDisconnection", Some(reason), count);
        }
        out
    }

    fn watched(&self, nsp: &str) -> bool {
        self.development && nsp != self.admin
    }
}

impl Observer for AdminObserver {
    fn connected(&self, socket: &Socket) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        if !self.development {
            return;
        }
        let (nsp, id) = (socket.namespace_name(), socket.id());
        self.report(
            "room_joined",
            vec![
                nsp.into(),
                id.as_str().into(),
                id.as_str().into(),
                now_iso(),
            ],
        );
        self.report(
            "socket_connected",
            vec![serialize::socket(socket), now_iso()],
        );
    }

    fn disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        *self
            .disconnections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason.as_str())
            .or_default() += 1;
        if self.development {
            self.report(
                "socket_disconnected",
                vec![
                    socket.namespace_name().into(),
                    socket.id().as_str().into(),
                    reason.as_str().into(),
                    now_iso(),
                ],
            );
        }
    }

    fn upgraded(&self, socket: &Socket) {
        if self.development {
            self.report(
                "socket_updated",
                vec![json!({
                    "id": socket.id().as_str(),
                    "nsp": socket.namespace_name(),
                    "transport": "websocket",
                })],
            );
        }
    }

    fn joined(&self, socket: &Socket, rooms: &[Room]) {
        if !self.development {
            return;
        }
        for room in rooms {
            self.report(
                "room_joined",
                vec![
                    socket.namespace_name().into(),
                    room.as_ref().into(),
                    socket.id().as_str().into(),
                    now_iso(),
                ],
            );
        }
    }

    fn left(&self, socket: &Socket, room: &str) {
        if self.development {
            self.report(
                "room_left",
                vec![
                    socket.namespace_name().into(),
                    room.into(),
                    socket.id().as_str().into(),
                    now_iso(),
                ],
            );
        }
    }

    fn event_in(&self, socket: &Socket, args: &Args) {
        let bytes: usize = (0..args.len())
            .filter_map(|i| args.raw(i))
            .map(str::len)
            .sum();
        self.packets_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in
            .fetch_add((bytes + args.event().len()) as u64, Ordering::Relaxed);
        if !self.watched(socket.namespace_name()) {
            return;
        }
        let mut event = vec![Value::from(args.event())];
        event.extend((0..args.len()).map(|i| args.get::<Value>(i).unwrap_or(Value::Null)));
        self.report(
            "event_received",
            vec![
                socket.namespace_name().into(),
                socket.id().as_str().into(),
                Value::Array(event),
                now_iso(),
            ],
        );
    }

    fn event_out(&self, nsp: &str, packet: &Encoded, targets: &[Sid]) {
        // EVENT and BINARY_EVENT packets only (not acks, CONNECT answers…).
        if !matches!(packet.text.get(..2), Some(b"42" | b"45")) || targets.is_empty() {
            return;
        }
        let n = targets.len() as u64;
        self.packets_out.fetch_add(n, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(packet.text.len() as u64 * n, Ordering::Relaxed);
        if !self.watched(nsp) {
            return;
        }
        let Some(data) = std::str::from_utf8(&packet.text[1..])
            .ok()
            .and_then(|text| RawPacket::decode(text).ok())
            .and_then(|raw| serde_json::from_str::<Value>(raw.data).ok())
        else {
            return;
        };
        for sid in targets {
            self.report(
                "event_sent",
                vec![nsp.into(), sid.as_str().into(), data.clone(), now_iso()],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_bounded_in_bytes() {
        let (tx, mut rx) = mpsc::channel(1000);
        let observer = AdminObserver::new("/admin".into(), true, tx, 1000);
        for _ in 0..100 {
            observer.report("event_received", vec![Value::from("x".repeat(90))]);
        }
        let mut bytes = 0;
        let mut count = 0;
        while let Ok(report) = rx.try_recv() {
            bytes += report.len();
            count += 1;
        }
        assert!(
            count >= 9 && bytes <= 1000,
            "{count} reports, {bytes} bytes"
        );
        assert_eq!(observer.queued.load(Ordering::Acquire), bytes);
    }
}
