//! Connection state recovery (socket.io's `connectionStateRecovery`): a client that lost
//! its connection for a moment gets back its socket id, rooms and per-socket data, and the
//! events emitted to it meanwhile.
//!
//! How it works, as in socket.io ≥ 4.6:
//! - the CONNECT answer carries a private session id (`pid`) besides the socket id;
//! - every event the server emits without an acknowledgement and not volatile (to one
//!   socket or as a broadcast) is recorded with an **offset**, sent to the client as the
//!   event's last argument (socket.io-client keeps the last one it saw);
//! - when a socket's connection ends for a reason the client did not choose (transport
//!   close or error, ping timeout, server shutting down, outgoing buffer full), its session
//!   (id, rooms, extensions) is kept for [`ConnectionStateRecovery::max_disconnection_duration`];
//! - a client reconnecting with its `pid` and last offset gets the same socket id and
//!   rooms, [`Socket::recovered`](super::Socket::recovered) is `true`, and the recorded
//!   events it missed are sent again, in order, before the CONNECT answer.
//!
//! Everything kept is bounded in bytes ([`ConnectionStateRecovery::max_packet_bytes`],
//! [`ConnectionStateRecovery::max_session_bytes`]): past a bound the oldest entries go,
//! and a client whose offset or session went gets a fresh session (`recovered` false),
//! as it would after `max_disconnection_duration`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway_core::socketio::Encoded;

use crate::adapter::{AdapterError, BoxFuture, BroadcastOptions, Room};
use crate::engine::Sid;

/// Connection state recovery options (socket.io's `connectionStateRecovery`), set with
/// [`SocketIoBuilder::connection_state_recovery`](super::SocketIoBuilder::connection_state_recovery).
///
/// ```
/// use std::time::Duration;
/// use gateway_runtime::socketio::{ConnectionStateRecovery, SocketIo};
/// let io = SocketIo::builder()
///     .connection_state_recovery(ConnectionStateRecovery {
///         max_disconnection_duration: Duration::from_secs(60),
///         ..ConnectionStateRecovery::default()
///     })
///     .build();
/// # let _ = io;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStateRecovery {
    /// How long a disconnected socket's session is kept (socket.io's
    /// `maxDisconnectionDuration`; default 2 minutes). Recorded events are kept this long
    /// plus the ping interval and timeout (a dead connection can go unnoticed that long).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips namespace middleware and connection guards
    /// (socket.io's `skipMiddlewares`; default `true`). Message guards still run for each
    /// event.
    pub skip_middlewares: bool,
    /// Bytes of recorded events kept for replay, over all namespaces (default 16 MiB).
    /// When a new event would go over, the oldest are dropped; a client whose last offset
    /// was dropped reconnects with a fresh session.
    pub max_packet_bytes: usize,
    /// Bytes of disconnected sessions kept (ids and room names; default 4 MiB). When a new
    /// session would go over, the oldest are dropped.
    pub max_session_bytes: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        Self {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packet_bytes: 16 << 20,
            max_session_bytes: 4 << 20,
        }
    }
}

/// The disconnection reasons after which a session is kept (those the client did not
/// choose), as socket.io's list, plus the outgoing buffer overflow.
pub(crate) fn recoverable(reason: super::DisconnectReason) -> bool {
    use crate::engine::CloseReason::*;
    matches!(
        reason,
        super::DisconnectReason::Transport(
            TransportClose
                | TransportError
                | PingTimeout
                | ForcedClose
                | ForcedServerClose
                | ServerShutdown
                | BufferFull
        )
    )
}

/// A socket's state, kept when its connection ended.
#[derive(Debug, Clone)]
pub struct PersistedSession {
    /// The namespace.
    pub nsp: Arc<str>,
    /// The socket id, given back on recovery.
    pub sid: Sid,
    /// The private session id the client recovers with.
    pub pid: Sid,
    /// Its rooms, its own id room included.
    pub rooms: Vec<Room>,
    /// Its per-socket data ([`Socket::extension`](super::Socket::extension)).
    pub data: http::Extensions,
}

/// A session found again: what [`SessionStore::restore`] gives back.
#[derive(Debug, Clone)]
pub struct RestoredSession {
    /// The session as it was kept.
    pub session: PersistedSession,
    /// The last offset the client saw; events recorded after it are replayed by
    /// [`SessionStore::resume`].
    pub offset: String,
}

