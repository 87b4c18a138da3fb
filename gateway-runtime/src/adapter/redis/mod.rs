//! A multi-node adapter over Redis pub/sub, wire-compatible with the official
//! [`@socket.io/redis-adapter`] 8.x (the classic, non-sharded adapter): Rust and Node.js
//! socket.io servers can share one Redis and one cluster.
//!
//! Every node keeps its rooms in memory and talks to the others through Redis channels
//! (`<key>` is `socket.io` by default):
//!
//! | channel | carries |
//! | --- | --- |
//! | `<key>#<nsp>#` | broadcasts to the namespace or to several rooms |
//! | `<key>#<nsp>#<room>#` | broadcasts to exactly one room |
//! | `<key>-request#<nsp>#` | requests to every node (fetch sockets, join/leave/disconnect, all rooms, broadcasts with acks) |
//! | `<key>-response#<nsp>#` | answers (and `<key>-response#<nsp>#<uid>#`, one node's own) |
//!
//! Broadcasts are msgpack `[uid, packet, {rooms, except, flags}]` where `packet` is the
//! socket.io packet object, binary included; requests and answers are JSON, except those
//! carrying a packet (msgpack). The number of nodes is the number of subscribers of the
//! request channel (`PUBSUB NUMSUB`).
//!
//! For Redis 7 sharded pub/sub (`createShardedAdapter`), see [`ShardedRedisAdapter`].
//!
//! What it supports: broadcasts with `to`/`except`/`local`/`volatile`, broadcasts with
//! acknowledgements gathered from every node, `fetch_sockets`, `sockets_join`,
//! `sockets_leave`, `disconnect_sockets`, [`Adapter::remote_rooms`] (socket.io's
//! `allRooms`), [`Adapter::server_count`] and server-side events (`serverSideEmit`, with
//! and without answers). Not supported: connection state recovery across nodes.
//!
//! Resilience: when Redis is unreachable or restarts, local delivery keeps working, messages
//! to other nodes are dropped, cluster-wide requests fail with an [`AdapterError`], and the
//! adapter reconnects and subscribes again by itself. Each outage is logged once. A request
//! that some node does not answer fails after [`RedisConfig::requests_timeout`].
//!
//! ```no_run
//! use gateway_runtime::adapter::redis::{RedisAdapter, RedisConfig};
//! use gateway_runtime::socketio::SocketIo;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let adapter = RedisAdapter::factory(RedisConfig::new("redis://127.0.0.1:6379/"))?;
//! let io = SocketIo::builder().adapter(adapter).build();
//! io.of("/").on_connection(|socket| async move {
//!     socket.join("lobby");
//!     // reaches the sockets of "lobby" on every node
//!     let _ = socket.to("lobby").emit("joined", socket.id().as_str());
//! });
//! // ... serve io.router() ...
//! let nodes = io.of("/").adapter().server_count().await?;
//! println!("{nodes} nodes in the cluster");
//! # Ok(())
//! # }
//! ```
//!
//! [`@socket.io/redis-adapter`]: https://github.com/socketio/socket.io-redis-adapter

/// What both Redis adapters do alike, as items of an `impl Adapter`: the room bookkeeping
/// they leave to their in-memory rooms (`self.core.rooms`), their binding, and the packet
/// object of a broadcast with acks handed to their core.
macro_rules! rooms_in_memory {
    () => {
        fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
            self.core.rooms.socket_rooms(sid)
        }

        fn socket_room_count(&self, sid: Sid) -> usize {
            self.core.rooms.socket_room_count(sid)
        }

        fn socket_in_room(&self, sid: Sid, room: &str) -> bool {
            self.core.rooms.socket_in_room(sid, room)
        }

        fn for_each_target(
            &self,
            opts: &BroadcastOptions,
            all: &mut dyn Iterator<Item = Sid>,
            f: &mut dyn FnMut(Sid),
        ) {
            self.core.rooms.for_each_target(opts, all, f);
        }

        fn local_rooms(&self) -> HashSet<Room> {
            self.core.rooms.local_rooms()
        }

        fn bind(&self, local: LocalNamespace) {
            let _ = self.core.local.set(local);
            self.core.driver.ensure_started();
        }

        fn remote_broadcast_with_ack(
            &self,
            packet: &Encoded,
            opts: &BroadcastOptions,
            on_ack: Arc<dyn Fn(Args) + Send + Sync>,
        ) -> BoxFuture<'_, Result<usize, AdapterError>> {
            if opts.local {
                return Box::pin(async { Ok(0) });
            }
            let object = wire::packet_object(packet, false);
            let opts = opts.clone();
            Box::pin(async move {
                let object =
                    object.map_err(|e| AdapterError(format!("cannot relay packet: {e}")))?;
                self.core.broadcast_with_ack(object, &opts, on_ack).await
            })
        }
    };
}

