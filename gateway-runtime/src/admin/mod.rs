//! The server side of the official Socket.IO Admin UI (`@socket.io/admin-ui`, its
//! `instrument(io, options)`): the UI, hosted at <https://admin.socket.io> or served from
//! the npm package's `ui/dist`, connects to the `/admin` namespace and shows this server's
//! sockets, rooms, namespaces, events and statistics — beside Node.js socket.io servers of
//! the same cluster.
//!
//! ```no_run
//! use gateway_runtime::admin::AdminUi;
//! use gateway_runtime::socketio::SocketIo;
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let io = SocketIo::builder().build();
//! // bcrypt hash of the password (`htpasswd -bnBC 10 "" secret | tr -d ':\n'`, or
//! // `bcrypt.hashSync("secret", 10)` in Node.js).
//! AdminUi::basic_auth("admin", "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS")
//!     .instrument(&io)?;
//! # Ok(())
//! # }
//! ```
//!
//! What the UI gets (socket.io's wire protocol for it):
//! - `config` with the supported features (`EMIT`, `JOIN`, `LEAVE`, `DISCONNECT`, `MJOIN`,
//!   `MLEAVE`, `MDISCONNECT` unless [`readonly`](AdminUi::readonly);
//!   `AGGREGATED_EVENTS`; `ALL_EVENTS` in development mode).
//! - `server_stats` every 2 s: server id, hostname, pid, uptime, clients (and polling
//!   clients), sockets per namespace, and counts per second of connections,
//!   disconnections (by reason), packets and bytes in and out (socket.io events).
//! - In development mode (the default; [`production`](AdminUi::production) turns it off):
//!   `all_sockets` on connection, then `socket_connected`, `socket_updated` (a
//!   connection upgraded to WebSocket), `socket_disconnected`, `room_joined`, `room_left`,
//!   `event_received`, `event_sent` as they happen.
//!   Events for the admin namespace are not reported; at most 8 192 reports, 8 MiB in
//!   all, wait to be sent (more are dropped: a burst of traffic does not grow memory).
//! - Commands from the UI (not in read-only mode): `join`, `leave`, `_disconnect`,
//!   `emit`, on any namespace that exists, for a socket id or a room.
//!
//! Emits to the admin namespace go through the adapter, so in a cluster (the Redis
//! adapters) a UI connected to any node sees every node's statistics and sockets.
//! Sessions (the UI's "remember me") live in this process, at most 10 000 for 24 h each.

mod observer;
mod serialize;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use self::observer::{AdminObserver, Report};
use crate::socketio::{ConnectError, Namespace, Socket, SocketIo};

/// Sessions kept at most, and for how long.
const MAX_SESSIONS: usize = 10_000;
const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How often `server_stats` is sent.
const STATS_INTERVAL: Duration = Duration::from_secs(2);
/// Reports (socket, room and event reports) waiting to be sent at most, and their bytes.
const REPORT_QUEUE: usize = 8192;
const REPORT_BYTES: usize = 8 * 1024 * 1024;

/// Why the admin UI could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError(pub String);

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "admin UI: {}", self.0)
    }
}

impl std::error::Error for AdminError {}

/// The admin UI's options (`instrument(io, { auth, readonly, serverId, mode, namespaceName })`).
/// Build with [`AdminUi::basic_auth`] or [`AdminUi::without_auth`], then
/// [`instrument`](AdminUi::instrument) the server.
#[derive(Debug, Clone)]
pub struct AdminUi {
    namespace: String,
    auth: Option<(String, String)>,
    readonly: bool,
    server_id: Option<String>,
    production: bool,
}

impl AdminUi {
    /// Basic authentication: `username` and the bcrypt hash of the password (as
    /// `auth: { type: "basic", username, password }`).
    pub fn basic_auth(username: impl Into<String>, password_hash: impl Into<String>) -> Self {
        Self::with_auth(Some((username.into(), password_hash.into())))
    }

    /// No authentication (`auth: false`): anyone who reaches the server can use the UI.
    pub fn without_auth() -> Self {
        Self::with_auth(None)
    }

    fn with_auth(auth: Option<(String, String)>) -> Self {
        Self {
            namespace: "/admin".into(),
            auth,
            readonly: false,
            server_id: None,
            production: false,
        }
    }

