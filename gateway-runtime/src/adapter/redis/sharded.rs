//! The sharded Redis adapter: Redis 7 sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`),
//! wire-compatible with `createShardedAdapter` of the official `@socket.io/redis-adapter`
//! 8.x. Use it when Redis runs as a cluster and pub/sub traffic must spread over its
//! shards: each channel lives on one shard, so no message is copied to every node of
//! the Redis cluster.
//!
//! Channels (`<key>` is `socket.io` by default):
//!
//! | channel | carries |
//! | --- | --- |
//! | `<key>#<nsp>#` | broadcasts to the namespace, to several rooms or to a socket id, and every request |
//! | `<key>#<nsp>#<room>#` | broadcasts to exactly one room (subscribed while a local socket is in it; [`SubscriptionMode::Dynamic`], the default) |
//! | `<key>#<nsp>#<uid>#` | answers to one node |
//!
//! Messages are `{type, data, uid, nsp}` (socket.io's cluster-adapter messages): JSON, or
//! msgpack when they carry binary. The number of nodes is `PUBSUB SHARDNUMSUB` of the main
//! channel. Supported: broadcasts (rooms, except, local, volatile, acks), `fetch_sockets`,
//! `sockets_join`, `sockets_leave`, `disconnect_sockets`, server-side events with and
//! without acks, `server_count`. Not part of this protocol: socket.io's `allRooms`
//! ([`Adapter::remote_rooms`] fails with an [`AdapterError`] saying so).
//!
//! On a Redis Cluster, configure it with [`RedisConfig::cluster`]: commands for a channel
//! go to the shard that owns the channel's slot, `PUBSUB SHARDNUMSUB` is summed over the
//! shards. TLS: `rediss://` URLs and [`RedisConfig::tls`].
//!
//! Resilience is the classic adapter's: local delivery goes on while Redis is away,
//! cluster-wide requests fail, the connections come back by themselves.
//!
//! ```no_run
//! use gateway_runtime::adapter::redis::{RedisConfig, ShardedRedisAdapter};
//! use gateway_runtime::socketio::SocketIo;
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let adapter = ShardedRedisAdapter::factory(RedisConfig::new("redis://127.0.0.1:6379/"))?;
//! let io = SocketIo::builder().adapter(adapter).build();
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use gateway_core::socketio::{Args, Encoded};
use rmpv::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::connection::{Driver, Listener, Settings};
use super::requests::answers_within;
use super::wire;
use super::RedisConfig;
use crate::adapter::{
    Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions, LocalNamespace,
    MemoryAdapter, Room, SocketInfo,
};
use crate::engine::Sid;
use crate::socketio::ServerSideAck;

/// socket.io's cluster-adapter message types.
mod kind {
    pub(super) const BROADCAST: u64 = 3;
    pub(super) const SOCKETS_JOIN: u64 = 4;
    pub(super) const SOCKETS_LEAVE: u64 = 5;
    pub(super) const DISCONNECT_SOCKETS: u64 = 6;
    pub(super) const FETCH_SOCKETS: u64 = 7;
    pub(super) const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub(super) const SERVER_SIDE_EMIT: u64 = 9;
    pub(super) const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub(super) const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub(super) const BROADCAST_ACK: u64 = 12;
}

/// Which room channels a node subscribes to (`subscriptionMode` of the official adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// Only the namespace's channel: every broadcast reaches every node.
    Static,
    /// Also one channel per room with local sockets (not socket-id rooms): a broadcast to
    /// one room reaches only the nodes with sockets in it. The default.
    #[default]
    Dynamic,
}

/// Builds a [`ShardedRedisAdapter`] per namespace; its namespaces share two Redis
/// connections. See [`ShardedRedisAdapter::factory`].
pub struct ShardedAdapterFactory {
    driver: Arc<Driver>,
    config: Arc<RedisConfig>,
    mode: SubscriptionMode,
}