mod connection;
mod requests;
pub mod sharded;
mod wire;

pub use sharded::{ShardedAdapterFactory, ShardedRedisAdapter, SubscriptionMode};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gateway_core::socketio::{Args, Encoded};
use rand::distr::{Alphanumeric, SampleString};
use rmpv::Value;

use self::connection::{Driver, Listener, Settings};
use self::requests::{AckRequest, Pending};
use self::wire::request_type;
use super::{
    Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions, LocalNamespace,
    MemoryAdapter, Room, SocketInfo,
};
use crate::engine::Sid;

/// Configuration of the Redis adapter.
///
/// ```
/// use std::time::Duration;
/// use gateway_runtime::adapter::redis::RedisConfig;
/// let config = RedisConfig::new("redis://127.0.0.1:6379/")
///     .key("my-app")
///     .requests_timeout(Duration::from_secs(2));
/// assert_eq!(config.get_key(), "my-app");
/// ```
#[derive(Debug, Clone)]
pub struct RedisConfig {
    url: String,
    /// Nodes of a Redis Cluster (sharded adapter), instead of `url`.
    cluster: Option<Vec<String>>,
    key: String,
    requests_timeout: Duration,
    publish_on_specific_response_channel: bool,
    connect_timeout: Duration,
    min_retry_delay: Duration,
    max_retry_delay: Duration,
    health_check_interval: Duration,
    ack_retention: Duration,
    queue_capacity: usize,
    tls: Option<Tls>,
}

/// TLS settings: a root certificate to trust, a client certificate and key (PEM).
#[derive(Clone)]
pub(crate) struct Tls {
    root: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

impl Tls {
    fn certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self.client.clone().map(|(client_cert, client_key)| {
                redis::ClientTlsConfig {
                    client_cert,
                    client_key,
                }
            }),
            root_cert: self.root.clone(),
        }
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Tls")
            .field("root", &self.root.is_some())
            .field("client", &self.client.is_some())
            .finish()
    }
}

impl RedisConfig {
    /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `redis+unix:///path`), with the official adapter's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster: None,
            key: "socket.io".into(),
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            connect_timeout: Duration::from_secs(5),
            min_retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_secs(2),
            health_check_interval: Duration::from_secs(15),
            ack_retention: Duration::from_secs(60),
            queue_capacity: 65_536,
            tls: None,
        }
    }

    /// TLS with a `rediss://` URL: trust the certificate authority in `root_pem` (PEM)
    /// instead of the system's, and, with `client`, authenticate with a certificate and its
    /// key (both PEM; Redis's `tls-auth-clients yes`). Without this call a `rediss://` URL
    /// uses the system's trusted authorities.
    pub fn tls(mut self, root_pem: Option<Vec<u8>>, client: Option<(Vec<u8>, Vec<u8>)>) -> Self {
        self.tls = Some(Tls {
            root: root_pem,
            client,
        });
        self
    }

    /// A Redis Cluster, reached through some of its nodes (`redis://host:port` or
    /// `rediss://` each; the others are discovered). Only [`ShardedRedisAdapter`] uses a
    /// cluster: each channel's `SPUBLISH` / `SSUBSCRIBE` goes to the shard that owns it.
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        let mut config = Self::new(nodes.first().cloned().unwrap_or_default());
        config.cluster = Some(nodes);
        config
    }

    /// Where the connections go (TLS settings included).
    fn target(&self) -> Result<connection::Target, AdapterError> {
        if let Some(nodes) = &self.cluster {
            if nodes.is_empty() {
                return Err(AdapterError(
                    "a Redis Cluster needs at least one node".into(),
                ));
            }
            for node in nodes {
                redis::Client::open(node.as_str())
                    .map_err(|e| AdapterError(format!("invalid Redis URL {node}: {e}")))?;
            }
            return Ok(connection::Target::Cluster(connection::ClusterSpec {
                nodes: nodes.clone(),
                tls: self.tls.clone(),
            }));
        }
        let client = match &self.tls {
            None => redis::Client::open(self.url.as_str()),
            Some(tls) => redis::Client::build_with_tls(self.url.as_str(), tls.certificates()),
        };
        client
            .map(connection::Target::Single)
            .map_err(|e| AdapterError(format!("invalid Redis URL or TLS settings: {e}")))
    }

    /// The channel prefix (default `socket.io`); every node of a cluster uses the same.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// The channel prefix.
    pub fn get_key(&self) -> &str {
        &self.key
    }

    /// How long a cluster-wide request (fetch sockets, all rooms, the node counts of a
    /// broadcast with acks) waits for every node to answer (default 5 s).
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Answers requests on the requesting node's own channel
    /// (`<key>-response#<nsp>#<uid>#`) instead of the shared one (default `false`, as the
    /// official adapter, for nodes older than 7.2 that only listen on the shared one).
    pub fn publish_on_specific_response_channel(mut self, yes: bool) -> Self {
        self.publish_on_specific_response_channel = yes;
        self
    }

    /// Time allowed to open a connection to Redis (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Delays between reconnection attempts: the first, doubled after each failure up to
    /// the second (default 100 ms to 2 s).
    pub fn retry_delays(mut self, min: Duration, max: Duration) -> Self {
        self.min_retry_delay = min;
        self.max_retry_delay = max;
        self
    }

    /// How often the subscriber connection is checked with a PING (default 15 s).
    pub fn health_check_interval(mut self, interval: Duration) -> Self {
        self.health_check_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How long the acknowledgements of a broadcast with acks are still relayed from other
    /// nodes (default 60 s). Use at least the longest `timeout` given to `emit_with_ack`;
    /// the entry is dropped earlier once every expected answer has arrived.
    pub fn ack_retention(mut self, retention: Duration) -> Self {
        self.ack_retention = retention;
        self
    }

    /// Messages waiting to be published at most (default 65 536); beyond that, messages to
    /// other nodes are dropped (and logged) until Redis catches up.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }
}