    /// The admin namespace (default `/admin`, `namespaceName`).
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespace = name.into();
        self
    }

    /// Read-only: the UI cannot join, leave, disconnect or emit (default `false`).
    pub fn readonly(mut self, yes: bool) -> Self {
        self.readonly = yes;
        self
    }

    /// This server's name in the UI's server list (default: the host name).
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// Production mode (`mode: "production"`): statistics only, no per-socket reports
    /// (default `false`: development mode, everything).
    pub fn production(mut self, yes: bool) -> Self {
        self.production = yes;
        self
    }

    /// Sets up the admin namespace on `io` and starts reporting. Fails outside a tokio
    /// runtime, on an invalid bcrypt hash, a namespace not starting with `/`, or a server
    /// that is already instrumented.
    pub fn instrument(self, io: &SocketIo) -> Result<(), AdminError> {
        if !self.namespace.starts_with('/') {
            return Err(AdminError(format!(
                "the namespace starts with `/`: \"/{}\"",
                self.namespace
            )));
        }
        if let Some((_, hash)) = &self.auth {
            hash.parse::<bcrypt::HashParts>()
                .map_err(|e| AdminError(format!("the password is not a bcrypt hash ({e})")))?;
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| AdminError("instrument() runs inside a tokio runtime".into()))?;
        let (tx, rx) = mpsc::channel(REPORT_QUEUE);
        let observer = Arc::new(AdminObserver::new(
            self.namespace.clone(),
            !self.production,
            tx,
            REPORT_BYTES,
        ));
        let slot = io.observer_slot();
        if slot.set(observer.clone()).is_err() {
            return Err(AdminError("this server is already instrumented".into()));
        }
        let admin = io.of(&self.namespace);
        let shared = Arc::new(Shared {
            io: io.clone(),
            options: self,
            sessions: Mutex::default(),
            started: Instant::now(),
        });
        shared.clone().register(&admin);
        runtime.spawn(run(shared, admin, observer, rx));
        Ok(())
    }
}

struct Shared {
    io: SocketIo,
    options: AdminUi,
    /// Session ids handed to the UI, with when they expire.
    sessions: Mutex<HashMap<String, Instant>>,
    started: Instant,
}

/// The UI's session id, set by the middleware for the connection handler to send.
#[derive(Clone)]
struct NewSession(String);

impl Shared {
    fn register(self: Arc<Self>, admin: &Namespace) {
        let me = self.clone();
        admin.middleware(move |socket| {
            let me = me.clone();
            async move { me.authenticate(&socket).await }
        });
        let me = self;
        admin.on_connection(move |socket| {
            let me = me.clone();
            async move { me.welcome(socket).await }
        });
    }

    async fn authenticate(&self, socket: &Socket) -> Result<(), ConnectError> {
        let Some((username, hash)) = self.options.auth.clone() else {
            return Ok(());
        };
        let auth = &socket.handshake().auth;
        if let Some(id) = auth.get("sessionId").and_then(Value::as_str) {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            if sessions
                .get(id)
                .is_some_and(|until| *until > Instant::now())
            {
                return Ok(());
            }
            sessions.remove(id);
        }
        let given_user = auth.get("username").and_then(Value::as_str).unwrap_or("");
        let password = auth
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // bcrypt is slow on purpose: off the runtime's threads.
        let matches = given_user == username
            && tokio::task::spawn_blocking(move || {
                bcrypt::verify(password, &hash).unwrap_or(false)
            })
            .await
            .unwrap_or(false);
        if !matches {
            return Err(ConnectError::new("invalid credentials"));
        }
        let id = {
            let bytes: [u8; 8] = rand::random();
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        {
            let now = Instant::now();
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.retain(|_, until| *until > now);
            if sessions.len() >= MAX_SESSIONS {
                // The oldest goes: its UI logs in again.
                if let Some(oldest) = sessions
                    .iter()
                    .min_by_key(|(_, u)| **u)
                    .map(|(k, _)| k.clone())
                {
                    sessions.remove(&oldest);
                }
            }
            sessions.insert(id.clone(), now + SESSION_LIFETIME);
        }
        socket.insert_extension(NewSession(id));
        Ok(())
    }

    async fn welcome(self: Arc<Self>, socket: Socket) {
        if let Some(NewSession(id)) = socket.extension::<NewSession>() {
            let _ = socket.emit("session", &id);
        }
        let _ = socket.emit("config", &json!({ "supportedFeatures": self.features() }));
        if !self.options.production {
            let _ = socket.emit("all_sockets", &self.all_sockets().await);
        }
        if !self.options.readonly {
            self.clone().commands(&socket);
        }
    }

    fn features(&self) -> Vec<&'static str> {
        let mut features = Vec::new();
        if !self.options.readonly {
            features.extend([
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]);
        }
        features.push("AGGREGATED_EVENTS");
        if !self.options.production {
            features.push("ALL_EVENTS");
        }
        features
    }

    /// Every socket of every namespace, this node's described in full, the other nodes'
    /// by id and rooms.
    async fn all_sockets(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for ns in self.io.namespaces() {
            let local: Vec<Socket> = ns.sockets();
            for socket in &local {
                out.push(serialize::socket(socket));
            }
            if let Ok(all) = ns.fetch_sockets().await {
                for info in all {
                    if local.iter().all(|s| s.id() != info.id) {
                        out.push(serialize::remote_socket(ns.name(), &info));
                    }
                }
            }
        }
        out
    }