impl std::fmt::Debug for ShardedAdapterFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedAdapterFactory")
            .field("key", &self.config.key)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ShardedAdapterFactory {
    /// The subscription mode (default [`SubscriptionMode::Dynamic`]); every node of a
    /// cluster uses the same.
    pub fn subscription_mode(mut self, mode: SubscriptionMode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether both Redis connections are currently up (and subscribed).
    pub fn is_connected(&self) -> bool {
        self.driver.connected()
    }
}

impl AdapterFactory for ShardedAdapterFactory {
    fn is_ready(&self) -> bool {
        self.is_connected()
    }

    fn create(&self, nsp: &str) -> Arc<dyn Adapter> {
        Arc::new(ShardedRedisAdapter::new(
            nsp,
            self.driver.clone(),
            self.config.clone(),
            self.mode,
        ))
    }
}

/// The sharded Redis adapter of one namespace. See the [module documentation](self).
pub struct ShardedRedisAdapter {
    core: Arc<Core>,
}

impl std::fmt::Debug for ShardedRedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedRedisAdapter")
            .field("nsp", &self.core.nsp)
            .field("uid", &self.core.uid)
            .finish_non_exhaustive()
    }
}

impl ShardedRedisAdapter {
    /// The factory to give to `SocketIo::builder().adapter(..)`, with `config`'s URL, key,
    /// requests timeout and reconnection settings (Redis 7 or later). Fails only on an
    /// invalid URL; connecting happens in the background (and is retried forever).
    pub fn factory(config: RedisConfig) -> Result<ShardedAdapterFactory, AdapterError> {
        let target = config.target()?;
        let settings = Settings {
            connect_timeout: config.connect_timeout,
            command_timeout: config.requests_timeout.max(Duration::from_millis(100)),
            min_retry_delay: config.min_retry_delay,
            max_retry_delay: config.max_retry_delay,
            ping_interval: config.health_check_interval,
            queue_capacity: config.queue_capacity,
            sharded: true,
        };
        Ok(ShardedAdapterFactory {
            driver: Arc::new(Driver::new(target, settings)),
            config: Arc::new(config),
            mode: SubscriptionMode::default(),
        })
    }

    fn new(
        nsp: &str,
        driver: Arc<Driver>,
        config: Arc<RedisConfig>,
        mode: SubscriptionMode,
    ) -> Self {
        let uid = hex_id();
        let channel = format!("{}#{nsp}#", config.key);
        let response_channel = format!("{channel}{uid}#");
        let core = Arc::new_cyclic(|me: &Weak<Core>| Core {
            me: me.clone(),
            nsp: nsp.to_owned(),
            uid,
            channel,
            response_channel,
            mode,
            rooms: MemoryAdapter::new(),
            local: OnceLock::new(),
            driver,
            config,
            requests: Mutex::default(),
        });
        core.driver.register(
            core.listener(),
            &[core.channel.clone(), core.response_channel.clone()],
            "",
        );
        Self { core }
    }

    /// This node's id in the cluster (per namespace, as in the official adapter).
    pub fn uid(&self) -> &str {
        &self.core.uid
    }
}

/// 8 random bytes in hex, as socket.io's cluster adapter names nodes and requests.
fn hex_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request of this node waiting for answers, by request id.
enum Request {
    /// `FETCH_SOCKETS`: every answer goes to the waiter.
    Fetch(mpsc::UnboundedSender<Value>),
    /// A broadcast with acks: client counts to the waiter, acks to `on_ack`.
    Acks {
        counts: mpsc::UnboundedSender<u64>,
        on_ack: Arc<dyn Fn(Args) + Send + Sync>,
        expires: Instant,
    },
    /// A server-side event with acks.
    ServerSide {
        on_answer: Arc<dyn Fn(Args) + Send + Sync>,
        missing: usize,
        expires: Instant,
    },
}

struct Core {
    me: Weak<Core>,
    nsp: String,
    uid: String,
    channel: String,
    response_channel: String,
    mode: SubscriptionMode,
    rooms: MemoryAdapter,
    local: OnceLock<LocalNamespace>,
    driver: Arc<Driver>,
    config: Arc<RedisConfig>,
    requests: Mutex<HashMap<String, Request>>,
}

/// Removes a request when its waiter is done (or dropped).
struct RequestGuard<'a> {
    core: &'a Core,
    id: String,
}

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        self.core.requests_lock().remove(&self.id);
    }
}