/// Creates one [`RedisAdapter`] per namespace; its namespaces share two Redis connections
/// (one to publish, one subscribed). Build it with [`RedisAdapter::factory`] and give it
/// to `SocketIo::builder().adapter(..)`.
///
/// The connections open as soon as the first namespace is created inside a tokio runtime.
pub struct RedisAdapterFactory {
    driver: Arc<Driver>,
    config: Arc<RedisConfig>,
}

impl std::fmt::Debug for RedisAdapterFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapterFactory")
            .field("key", &self.config.key)
            .field("driver", &self.driver)
            .finish()
    }
}

impl RedisAdapterFactory {
    /// Whether both Redis connections are currently up (and subscribed).
    pub fn is_connected(&self) -> bool {
        self.driver.connected()
    }
}

impl AdapterFactory for RedisAdapterFactory {
    fn is_ready(&self) -> bool {
        self.is_connected()
    }

    fn create(&self, nsp: &str) -> Arc<dyn Adapter> {
        Arc::new(RedisAdapter::new(
            nsp,
            self.driver.clone(),
            self.config.clone(),
        ))
    }
}

/// The Redis adapter of one namespace. See the [module documentation](self).
pub struct RedisAdapter {
    core: Arc<Core>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("nsp", &self.core.nsp)
            .field("uid", &self.core.uid)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// The factory to give to `SocketIo::builder().adapter(..)`. Fails only on an invalid
    /// URL; connecting happens in the background (and is retried forever).
    pub fn factory(config: RedisConfig) -> Result<RedisAdapterFactory, AdapterError> {
        if config.cluster.is_some() {
            return Err(AdapterError(
                "the classic adapter needs one Redis server: on a Redis Cluster, use \
                 ShardedRedisAdapter"
                    .into(),
            ));
        }
        let target = config.target()?;
        let settings = Settings {
            connect_timeout: config.connect_timeout,
            command_timeout: config.requests_timeout.max(Duration::from_millis(100)),
            min_retry_delay: config.min_retry_delay,
            max_retry_delay: config.max_retry_delay,
            ping_interval: config.health_check_interval,
            queue_capacity: config.queue_capacity,
            sharded: false,
        };
        Ok(RedisAdapterFactory {
            driver: Arc::new(Driver::new(target, settings)),
            config: Arc::new(config),
        })
    }