    /// The UI's commands: `join`, `leave`, `_disconnect`, `emit` (`filter`: a socket id or
    /// a room; none: every socket of the namespace).
    fn commands(self: Arc<Self>, socket: &Socket) {
        let me = self.clone();
        socket.on("join", move |_, args, _| {
            let me = me.clone();
            async move {
                if let (Some(ns), Ok(room)) = (me.namespace_arg(&args), args.get::<String>(1)) {
                    let filter = args.get::<String>(2).ok();
                    operator(&ns, filter).sockets_join(&[room.into()]);
                }
            }
        });
        let me = self.clone();
        socket.on("leave", move |_, args, _| {
            let me = me.clone();
            async move {
                if let (Some(ns), Ok(room)) = (me.namespace_arg(&args), args.get::<String>(1)) {
                    let filter = args.get::<String>(2).ok();
                    operator(&ns, filter).sockets_leave(&[room.into()]);
                }
            }
        });
        let me = self.clone();
        socket.on("_disconnect", move |_, args, _| {
            let me = me.clone();
            async move {
                if let Some(ns) = me.namespace_arg(&args) {
                    let close = args.get::<bool>(1).unwrap_or(false);
                    let filter = args.get::<String>(2).ok();
                    operator(&ns, filter).disconnect_sockets(close);
                }
            }
        });
        let me = self;
        socket.on("emit", move |_, args, _| {
            let me = me.clone();
            async move {
                let (Some(ns), Ok(event)) = (me.namespace_arg(&args), args.get::<String>(2)) else {
                    return;
                };
                let filter = args.get::<String>(1).ok().filter(|f| !f.is_empty());
                let rest: Vec<Value> = (3..args.len())
                    .map(|i| args.get(i).unwrap_or(Value::Null))
                    .collect();
                let _ = operator(&ns, filter).emit_args(&event, &observer::ValueArgs(&rest));
            }
        });
    }

    /// The namespace named by a command's first argument, when it exists (a command never
    /// creates one).
    fn namespace_arg(&self, args: &crate::socketio::Args) -> Option<Namespace> {
        let name = args.get::<String>(0).ok()?;
        self.io
            .namespaces()
            .into_iter()
            .find(|ns| ns.name() == name)
    }

    fn stats(&self, observer: &AdminObserver) -> Value {
        let hostname = hostname();
        // One pass over the sockets: each namespace's count, and the connections still on
        // long-polling, once each (a connection has a socket per namespace).
        let mut namespaces = Vec::new();
        let mut polling = std::collections::HashSet::new();
        for ns in self.io.namespaces() {
            let sockets = ns.sockets();
            for socket in &sockets {
                if socket.engine().transport() == crate::engine::TransportKind::Polling {
                    polling.insert(socket.engine().sid());
                }
            }
            namespaces.push(json!({ "name": ns.name(), "socketsCount": sockets.len() }));
        }
        let clients = self.io.connection_count();
        let polling = polling.len();
        json!({
            "serverId": self.options.server_id.clone().unwrap_or_else(|| hostname.clone()),
            "hostname": hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": clients,
            "pollingClientsCount": polling,
            "aggregatedEvents": observer.take_aggregated(),
            "namespaces": namespaces,
        })
    }
}

fn operator(ns: &Namespace, filter: Option<String>) -> crate::socketio::BroadcastOperator {
    match filter {
        Some(room) => ns.to(room),
        None => ns.broadcast(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Sends the reports as they come, and the statistics every 2 s.
async fn run(
    shared: Arc<Shared>,
    admin: Namespace,
    observer: Arc<AdminObserver>,
    mut reports: mpsc::Receiver<Report>,
) {
    let mut stats = tokio::time::interval(STATS_INTERVAL);
    loop {
        tokio::select! {
            report = reports.recv() => match report {
                Some(report) => {
                    observer.queued.fetch_sub(report.len(), std::sync::atomic::Ordering::AcqRel);
                    let _ = admin.emit_args(report.event, &observer::WrittenArgs(&report.args));
                }
                None => return,
            },
            _ = stats.tick() => {
                let _ = admin.emit("server_stats", &shared.stats(&observer));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_refused() {
        let io = SocketIo::builder().build();
        let outside = AdminUi::without_auth().instrument(&io);
        assert!(outside.unwrap_err().0.contains("tokio runtime"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let not_a_hash = AdminUi::basic_auth("admin", "secret").instrument(&io);
            assert!(not_a_hash.unwrap_err().0.contains("bcrypt"));
            let bad_ns = AdminUi::without_auth().namespace("admin").instrument(&io);
            assert!(bad_ns.unwrap_err().0.contains("starts with `/`"));
            AdminUi::without_auth().instrument(&io).unwrap();
            let twice = AdminUi::without_auth().instrument(&io);
            assert!(twice.unwrap_err().0.contains("already instrumented"));
        });
    }
}