/// Where recovery keeps sessions and recorded events: the built-in [`MemorySessionStore`]
/// (one process), or an adapter's own store ([`Adapter::session_store`](crate::adapter::Adapter::session_store))
/// so that a client recovers on another node.
pub trait SessionStore: Send + Sync + 'static {
    /// Records an event packet (no acknowledgement, not volatile) for the sockets `opts`
    /// targets in namespace `nsp`, and delivers it: calls `deliver` once with the packet as
    /// sent, its offset appended ([`Encoded::push_str_arg`]). Recording and delivery are
    /// one step with respect to [`resume`](Self::resume): a resumed socket gets each
    /// event once, either replayed or delivered.
    fn record(
        &self,
        nsp: &str,
        packet: &Encoded,
        opts: &BroadcastOptions,
        deliver: &mut dyn FnMut(&Encoded),
    );
    /// Keeps a disconnected socket's session.
    fn persist(&self, session: PersistedSession);
    /// Takes back the session `pid` of namespace `nsp` when it is still kept and `offset`
    /// is one it can replay from; `None` otherwise (the client then gets a fresh session).
    fn restore(
        &self,
        nsp: &str,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<'_, Result<Option<RestoredSession>, AdapterError>>;
    /// Calls `attach` with the events recorded for `restored` after its offset, in order,
    /// at a moment when no event is being recorded (so `attach` can queue them and add the
    /// socket to its namespace with nothing lost or sent twice). Returns `false`, without
    /// calling `attach`, when those events are no longer all kept.
    fn resume(&self, restored: &RestoredSession, attach: &mut dyn FnMut(&[Encoded])) -> bool;
}

/// The recovery options and the store a namespace records into.
pub(crate) struct Recovery {
    pub(crate) options: ConnectionStateRecovery,
    pub(crate) store: Arc<dyn SessionStore>,
}

/// The server's recovery options and its in-memory store.
pub(crate) type ServerRecovery = (ConnectionStateRecovery, Arc<MemorySessionStore>);

/// The in-memory [`SessionStore`]: one log of recorded events and one table of sessions
/// for all namespaces of a server, both bounded in bytes and in time.
pub struct MemorySessionStore {
    options: ConnectionStateRecovery,
    /// How long recorded events are kept: `max_disconnection_duration` plus the time a
    /// dead connection can go unnoticed (the client's last offset may be that much older
    /// than the moment its session was kept).
    keep_events: Duration,
    /// Offsets are `<tag>-<counter>`; the tag is random per store, so an offset from an
    /// earlier process is never taken for one of ours.
    tag: Sid,
    state: Mutex<State>,
}

impl std::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

struct Recorded {
    nsp: Arc<str>,
    rooms: Vec<Room>,
    except: Vec<Room>,
    at: Instant,
    packet: Encoded,
    bytes: usize,
}

struct Kept {
    session: PersistedSession,
    at: Instant,
    bytes: usize,
}

#[derive(Default)]
struct State {
    /// Counter of the next recorded event; the log holds `next - log.len() .. next`.
    next: u64,
    log: VecDeque<Recorded>,
    log_bytes: usize,
    sessions: HashMap<Sid, Kept>,
    /// Session ids in the order they were kept (with their time: a pid kept again later
    /// has a newer entry, and the stale one is skipped).
    order: VecDeque<(Instant, Sid)>,
    session_bytes: usize,
}

impl State {
    fn front(&self) -> u64 {
        self.next - self.log.len() as u64
    }

    fn drop_oldest_event(&mut self) {
        if let Some(old) = self.log.pop_front() {
            self.log_bytes -= old.bytes;
        }
    }

    fn drop_oldest_session(&mut self) {
        while let Some((at, pid)) = self.order.pop_front() {
            if self.sessions.get(&pid).is_some_and(|k| k.at == at) {
                if let Some(k) = self.sessions.remove(&pid) {
                    self.session_bytes -= k.bytes;
                }
                return;
            }
        }
    }

    fn expire(&mut self, now: Instant, max: Duration, keep_events: Duration) {
        while self
            .log
            .front()
            .is_some_and(|r| now.duration_since(r.at) > keep_events)
        {
            self.drop_oldest_event();
        }
        while let Some(&(at, _)) = self.order.front() {
            if now.duration_since(at) <= max {
                break;
            }
            self.drop_oldest_session();
        }
    }
}

/// Whether an event recorded with `rooms`/`except` reaches a socket in `session_rooms`
/// (its own id room included).
fn reaches(session_rooms: &[Room], rooms: &[Room], except: &[Room]) -> bool {
    let included = rooms.is_empty() || session_rooms.iter().any(|r| rooms.contains(r));
    included && !session_rooms.iter().any(|r| except.contains(r))
}

impl MemorySessionStore {
    /// An empty store with these bounds.
    pub fn new(options: ConnectionStateRecovery) -> Self {
        Self::with_detection_delay(options, Duration::ZERO)
    }