    fn new(nsp: &str, driver: Arc<Driver>, config: Arc<RedisConfig>) -> Self {
        let key = &config.key;
        let uid = random_id(12);
        let channel = format!("{key}#{nsp}#");
        let request_channel = format!("{key}-request#{nsp}#");
        let response_channel = format!("{key}-response#{nsp}#");
        let specific_response_channel = format!("{response_channel}{uid}#");
        let pattern = format!("{}*", escape_glob(&channel));
        let core = Arc::new(Core {
            pattern,
            nsp: nsp.to_owned(),
            uid,
            channel,
            request_channel,
            response_channel,
            specific_response_channel,
            rooms: MemoryAdapter::new(),
            local: OnceLock::new(),
            driver,
            config,
            pending: Mutex::default(),
            acks: Mutex::default(),
            server_side: Mutex::default(),
        });
        let listener: Arc<dyn Listener> = core.clone();
        core.driver.register(
            Arc::downgrade(&listener),
            &[
                core.request_channel.clone(),
                core.response_channel.clone(),
                core.specific_response_channel.clone(),
            ],
            &core.pattern,
        );
        Self { core }
    }

    /// This node's id in the cluster (per namespace, as in the official adapter).
    pub fn uid(&self) -> &str {
        &self.core.uid
    }
}