/// Whether `value` holds binary (then the message goes as msgpack, as socket.io does).
fn has_binary(value: &Value) -> bool {
    match value {
        Value::Binary(_) | Value::Ext(..) => true,
        Value::Array(items) => items.iter().any(has_binary),
        Value::Map(entries) => entries.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

impl Core {
    fn listener(&self) -> Weak<dyn Listener> {
        let me: Weak<dyn Listener> = self.me.clone();
        me
    }

    fn requests_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Request>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// `{type, data, uid, nsp}`: JSON, or msgpack for the types that may carry binary when
    /// they do.
    fn encode(&self, kind: u64, data: Value) -> Vec<u8> {
        let binary = matches!(
            kind,
            kind::BROADCAST
                | kind::FETCH_SOCKETS_RESPONSE
                | kind::SERVER_SIDE_EMIT
                | kind::SERVER_SIDE_EMIT_RESPONSE
                | kind::BROADCAST_ACK
        ) && has_binary(&data);
        let message = wire::map([
            ("type", Value::from(kind)),
            ("data", data),
            ("uid", Value::from(self.uid.as_str())),
            ("nsp", Value::from(self.nsp.as_str())),
        ]);
        if binary {
            wire::to_msgpack(&message)
        } else {
            wire::to_json(&message)
        }
    }

    fn publish(&self, channel: String, kind: u64, data: Value) -> Result<(), AdapterError> {
        crate::telemetry::adapter_request("redis-sharded", kind);
        self.driver.publish(channel, self.encode(kind, data))
    }

    fn publish_or_log(&self, channel: String, kind: u64, data: Value) {
        if let Err(e) = self.publish(channel, kind, data) {
            tracing::debug!(nsp = %self.nsp, error = %e, "sharded Redis adapter: message not published");
        }
    }

    fn respond(&self, to: &str, kind: u64, data: Value) {
        self.publish_or_log(format!("{}{to}#", self.channel), kind, data);
    }

    /// Where a broadcast goes: its room's channel when it targets exactly one room that is
    /// not a socket id (dynamic mode), else the namespace's.
    fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        let rooms = wire::unique_rooms(&opts.rooms);
        match (self.mode, rooms.as_slice()) {
            (SubscriptionMode::Dynamic, [room]) if room.len() != 20 => self.room_channel(room),
            _ => self.channel.clone(),
        }
    }

    /// The nodes of the cluster, this one included.
    async fn nodes(&self) -> Result<usize, AdapterError> {
        self.driver.numsub(&self.channel).await
    }

    // -----------------------------------------------------------------------------------
    // Room channels (dynamic mode)
    // -----------------------------------------------------------------------------------

    fn follow_rooms(&self, rooms: &[Room]) {
        if self.mode != SubscriptionMode::Dynamic || rooms.is_empty() {
            return;
        }
        let channels: Vec<String> = rooms.iter().map(|r| self.room_channel(r)).collect();
        self.driver.register(self.listener(), &channels, "");
    }

    fn unfollow_rooms(&self, rooms: &[Room]) {
        if self.mode != SubscriptionMode::Dynamic || rooms.is_empty() {
            return;
        }
        let channels: Vec<String> = rooms.iter().map(|r| self.room_channel(r)).collect();
        self.driver.unregister(&self.listener(), &channels, "");
    }

    // -----------------------------------------------------------------------------------
    // Incoming
    // -----------------------------------------------------------------------------------

    fn on_payload(&self, on_own_channel: bool, payload: &[u8]) {
        let message = match wire::from_json_or_msgpack(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "sharded Redis adapter: ignoring a malformed message");
                return;
            }
        };
        let Some(kind) = wire::get_u64(&message, "type") else {
            return;
        };
        if let Some(nsp) = wire::get_str(&message, "nsp") {
            if nsp != self.nsp {
                return;
            }
        }
        let data = wire::get(&message, "data").cloned().unwrap_or(Value::Nil);
        let response = matches!(
            kind,
            kind::FETCH_SOCKETS_RESPONSE
                | kind::SERVER_SIDE_EMIT_RESPONSE
                | kind::BROADCAST_CLIENT_COUNT
                | kind::BROADCAST_ACK
        );
        if response {
            self.on_response(kind, &data);
            return;
        }
        if on_own_channel {
            return;
        }
        let Some(from) = wire::get_str(&message, "uid") else {
            return;
        };
        if from == self.uid {
            return; // our own, applied locally already
        }
        let Some(local) = self.local.get() else {
            return;
        };
        let opts = || wire::opts_from(wire::get(&data, "opts"));
        match kind {
            kind::BROADCAST => self.on_broadcast(local, from, &data),
            kind::SOCKETS_JOIN => {
                local.add_sockets(&opts(), &wire::rooms_of(wire::get(&data, "rooms")))
            }
            kind::SOCKETS_LEAVE => {
                local.del_sockets(&opts(), &wire::rooms_of(wire::get(&data, "rooms")))
            }
            kind::DISCONNECT_SOCKETS => {
                local.disconnect_sockets(&opts(), wire::get_bool(&data, "close"))
            }
            kind::FETCH_SOCKETS => {
                let Some(request_id) = wire::get(&data, "requestId").cloned() else {
                    return;
                };
                let sockets = super::requests::describe_sockets(local, &opts());
                self.respond(
                    from,
                    kind::FETCH_SOCKETS_RESPONSE,
                    wire::map([
                        ("requestId", request_id),
                        ("sockets", Value::Array(sockets)),
                    ]),
                );
            }
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(local, from, &data),
            // Heartbeats and the like belong to other cluster adapters.
            _ => {}
        }
    }

    fn on_broadcast(&self, local: &LocalNamespace, from: &str, data: &Value) {
        let Some(packet) = wire::get(data, "packet") else {
            return;
        };
        let opts = wire::opts_from(wire::get(data, "opts"));
        let Some(request_id) = wire::get(data, "requestId").cloned() else {
            match wire::encoded_from_object(packet, &self.nsp, None) {
                Ok(encoded) => local.broadcast(&encoded, &opts),
                Err(e) => {
                    tracing::debug!(error = %e, "sharded Redis adapter: ignoring a broadcast")
                }
            }
            return;
        };
        let Some(ack_id) = local.0.upgrade().map(|n| n.next_ack_id()) else {
            return;
        };
        let encoded = match wire::encoded_from_object(packet, &self.nsp, Some(ack_id)) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "sharded Redis adapter: ignoring a broadcast with acks");
                return;
            }
        };
        let opts = BroadcastOptions {
            volatile: false,
            ..opts
        };
        let Some(me) = self.me.upgrade() else { return };
        let (to, id) = (from.to_owned(), request_id.clone());
        let on_ack: Arc<dyn Fn(Args) + Send + Sync> = Arc::new(move |args: Args| {
            me.respond(
                &to,
                kind::BROADCAST_ACK,
                wire::map([
                    ("requestId", id.clone()),
                    ("packet", wire::first_ack_arg(&args)),
                ]),
            );
        });
        let count = local.broadcast_with_ack(&encoded, &opts, ack_id, on_ack);
        self.respond(
            from,
            kind::BROADCAST_CLIENT_COUNT,
            wire::map([
                ("requestId", request_id),
                ("clientCount", Value::from(count as u64)),
            ]),
        );
    }

    fn on_server_side_emit(&self, local: &LocalNamespace, from: &str, data: &Value) {
        let Some(packet) = wire::get(data, "packet") else {
            return;
        };
        let Ok(args) = Args::parse_event(wire::to_json(packet).into()) else {
            tracing::debug!("sharded Redis adapter: ignoring a malformed server-side event");
            return;
        };
        let ack = wire::get(data, "requestId")
            .cloned()
            .and_then(|request_id| {
                let me = self.me.upgrade()?;
                let to = from.to_owned();
                Some(ServerSideAck::new(move |json| {
                    let value = wire::json_to_value(json, &[]).unwrap_or(Value::Nil);
                    me.respond(
                        &to,
                        kind::SERVER_SIDE_EMIT_RESPONSE,
                        wire::map([("requestId", request_id), ("packet", value)]),
                    );
                }))
            });
        local.server_side_event(args, ack);
    }

    fn on_response(&self, kind: u64, data: &Value) {
        let Some(request_id) = wire::get_str(data, "requestId") else {
            return;
        };
        let mut requests = self.requests_lock();
        let now = Instant::now();
        requests.retain(|_, r| match r {
            Request::Fetch(_) => true,
            Request::Acks { expires, .. } | Request::ServerSide { expires, .. } => *expires > now,
        });
        let packet = || wire::get(data, "packet").cloned().unwrap_or(Value::Nil);
        match (kind, requests.get_mut(request_id)) {
            (kind::FETCH_SOCKETS_RESPONSE, Some(Request::Fetch(tx))) => {
                let _ = tx.send(data.clone());
            }
            (kind::BROADCAST_CLIENT_COUNT, Some(Request::Acks { counts, .. })) => {
                let _ = counts.send(wire::get_u64(data, "clientCount").unwrap_or(0));
            }
            (kind::BROADCAST_ACK, Some(Request::Acks { on_ack, .. })) => {
                let on_ack = on_ack.clone();
                drop(requests);
                on_ack(wire::ack_args(&packet()));
            }
            (
                kind::SERVER_SIDE_EMIT_RESPONSE,
                Some(Request::ServerSide {
                    on_answer, missing, ..
                }),
            ) => {
                *missing = missing.saturating_sub(1);
                let (on_answer, done) = (on_answer.clone(), *missing == 0);
                if done {
                    requests.remove(request_id);
                }
                drop(requests);
                on_answer(wire::ack_args(&packet()));
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------
    // Outgoing requests
    // -----------------------------------------------------------------------------------

    async fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> Result<Vec<SocketInfo>, AdapterError> {
        let expected = self.nodes().await?.saturating_sub(1);
        if expected == 0 {
            return Ok(Vec::new());
        }
        let request_id = hex_id();
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.requests_lock()
            .insert(request_id.clone(), Request::Fetch(tx));
        let _guard = RequestGuard {
            core: self,
            id: request_id.clone(),
        };
        self.publish(
            self.channel.clone(),
            kind::FETCH_SOCKETS,
            wire::map([
                ("opts", wire::opts_with_flags(opts)),
                ("requestId", Value::from(request_id.as_str())),
            ]),
        )?;
        let answers = answers_within(
            &mut rx,
            expected,
            self.config.requests_timeout,
            ("redis-sharded", kind::FETCH_SOCKETS),
            "fetchSockets response",
        )
        .await?;
        let mut out = Vec::new();
        for answer in &answers {
            let sockets = wire::get(answer, "sockets").and_then(Value::as_array);
            for socket in sockets.into_iter().flatten() {
                if let Some(id) = wire::get_str(socket, "id").and_then(Sid::parse) {
                    out.push(SocketInfo {
                        id,
                        rooms: wire::rooms_of(wire::get(socket, "rooms")),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn broadcast_with_ack(
        &self,
        packet: Value,
        opts: &BroadcastOptions,
        on_ack: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> Result<usize, AdapterError> {
        let expected = self.nodes().await?.saturating_sub(1);
        if expected == 0 {
            return Ok(0);
        }
        let request_id = hex_id();
        let (counts, mut rx) = mpsc::unbounded_channel();
        self.requests_lock().insert(
            request_id.clone(),
            Request::Acks {
                counts,
                on_ack,
                expires: Instant::now() + self.config.ack_retention,
            },
        );
        // Acks keep coming after the counts: the entry expires by itself (ack_retention).
        self.publish(
            self.channel.clone(),
            kind::BROADCAST,
            wire::map([
                ("packet", packet),
                ("requestId", Value::from(request_id.as_str())),
                ("opts", wire::opts_with_flags(opts)),
            ]),
        )
        .inspect_err(|_| {
            self.requests_lock().remove(&request_id);
        })?;
        let counts = answers_within(
            &mut rx,
            expected,
            self.config.requests_timeout,
            ("redis-sharded", kind::BROADCAST),
            "the client counts of a broadcast",
        )
        .await?;
        Ok(counts.iter().sum::<u64>() as usize)
    }

    async fn server_side_emit_with_ack(
        &self,
        packet: Value,
        timeout: Duration,
        on_answer: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> Result<usize, AdapterError> {
        let expected = self.nodes().await?.saturating_sub(1);
        if expected == 0 {
            return Ok(0);
        }
        let request_id = hex_id();
        self.requests_lock().insert(
            request_id.clone(),
            Request::ServerSide {
                on_answer,
                missing: expected,
                expires: Instant::now() + timeout,
            },
        );
        self.publish(
            self.channel.clone(),
            kind::SERVER_SIDE_EMIT,
            wire::map([
                ("requestId", Value::from(request_id.as_str())),
                ("packet", packet),
            ]),
        )
        .inspect_err(|_| {
            self.requests_lock().remove(&request_id);
        })?;
        Ok(expected)
    }
}

impl Listener for Core {
    fn on_pattern_message(&self, _channel: &str, _payload: &[u8]) {}

    fn on_message(&self, channel: &str, payload: &[u8]) {
        self.on_payload(channel == self.response_channel, payload);
    }
}

impl Adapter for ShardedRedisAdapter {
    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        let core = &self.core;
        let new: Vec<Room> = rooms
            .iter()
            .filter(|r| !core.rooms.has_room(r))
            .cloned()
            .collect();
        core.rooms.add_all(sid, rooms);
        core.follow_rooms(&new);
    }

    fn del(&self, sid: Sid, room: &str) {
        let core = &self.core;
        core.rooms.del(sid, room);
        if !core.rooms.has_room(room) {
            core.unfollow_rooms(&[Room::from(room)]);
        }
    }

    fn del_all(&self, sid: Sid) {
        let core = &self.core;
        let rooms = core.rooms.socket_rooms(sid);
        core.rooms.del_all(sid);
        let gone: Vec<Room> = rooms
            .into_iter()
            .filter(|r| !core.rooms.has_room(r))
            .collect();
        core.unfollow_rooms(&gone);
    }

    rooms_in_memory!();

    fn close(&self) {
        let core = &self.core;
        let mut channels = vec![core.channel.clone(), core.response_channel.clone()];
        if core.mode == SubscriptionMode::Dynamic {
            channels.extend(
                core.rooms
                    .local_rooms()
                    .iter()
                    .map(|r| core.room_channel(r)),
            );
        }
        core.driver.unregister(&core.listener(), &channels, "");
    }

    fn remote_broadcast(&self, packet: &Encoded, opts: &BroadcastOptions) {
        if opts.local {
            return;
        }
        let core = &self.core;
        match wire::packet_object(packet, false) {
            Ok(object) => core.publish_or_log(
                core.broadcast_channel(opts),
                kind::BROADCAST,
                wire::map([("packet", object), ("opts", wire::opts_with_flags(opts))]),
            ),
            Err(e) => {
                tracing::warn!(nsp = %core.nsp, error = %e, "sharded Redis adapter: cannot relay packet");
            }
        }
    }

    fn remote_fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        if opts.local {
            return Box::pin(async { Ok(Vec::new()) });
        }
        let opts = opts.clone();
        Box::pin(async move { self.core.fetch_sockets(&opts).await })
    }

    fn remote_add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if opts.local {
            return;
        }
        let core = &self.core;
        core.publish_or_log(
            core.channel.clone(),
            kind::SOCKETS_JOIN,
            wire::map([
                ("opts", wire::opts_with_flags(opts)),
                ("rooms", room_list(rooms)),
            ]),
        );
    }

    fn remote_del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if opts.local {
            return;
        }
        let core = &self.core;
        core.publish_or_log(
            core.channel.clone(),
            kind::SOCKETS_LEAVE,
            wire::map([
                ("opts", wire::opts_with_flags(opts)),
                ("rooms", room_list(rooms)),
            ]),
        );
    }

    fn remote_disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if opts.local {
            return;
        }
        let core = &self.core;
        core.publish_or_log(
            core.channel.clone(),
            kind::DISCONNECT_SOCKETS,
            wire::map([
                ("opts", wire::opts_with_flags(opts)),
                ("close", Value::Boolean(close)),
            ]),
        );
    }

    fn server_side_emit(&self, packet: &str) -> Result<(), AdapterError> {
        let packet = wire::json_to_value(packet, &[]).map_err(|e| AdapterError(e.to_string()))?;
        let core = &self.core;
        core.publish(
            core.channel.clone(),
            kind::SERVER_SIDE_EMIT,
            wire::map([("packet", packet)]),
        )
    }

    fn server_side_emit_with_ack(
        &self,
        packet: &str,
        timeout: Duration,
        on_answer: Arc<dyn Fn(Args) + Send + Sync>,
    ) -> BoxFuture<'_, Result<usize, AdapterError>> {
        let packet = wire::json_to_value(packet, &[]).map_err(|e| AdapterError(e.to_string()));
        Box::pin(async move {
            self.core
                .server_side_emit_with_ack(packet?, timeout, on_answer)
                .await
        })
    }

    /// `PUBSUB SHARDNUMSUB` of the namespace's channel: every node subscribes to it once.
    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move { self.core.nodes().await })
    }

    fn remote_rooms(&self) -> BoxFuture<'_, Result<HashSet<Room>, AdapterError>> {
        Box::pin(async {
            Err(AdapterError(
                "the sharded adapter's protocol has no request for other nodes' rooms \
                 (socket.io's allRooms); use fetch_sockets"
                    .into(),
            ))
        })
    }
}

fn room_list(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(r.as_ref())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(mode: SubscriptionMode) -> ShardedRedisAdapter {
        let factory = ShardedRedisAdapter::factory(RedisConfig::new("redis://127.0.0.1:1/"))
            .unwrap()
            .subscription_mode(mode);
        let driver = factory.driver.clone();
        ShardedRedisAdapter::new("/chat", driver, factory.config.clone(), mode)
    }

    fn opts(rooms: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn one_room_broadcasts_use_the_room_channel_in_dynamic_mode() {
        let a = adapter(SubscriptionMode::Dynamic);
        let core = &a.core;
        assert_eq!(core.broadcast_channel(&opts(&[])), "socket.io#/chat#");
        assert_eq!(
            core.broadcast_channel(&opts(&["lobby"])),
            "socket.io#/chat#lobby#"
        );
        assert_eq!(
            core.broadcast_channel(&opts(&["lobby", "lobby"])),
            "socket.io#/chat#lobby#"
        );
        assert_eq!(
            core.broadcast_channel(&opts(&["a", "b"])),
            "socket.io#/chat#"
        );
        // A socket id (20 characters) is a private room: the namespace's channel.
        let sid = Sid::random();
        assert_eq!(
            core.broadcast_channel(&opts(&[sid.as_str()])),
            "socket.io#/chat#"
        );
        let s = adapter(SubscriptionMode::Static);
        assert_eq!(
            s.core.broadcast_channel(&opts(&["lobby"])),
            "socket.io#/chat#"
        );
    }

    #[test]
    fn messages_are_json_unless_they_carry_binary() {
        let a = adapter(SubscriptionMode::Dynamic);
        let plain = a
            .core
            .encode(kind::BROADCAST, wire::map([("packet", Value::from("x"))]));
        assert_eq!(plain.first(), Some(&b'{'));
        let text = String::from_utf8(plain).unwrap();
        assert!(
            text.starts_with(r#"{"type":3,"data":{"packet":"x"},"uid":""#),
            "{text}"
        );
        assert!(text.ends_with(r#","nsp":"/chat"}"#), "{text}");
        let binary = wire::map([("packet", Value::Binary(vec![1, 2]))]);
        let packed = a.core.encode(kind::BROADCAST, binary.clone());
        assert_ne!(packed.first(), Some(&b'{'));
        let back = wire::from_json_or_msgpack(&packed).unwrap();
        assert_eq!(wire::get(&back, "data"), Some(&binary));
        // Join requests never carry binary: always JSON.
        assert_eq!(
            a.core.encode(kind::SOCKETS_JOIN, binary).first(),
            Some(&b'{')
        );
        assert_eq!(a.core.uid.len(), 16);
    }

    #[test]
    fn rooms_are_followed_while_a_local_socket_is_in_them() {
        let a = adapter(SubscriptionMode::Dynamic);
        let (s1, s2) = (Sid::random(), Sid::random());
        a.add_all(s1, &["r".into()]);
        a.add_all(s2, &["r".into()]);
        assert!(a.core.rooms.has_room("r"));
        a.del(s1, "r");
        assert!(a.core.rooms.has_room("r"));
        a.del_all(s2);
        assert!(!a.core.rooms.has_room("r"));
    }
}