    /// An empty store that keeps events `delay` longer than `max_disconnection_duration`:
    /// the longest a dead connection can go unnoticed (ping interval + ping timeout), so
    /// that a client whose connection died silently finds its last offset still kept.
    pub fn with_detection_delay(options: ConnectionStateRecovery, delay: Duration) -> Self {
        Self {
            keep_events: options.max_disconnection_duration + delay,
            options,
            tag: Sid::random(),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counter of an offset of this store.
    fn counter(&self, offset: &str) -> Option<u64> {
        let (tag, counter) = offset.rsplit_once('-')?;
        (tag == self.tag.as_str())
            .then(|| u64::from_str_radix(counter, 36).ok())
            .flatten()
    }

    fn offset(&self, counter: u64) -> String {
        let mut digits = Vec::with_capacity(13);
        let mut n = counter;
        loop {
            digits.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
            n /= 36;
            if n == 0 {
                break;
            }
        }
        let mut out = String::with_capacity(21 + digits.len());
        out.push_str(self.tag.as_str());
        out.push('-');
        out.extend(digits.iter().rev());
        out
    }

    /// Drops what is older than this store keeps.
    fn expire(&self, state: &mut State, now: Instant) {
        state.expire(
            now,
            self.options.max_disconnection_duration,
            self.keep_events,
        );
    }

    /// Bytes of recorded events and of kept sessions now.
    pub fn usage(&self) -> (usize, usize) {
        let s = self.lock();
        (s.log_bytes, s.session_bytes)
    }
}

impl SessionStore for MemorySessionStore {
    fn record(
        &self,
        nsp: &str,
        packet: &Encoded,
        opts: &BroadcastOptions,
        deliver: &mut dyn FnMut(&Encoded),
    ) {
        let mut state = self.lock();
        let now = Instant::now();
        self.expire(&mut state, now);
        let counter = state.next;
        state.next += 1;
        let mut packet = packet.clone();
        packet.push_str_arg(&self.offset(counter));
        deliver(&packet);
        let rooms_len: usize = opts.rooms.iter().chain(&opts.except).map(|r| r.len()).sum();
        let bytes = packet.text.len()
            + packet.attachments.iter().map(|a| a.len()).sum::<usize>()
            + rooms_len
            + 96;
        if bytes > self.options.max_packet_bytes {
            // Too large to keep: the log restarts after it, so no offset before it
            // can be resumed from (that would skip it).
            state.log.clear();
            state.log_bytes = 0;
            return;
        }
        while state.log_bytes + bytes > self.options.max_packet_bytes {
            state.drop_oldest_event();
        }
        state.log_bytes += bytes;
        let nsp = match state.log.back() {
            Some(last) if &*last.nsp == nsp => last.nsp.clone(),
            _ => nsp.into(),
        };
        state.log.push_back(Recorded {
            nsp,
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            at: now,
            packet,
            bytes,
        });
    }

    fn persist(&self, session: PersistedSession) {
        let bytes =
            128 + session.nsp.len() + session.rooms.iter().map(|r| r.len() + 16).sum::<usize>();
        if bytes > self.options.max_session_bytes {
            return;
        }
        let mut state = self.lock();
        let now = Instant::now();
        self.expire(&mut state, now);
        while state.session_bytes + bytes > self.options.max_session_bytes {
            state.drop_oldest_session();
        }
        let pid = session.pid;
        state.order.push_back((now, pid));
        state.session_bytes += bytes;
        let kept = Kept {
            session,
            at: now,
            bytes,
        };
        if let Some(old) = state.sessions.insert(pid, kept) {
            state.session_bytes -= old.bytes;
        }
    }

    fn restore(
        &self,
        nsp: &str,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<'_, Result<Option<RestoredSession>, AdapterError>> {
        let found = (|| {
            let pid = Sid::parse(pid)?;
            let counter = self.counter(offset)?;
            let mut state = self.lock();
            self.expire(&mut state, Instant::now());
            // The offset's own event must still be kept: the ones after it are then too.
            if counter < state.front() || counter >= state.next {
                return None;
            }
            match state.sessions.get(&pid) {
                Some(k) if &*k.session.nsp == nsp => {}
                _ => return None,
            }
            let kept = state.sessions.remove(&pid)?;
            state.session_bytes -= kept.bytes;
            Some(RestoredSession {
                session: kept.session,
                offset: offset.to_owned(),
            })
        })();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn resume(&self, restored: &RestoredSession, attach: &mut dyn FnMut(&[Encoded])) -> bool {
        let Some(counter) = self.counter(&restored.offset) else {
            return false;
        };
        let state = self.lock();
        if counter < state.front() || counter >= state.next {
            return false;
        }
        let session = &restored.session;
        let skip = (counter + 1 - state.front()) as usize;
        let missed: Vec<Encoded> = state
            .log
            .iter()
            .skip(skip)
            .filter(|r| *r.nsp == *session.nsp && reaches(&session.rooms, &r.rooms, &r.except))
            .map(|r| r.packet.clone())
            .collect();
        attach(&missed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::socketio::Encoder;

    fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            except: except.iter().map(|r| Room::from(*r)).collect(),
            ..Default::default()
        }
    }

    fn record(store: &MemorySessionStore, nsp: &str, n: i32, o: &BroadcastOptions) -> String {
        let packet = Encoder::event(nsp, None, "e", &(n,)).unwrap();
        let mut sent = String::new();
        store.record(nsp, &packet, o, &mut |p| {
            sent = String::from_utf8(p.text.clone()).unwrap();
        });
        // The offset is the packet's last argument.
        let start = sent.rfind(",\"").unwrap() + 2;
        sent[start..sent.len() - 2].to_owned()
    }

    fn session(nsp: &str, sid: Sid, pid: Sid, rooms: &[&str]) -> PersistedSession {
        let mut rooms: Vec<Room> = rooms.iter().map(|r| Room::from(*r)).collect();
        rooms.push(sid.as_str().into());
        PersistedSession {
            nsp: nsp.into(),
            sid,
            pid,
            rooms,
            data: http::Extensions::new(),
        }
    }

    fn missed(store: &MemorySessionStore, r: &RestoredSession) -> Option<Vec<String>> {
        let mut out = None;
        store.resume(r, &mut |m| {
            out = Some(
                m.iter()
                    .map(|p| String::from_utf8(p.text.clone()).unwrap())
                    .collect(),
            )
        });
        out
    }

    fn restore(
        store: &MemorySessionStore,
        nsp: &str,
        pid: Sid,
        off: &str,
    ) -> Option<RestoredSession> {
        futures_util::FutureExt::now_or_never(store.restore(nsp, pid.as_str(), off))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn replays_what_the_session_missed_in_its_rooms() {
        let store = MemorySessionStore::new(ConnectionStateRecovery::default());
        let (sid, pid) = (Sid::random(), Sid::random());
        let last = record(&store, "/", 0, &opts(&[], &[]));
        store.persist(session("/", sid, pid, &["a"]));
        record(&store, "/", 1, &opts(&["a"], &[]));
        record(&store, "/", 2, &opts(&["b"], &[]));
        record(&store, "/", 3, &opts(&[], &["a"]));
        record(&store, "/other", 4, &opts(&[], &[]));
        record(&store, "/", 5, &opts(&[sid.as_str()], &[]));
        record(&store, "/", 6, &opts(&[], &[]));
        assert!(
            restore(&store, "/other", pid, &last).is_none(),
            "wrong namespace"
        );
        let r = restore(&store, "/", pid, &last).expect("restored");
        assert_eq!(r.session.sid, sid);
        let m = missed(&store, &r).unwrap();
        assert_eq!(m.len(), 3);
        assert!(m[0].starts_with("42[\"e\",1,\""), "{m:?}");
        assert!(m[1].starts_with("42[\"e\",5,\""));
        assert!(m[2].starts_with("42[\"e\",6,\""));
        // Taken: a second restore of the same pid finds nothing.
        assert!(restore(&store, "/", pid, &last).is_none());
        assert_eq!(store.usage().1, 0);
    }

    #[test]
    fn unknown_offsets_and_byte_bounds_give_a_fresh_session() {
        let options = ConnectionStateRecovery {
            max_packet_bytes: 600,
            max_session_bytes: 400,
            ..Default::default()
        };
        let store = MemorySessionStore::new(options);
        let pid = Sid::random();
        let first = record(&store, "/", 0, &opts(&[], &[]));
        store.persist(session("/", Sid::random(), pid, &[]));
        assert!(restore(&store, "/", pid, "nope-1").is_none());
        assert!(restore(&store, "/", pid, &format!("{}-0", Sid::random())).is_none());
        for i in 1..20 {
            record(&store, "/", i, &opts(&[], &[]));
        }
        assert!(store.usage().0 <= 600);
        assert!(
            restore(&store, "/", pid, &first).is_none(),
            "offset dropped"
        );
        // Sessions: the oldest go first.
        let pids: Vec<Sid> = (0..5).map(|_| Sid::random()).collect();
        for p in &pids {
            store.persist(session("/", Sid::random(), *p, &["room"]));
        }
        assert!(store.usage().1 <= 400);
        let last = record(&store, "/", 99, &opts(&[], &[]));
        assert!(restore(&store, "/", pids[0], &last).is_none());
        assert!(restore(&store, "/", pids[4], &last).is_some());
    }

    #[test]
    fn sessions_and_events_expire() {
        let options = ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_millis(20),
            ..Default::default()
        };
        let store = MemorySessionStore::new(options);
        let pid = Sid::random();
        let last = record(&store, "/", 0, &opts(&[], &[]));
        store.persist(session("/", Sid::random(), pid, &[]));
        std::thread::sleep(Duration::from_millis(40));
        assert!(restore(&store, "/", pid, &last).is_none());
        assert_eq!(store.usage(), (0, 0));
    }
}