/// Escapes the glob characters of a PSUBSCRIBE pattern.
fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn random_id(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// The state of one namespace's adapter, shared with the subscriber task.
pub(crate) struct Core {
    /// The PSUBSCRIBE pattern of this namespace's broadcasts.
    pattern: String,
    nsp: String,
    uid: String,
    channel: String,
    request_channel: String,
    response_channel: String,
    specific_response_channel: String,
    rooms: MemoryAdapter,
    local: OnceLock<LocalNamespace>,
    driver: Arc<Driver>,
    config: Arc<RedisConfig>,
    /// Requests of this node waiting for answers, by request id.
    pending: Mutex<HashMap<String, Pending>>,
    /// Broadcasts with acks of this node still relaying answers, by request id.
    acks: Mutex<HashMap<String, AckRequest>>,
    /// Server-side events sent by this node that wait for answers, by request id.
    server_side: Mutex<HashMap<String, requests::ServerSideRequest>>,
}

impl Core {
    fn publish(&self, channel: String, payload: Vec<u8>) {
        if let Err(e) = self.driver.publish(channel, payload) {
            tracing::debug!(nsp = %self.nsp, error = %e, "Redis adapter: message not published");
        }
    }

    /// Publishes a fire-and-forget request to every node.
    fn publish_request(&self, request: &Value) {
        self.publish(self.request_channel.clone(), wire::to_json(request));
    }
}

impl Listener for Core {
    fn on_pattern_message(&self, channel: &str, payload: &[u8]) {
        if channel.starts_with(&self.channel) {
            self.on_broadcast(payload);
        }
    }

    fn on_message(&self, channel: &str, payload: &[u8]) {
        if channel.starts_with(&self.response_channel) {
            self.on_response(payload);
        } else if channel == self.request_channel {
            self.on_request(payload);
        }
    }
}

impl Adapter for RedisAdapter {
    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        self.core.rooms.add_all(sid, rooms);
    }

    fn del(&self, sid: Sid, room: &str) {
        self.core.rooms.del(sid, room);
    }

    fn del_all(&self, sid: Sid) {
        self.core.rooms.del_all(sid);
    }

    rooms_in_memory!();

    fn close(&self) {
        let core = &self.core;
        let listener: Arc<dyn Listener> = core.clone();
        core.driver.unregister(
            &Arc::downgrade(&listener),
            &[
                core.request_channel.clone(),
                core.response_channel.clone(),
                core.specific_response_channel.clone(),
            ],
            &core.pattern,
        );
    }

    fn remote_broadcast(&self, packet: &Encoded, opts: &BroadcastOptions) {
        if opts.local {
            return;
        }
        let core = &self.core;
        let object = match wire::packet_object(packet, false) {
            Ok(object) => object,
            Err(e) => {
                tracing::warn!(nsp = %core.nsp, error = %e, "Redis adapter: cannot relay packet");
                return;
            }
        };
        let rooms = wire::unique_rooms(&opts.rooms);
        let channel = match rooms.as_slice() {
            [room] => format!("{}{}#", core.channel, room),
            _ => core.channel.clone(),
        };
        let message = Value::Array(vec![
            Value::from(core.uid.as_str()),
            object,
            wire::opts_with_flags(opts),
        ]);
        core.publish(channel, wire::to_msgpack(&message));
    }

    fn remote_fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        if opts.local {
            return Box::pin(async { Ok(Vec::new()) });
        }
        let request_opts = wire::opts_plain(opts);
        Box::pin(async move {
            let answers = self
                .core
                .gather(
                    request_type::REMOTE_FETCH,
                    Some(("opts", request_opts)),
                    "fetchSockets",
                )
                .await?;
            let mut out = Vec::new();
            for answer in &answers {
                let Some(sockets) = wire::get(answer, "sockets").and_then(Value::as_array) else {
                    continue;
                };
                for socket in sockets {
                    let id = wire::get_str(socket, "id").and_then(Sid::parse);
                    let Some(id) = id else {
                        tracing::debug!(
                            "Redis adapter: skipping a remote socket with a foreign id"
                        );
                        continue;
                    };
                    out.push(SocketInfo {
                        id,
                        rooms: wire::rooms_of(wire::get(socket, "rooms")),
                    });
                }
            }
            Ok(out)
        })
    }

    fn remote_add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if opts.local {
            return;
        }
        let core = &self.core;
        crate::telemetry::adapter_request("redis", request_type::REMOTE_JOIN);
        core.publish_request(&wire::map([
            ("uid", Value::from(core.uid.as_str())),
            ("type", Value::from(request_type::REMOTE_JOIN)),
            ("opts", wire::opts_plain(opts)),
            ("rooms", rooms_value(rooms)),
        ]));
    }

    fn remote_del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if opts.local {
            return;
        }
        let core = &self.core;
        crate::telemetry::adapter_request("redis", request_type::REMOTE_LEAVE);
        core.publish_request(&wire::map([
            ("uid", Value::from(core.uid.as_str())),
            ("type", Value::from(request_type::REMOTE_LEAVE)),
            ("opts", wire::opts_plain(opts)),
            ("rooms", rooms_value(rooms)),
        ]));
    }

    fn remote_disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if opts.local {
            return;
        }
        let core = &self.core;
        crate::telemetry::adapter_request("redis", request_type::REMOTE_DISCONNECT);
        core.publish_request(&wire::map([
            ("uid", Value::from(core.uid.as_str())),
            ("type", Value::from(request_type::REMOTE_DISCONNECT)),
            ("opts", wire::opts_plain(opts)),
            ("close", Value::Boolean(close)),
        ]));
    }

    /// A `SERVER_SIDE_EMIT` request, as the official adapter sends it (JSON).
    fn server_side_emit(&self, packet: &str) -> Result<(), AdapterError> {
        let data = wire::json_to_value(packet, &[]).map_err(|e| AdapterError(e.to_string()))?;
        let request = wire::map([
            ("uid", Value::from(self.core.uid.as_str())),
            ("type", Value::from(request_type::SERVER_SIDE_EMIT)),
            ("data", data),
        ]);
        crate::telemetry::adapter_request("redis", request_type::SERVER_SIDE_EMIT);
        self.core
            .driver
            .publish(self.core.request_channel.clone(), wire::to_json(&request))
    }

    fn server_side_emit_with_ack(
        &self,
        packet: &str,
        timeout: Duration,
        on_answer: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> BoxFuture<'_, Result<usize, AdapterError>> {
        let data = wire::json_to_value(packet, &[]).map_err(|e| AdapterError(e.to_string()));
        Box::pin(async move {
            self.core
                .server_side_emit_with_ack(data?, timeout, on_answer)
                .await
        })
    }

    /// `PUBSUB NUMSUB` of the request channel: every node subscribes to it once per
    /// namespace. Fails while Redis is unreachable.
    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move { self.core.driver.numsub(&self.core.request_channel).await })
    }

    /// Rooms of the other nodes, as they report them: socket.io nodes (and this adapter)
    /// include each socket's own id room.
    fn remote_rooms(&self) -> BoxFuture<'_, Result<HashSet<Room>, AdapterError>> {
        Box::pin(async move {
            let answers = self
                .core
                .gather(request_type::ALL_ROOMS, None, "allRooms")
                .await?;
            Ok(answers
                .iter()
                .flat_map(|a| wire::rooms_of(wire::get(a, "rooms")))
                .collect())
        })
    }
}

fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(r.as_ref())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_glob_characters() {
        assert_eq!(escape_glob("socket.io#/#"), "socket.io#/#");
        assert_eq!(escape_glob("k#/a*b?[c]\\#"), "k#/a\\*b\\?\\[c\\]\\\\#");
    }

    #[test]
    fn factory_rejects_bad_urls_and_builds_without_a_runtime() {
        assert!(RedisAdapter::factory(RedisConfig::new("not a url")).is_err());
        let factory = RedisAdapter::factory(RedisConfig::new("redis://127.0.0.1:1/")).unwrap();
        // No runtime here: creating an adapter must neither panic nor connect.
        let adapter = factory.create("/");
        assert!(!factory.is_connected());
        let sid = Sid::random();
        adapter.add_all(sid, &["r".into()]);
        assert_eq!(adapter.socket_rooms(sid), vec![Room::from("r")]);
    }
}
