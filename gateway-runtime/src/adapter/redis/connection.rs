//! The two Redis connections a server shares among its namespaces, and how they recover.
//!
//! - The *publisher* task owns a multiplexed connection. Everything the adapters send
//!   (broadcasts, requests, responses, `PUBSUB NUMSUB`) goes through one bounded queue and
//!   leaves in queue order, batched into pipelines.
//! - The *subscriber* task owns a pub/sub connection, (re)subscribes every registered
//!   channel and pattern after each connect, and hands each message to its namespace
//!   adapter, in arrival order.
//!
//! Neither task ever gives up: after a failure it waits (exponential backoff, capped) and
//! connects again. While Redis is unreachable, publishes are dropped, cluster-wide requests
//! fail at once with an [`AdapterError`], and local delivery is unaffected. An outage is
//! logged once when it starts and once when both connections are back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, Instant};

use crate::adapter::AdapterError;

/// Receives the messages of the channels and patterns it registered.
pub(crate) trait Listener: Send + Sync + 'static {
    /// A message matched one of the listener's patterns.
    fn on_pattern_message(&self, channel: &str, payload: &[u8]);
    /// A message arrived on one of the listener's channels.
    fn on_message(&self, channel: &str, payload: &[u8]);
}

/// Connection settings, taken from the adapter configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) min_retry_delay: Duration,
    pub(crate) max_retry_delay: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) queue_capacity: usize,
    /// Sharded pub/sub (Redis 7 `SPUBLISH` / `SSUBSCRIBE`, `PUBSUB SHARDNUMSUB`), on a
    /// RESP3 subscriber connection; no patterns.
    pub(crate) sharded: bool,
}

enum PubCmd {
    Publish {
        channel: String,
        payload: Vec<u8>,
    },
    NumSub {
        channel: String,
        reply: oneshot::Sender<Result<usize, String>>,
    },
    /// Checks the connection (sent after the subscriber reconnected).
    Ping,
}

#[derive(Clone)]
enum Subscription {
    Channel(String),
    Pattern(String),
    /// No longer wanted (its namespace is gone).
    DropChannel(String),
    DropPattern(String),
}

#[derive(Default)]
struct Routes {
    channels: HashMap<String, Weak<dyn Listener>>,
    patterns: HashMap<String, Weak<dyn Listener>>,
}

#[derive(Clone, Copy, Debug)]
enum Link {
    Publisher,
    Subscriber,
}

/// Connection state, and the once-per-outage logging.
#[derive(Default)]
struct Health {
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    outage: AtomicBool,
}

impl Health {
    fn flag(&self, link: Link) -> &AtomicBool {
        match link {
            Link::Publisher => &self.publisher_up,
            Link::Subscriber => &self.subscriber_up,
        }
    }

    fn down(&self, link: Link, error: &str) {
        self.flag(link).store(false, Ordering::Release);
        if !self.outage.swap(true, Ordering::AcqRel) {
            crate::telemetry::adapter_connected("redis", false);
            tracing::error!(
                ?link,
                error,
                "Redis adapter: connection to Redis lost; local delivery continues, \
                 cluster-wide requests fail until it is back (reconnecting)"
            );
        } else {
            tracing::debug!(?link, error, "Redis adapter: still disconnected");
        }
    }

    fn up(&self, link: Link) {
        self.flag(link).store(true, Ordering::Release);
        if self.publisher_up.load(Ordering::Acquire) && self.subscriber_up.load(Ordering::Acquire) {
            crate::telemetry::adapter_connected("redis", true);
            if self.outage.swap(false, Ordering::AcqRel) {
                tracing::info!("Redis adapter: reconnected to Redis, subscriptions restored");
            }
        }
    }

    fn connected(&self) -> bool {
        self.publisher_up.load(Ordering::Acquire) && self.subscriber_up.load(Ordering::Acquire)
    }
}

/// Where the connections go.
pub(crate) enum Target {
    /// One Redis server.
    Single(redis::Client),
    /// A Redis Cluster, by some of its nodes (sharded pub/sub only: each channel's
    /// commands go to the shard that owns it).
    Cluster(ClusterSpec),
}

/// How to reach a Redis Cluster.
#[derive(Clone)]
pub(crate) struct ClusterSpec {
    pub(crate) nodes: Vec<String>,
    pub(crate) tls: Option<super::Tls>,
}

impl ClusterSpec {
    fn client(
        &self,
        settings: &Settings,
        pushes: Option<mpsc::UnboundedSender<redis::PushInfo>>,
    ) -> Result<redis::cluster::ClusterClient, String> {
        let mut builder = redis::cluster::ClusterClientBuilder::new(self.nodes.clone())
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.command_timeout)
            .retries(2);
        if let Some(tls) = &self.tls {
            builder = builder.certs(tls.certificates());
        }
        if let Some(pushes) = pushes {
            builder = builder
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(pushes);
        }
        builder.build().map_err(|e| describe(&e))
    }
}

/// The publisher's connection.
enum PubConn {
    Single(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

struct Shared {
    target: Target,
    settings: Settings,
    routes: RwLock<Routes>,
    health: Health,
    /// Set while publishes are being dropped because the queue is full (logged once).
    queue_full: AtomicBool,
}

impl Shared {
    fn routes_mut(&self) -> std::sync::RwLockWriteGuard<'_, Routes> {
        self.routes.write().unwrap_or_else(|e| e.into_inner())
    }

    fn subscriptions(&self) -> Vec<Subscription> {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        routes
            .patterns
            .keys()
            .cloned()
            .map(Subscription::Pattern)
            .chain(routes.channels.keys().cloned().map(Subscription::Channel))
            .collect()
    }

    /// A message of a (sharded) channel.
    fn dispatch_channel(&self, channel: &str, payload: &[u8]) {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        let listener = routes.channels.get(channel).and_then(Weak::upgrade);
        drop(routes);
        if let Some(listener) = listener {
            listener.on_message(channel, payload);
        }
    }

    fn dispatch(&self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        let payload = msg.get_payload_bytes();
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        if msg.from_pattern() {
            let pattern: String = msg.get_pattern().unwrap_or_default();
            let listener = routes.patterns.get(&pattern).and_then(Weak::upgrade);
            drop(routes);
            if let Some(listener) = listener {
                listener.on_pattern_message(channel, payload);
            }
        } else {
            drop(routes);
            self.dispatch_channel(channel, payload);
        }
    }
}

/// Handle on the connection tasks. They stop when the last handle is dropped.
pub(crate) struct Driver {
    shared: Arc<Shared>,
    publish_tx: mpsc::Sender<PubCmd>,
    subscribe_tx: mpsc::UnboundedSender<Subscription>,
    started: AtomicBool,
    #[allow(clippy::type_complexity)]
    not_started: Mutex<
        Option<(
            mpsc::Receiver<PubCmd>,
            mpsc::UnboundedReceiver<Subscription>,
        )>,
    >,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("connected", &self.shared.health.connected())
            .finish_non_exhaustive()
    }
}

impl Driver {
    pub(crate) fn new(target: Target, settings: Settings) -> Self {
        let (publish_tx, publish_rx) = mpsc::channel(settings.queue_capacity.max(1));
        let (subscribe_tx, subscribe_rx) = mpsc::unbounded_channel();
        Self {
            shared: Arc::new(Shared {
                target,
                settings,
                routes: RwLock::default(),
                health: Health::default(),
                queue_full: AtomicBool::new(false),
            }),
            publish_tx,
            subscribe_tx,
            started: AtomicBool::new(false),
            not_started: Mutex::new(Some((publish_rx, subscribe_rx))),
        }
    }

    /// Starts the connection tasks, once, when called inside a tokio runtime.
    pub(crate) fn ensure_started(&self) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut slot = self.not_started.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((publish_rx, subscribe_rx)) = slot.take() {
            runtime.spawn(run_publisher(self.shared.clone(), publish_rx));
            if self.shared.settings.sharded {
                runtime.spawn(run_shard_subscriber(
                    self.shared.clone(),
                    subscribe_rx,
                    self.publish_tx.clone(),
                ));
            } else {
                runtime.spawn(run_subscriber(
                    self.shared.clone(),
                    subscribe_rx,
                    self.publish_tx.clone(),
                ));
            }
            self.started.store(true, Ordering::Release);
        }
    }

    /// Whether both connections are currently up.
    pub(crate) fn connected(&self) -> bool {
        self.shared.health.connected()
    }

    /// Routes `channels` and `pattern` to `listener` and subscribes them (now if connected,
    /// else on the next connect).
    pub(crate) fn register(
        &self,
        listener: Weak<dyn Listener>,
        channels: &[String],
        pattern: &str,
    ) {
        {
            // Queued under the routes lock: subscriptions and their undoing (`unregister`)
            // reach Redis in the order the routes changed.
            let mut routes = self.shared.routes_mut();
            if !pattern.is_empty() {
                routes.patterns.insert(pattern.to_owned(), listener.clone());
                let _ = self
                    .subscribe_tx
                    .send(Subscription::Pattern(pattern.to_owned()));
            }
            for channel in channels {
                routes.channels.insert(channel.clone(), listener.clone());
                let _ = self
                    .subscribe_tx
                    .send(Subscription::Channel(channel.clone()));
            }
        }
        self.ensure_started();
    }

    /// Undoes [`register`](Self::register) for `listener`: its routes go, and so do the
    /// subscriptions (routes registered since by another listener stay).
    pub(crate) fn unregister(
        &self,
        listener: &Weak<dyn Listener>,
        channels: &[String],
        pattern: &str,
    ) {
        let mut routes = self.shared.routes_mut();
        let ours = |route: Option<&Weak<dyn Listener>>| {
            route.is_some_and(|route| Weak::ptr_eq(route, listener))
        };
        if !pattern.is_empty() && ours(routes.patterns.get(pattern)) {
            routes.patterns.remove(pattern);
            let _ = self
                .subscribe_tx
                .send(Subscription::DropPattern(pattern.to_owned()));
        }
        for channel in channels {
            if ours(routes.channels.get(channel)) {
                routes.channels.remove(channel);
                let _ = self
                    .subscribe_tx
                    .send(Subscription::DropChannel(channel.clone()));
            }
        }
    }

    /// Queues a PUBLISH. Fails only when the queue is full (Redis too slow) or stopped; a
    /// message queued while Redis is unreachable is dropped by the publisher.
    pub(crate) fn publish(&self, channel: String, payload: Vec<u8>) -> Result<(), AdapterError> {
        self.ensure_started();
        match self
            .publish_tx
            .try_send(PubCmd::Publish { channel, payload })
        {
            Ok(()) => {
                self.shared.queue_full.store(false, Ordering::Release);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.shared.queue_full.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        "Redis adapter: the publish queue is full (Redis too slow?); \
                         dropping messages to other nodes"
                    );
                }
                Err(AdapterError("the Redis publish queue is full".into()))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(AdapterError("the Redis adapter is stopped".into()))
            }
        }
    }

    /// `PUBSUB NUMSUB channel`: how many connections subscribe to `channel`.
    pub(crate) async fn numsub(&self, channel: &str) -> Result<usize, AdapterError> {
        self.ensure_started();
        let (reply, rx) = oneshot::channel();
        let cmd = PubCmd::NumSub {
            channel: channel.to_owned(),
            reply,
        };
        self.publish_tx
            .try_send(cmd)
            .map_err(|_| AdapterError("the Redis publish queue is full or stopped".into()))?;
        let wait = self.shared.settings.command_timeout + self.shared.settings.connect_timeout;
        match timeout(wait, rx).await {
            Ok(Ok(result)) => result.map_err(AdapterError),
            Ok(Err(_)) => Err(AdapterError("the Redis adapter is stopped".into())),
            Err(_) => Err(AdapterError(
                "timeout reached while waiting for Redis".into(),
            )),
        }
    }
}

/// Exponential backoff between connection attempts.
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(settings: &Settings) -> Self {
        Self {
            min: settings.min_retry_delay,
            max: settings.max_retry_delay.max(settings.min_retry_delay),
            next: settings.min_retry_delay,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

fn describe(e: &redis::RedisError) -> String {
    e.to_string()
}

async fn connect_publisher(shared: &Shared) -> Result<PubConn, String> {
    let limit = shared.settings.connect_timeout;
    let connected = match &shared.target {
        Target::Single(client) => {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(shared.settings.connect_timeout)
                .set_response_timeout(shared.settings.command_timeout);
            timeout(
                limit,
                client.get_multiplexed_async_connection_with_config(&config),
            )
            .await
            .map(|r| r.map(PubConn::Single))
        }
        Target::Cluster(spec) => {
            let client = spec.client(&shared.settings, None)?;
            timeout(limit, client.get_async_connection())
                .await
                .map(|r| r.map(PubConn::Cluster))
        }
    };
    connected_or_why(connected)
}

/// A connection attempt bounded by a timeout: the connection, or why there is none.
fn connected_or_why<T>(
    attempt: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
) -> Result<T, String> {
    match attempt {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err("timeout while connecting".into()),
    }
}

fn fail(batch: Vec<PubCmd>, error: &str) {
    for cmd in batch {
        if let PubCmd::NumSub { reply, .. } = cmd {
            let _ = reply.send(Err(format!("Redis is unavailable: {error}")));
        }
    }
}

/// Sends `batch` (one pipeline to a single server; one command after the other to a
/// cluster, whose pipelines cannot span shards); replies go to the NUMSUB requesters.
async fn run_batch(
    shared: &Shared,
    conn: &mut PubConn,
    batch: &mut Vec<PubCmd>,
) -> Result<(), redis::RedisError> {
    let cmds: Vec<redis::Cmd> = batch
        .iter()
        .map(|cmd| match cmd {
            PubCmd::Publish { channel, payload } => {
                let publish = if shared.settings.sharded {
                    "SPUBLISH"
                } else {
                    "PUBLISH"
                };
                redis::cmd(publish)
                    .arg(channel)
                    .arg(payload.as_slice())
                    .clone()
            }
            PubCmd::NumSub { channel, .. } => {
                let numsub = if shared.settings.sharded {
                    "SHARDNUMSUB"
                } else {
                    "NUMSUB"
                };
                redis::cmd("PUBSUB").arg(numsub).arg(channel).clone()
            }
            PubCmd::Ping => redis::cmd("PING"),
        })
        .collect();
    let timed_out = || {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timeout waiting for Redis",
        ))
    };
    let limit = shared.settings.command_timeout;
    let replies: Vec<redis::Value> = match conn {
        PubConn::Single(conn) => {
            let mut pipe = redis::pipe();
            for cmd in cmds {
                pipe.add_command(cmd);
            }
            timeout(limit, pipe.query_async(conn))
                .await
                .map_err(|_| timed_out())??
        }
        PubConn::Cluster(conn) => {
            let mut replies = Vec::with_capacity(cmds.len());
            for cmd in cmds {
                let reply = timeout(limit, cmd.query_async::<redis::Value>(conn))
                    .await
                    .map_err(|_| timed_out())??;
                replies.push(reply);
            }
            replies
        }
    };
    for (cmd, reply) in batch.drain(..).zip(replies) {
        if let PubCmd::NumSub { reply: tx, .. } = cmd {
            let _ = tx.send(parse_numsub(&reply));
        }
    }
    Ok(())
}

fn parse_numsub(reply: &redis::Value) -> Result<usize, String> {
    use redis::Value;
    let items = match reply {
        Value::Array(items) => items.as_slice(),
        Value::Map(pairs) => {
            // RESP3 answers a map {channel: count}
            return pairs
                .first()
                .and_then(|(_, v)| redis::from_redis_value::<i64>(v).ok())
                .map(|n| n.max(0) as usize)
                .ok_or_else(|| "unexpected PUBSUB NUMSUB reply".into());
        }
        _ => &[],
    };
    items
        .get(1)
        .and_then(|v| redis::from_redis_value::<i64>(v).ok())
        .map(|n| n.max(0) as usize)
        .ok_or_else(|| "unexpected PUBSUB NUMSUB reply".into())
}

const MAX_BATCH: usize = 512;

async fn run_publisher(shared: Arc<Shared>, mut rx: mpsc::Receiver<PubCmd>) {
    let mut backoff = Backoff::new(&shared.settings);
    let mut conn: Option<PubConn> = None;
    let mut retry_at = Instant::now();
    loop {
        if conn.is_none() && Instant::now() >= retry_at {
            match connect_publisher(&shared).await {
                Ok(c) => {
                    conn = Some(c);
                    backoff.reset();
                    shared.health.up(Link::Publisher);
                }
                Err(e) => {
                    shared.health.down(Link::Publisher, &e);
                    retry_at = Instant::now() + backoff.next_delay();
                }
            }
        }
        let first = if conn.is_some() {
            rx.recv().await
        } else {
            tokio::select! {
                cmd = rx.recv() => cmd,
                _ = tokio::time::sleep_until(retry_at) => continue,
            }
        };
        let Some(first) = first else {
            return; // every handle is gone
        };
        if conn.is_none() && matches!(first, PubCmd::Ping) {
            // The subscriber just reconnected: Redis is back, no need to wait.
            retry_at = Instant::now();
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let Some(c) = conn.as_mut() else {
            fail(batch, "not connected");
            continue;
        };
        if let Err(e) = run_batch(&shared, c, &mut batch).await {
            conn = None;
            let error = describe(&e);
            shared.health.down(Link::Publisher, &error);
            // A dropped connection (Redis restarted) is worth one immediate retry; the
            // commands were not sent, so sending them again cannot duplicate them.
            if e.is_connection_dropped() || e.is_connection_refusal() {
                if let Ok(mut fresh) = connect_publisher(&shared).await {
                    shared.health.up(Link::Publisher);
                    backoff.reset();
                    match run_batch(&shared, &mut fresh, &mut batch).await {
                        Ok(()) => {
                            conn = Some(fresh);
                            continue;
                        }
                        Err(e) => shared.health.down(Link::Publisher, &describe(&e)),
                    }
                }
            }
            fail(batch, &error);
            retry_at = Instant::now() + backoff.next_delay();
        }
    }
}

async fn subscribe(
    sink: &mut PubSubSink,
    subscription: &Subscription,
    limit: Duration,
) -> Result<(), String> {
    let result = match subscription {
        Subscription::Channel(channel) => timeout(limit, sink.subscribe(channel)).await,
        Subscription::Pattern(pattern) => timeout(limit, sink.psubscribe(pattern)).await,
        Subscription::DropChannel(channel) => timeout(limit, sink.unsubscribe(channel)).await,
        Subscription::DropPattern(pattern) => timeout(limit, sink.punsubscribe(pattern)).await,
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err("timeout while subscribing".into()),
    }
}

/// Waits `delay`; `false` when every handle is gone (the task must stop).
async fn pause(subscribe_rx: &mut mpsc::UnboundedReceiver<Subscription>, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        tokio::select! {
            cmd = subscribe_rx.recv() => {
                if cmd.is_none() {
                    return false;
                }
                // Routes are kept in `Shared`; everything is subscribed on connect.
            }
            _ = tokio::time::sleep_until(deadline) => return true,
        }
    }
}

async fn run_subscriber(
    shared: Arc<Shared>,
    mut subscribe_rx: mpsc::UnboundedReceiver<Subscription>,
    publish_tx: mpsc::Sender<PubCmd>,
) {
    let settings = shared.settings.clone();
    let mut backoff = Backoff::new(&settings);
    loop {
        let Target::Single(client) = &shared.target else {
            shared.health.down(
                Link::Subscriber,
                "the classic adapter needs one Redis server, not a cluster",
            );
            return;
        };
        let pubsub = match timeout(settings.connect_timeout, client.get_async_pubsub()).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                shared.health.down(Link::Subscriber, &describe(&e));
                if !pause(&mut subscribe_rx, backoff.next_delay()).await {
                    return;
                }
                continue;
            }
            Err(_) => {
                shared
                    .health
                    .down(Link::Subscriber, "timeout while connecting");
                if !pause(&mut subscribe_rx, backoff.next_delay()).await {
                    return;
                }
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        // Drain queued requests first: everything registered so far is in the routes.
        while subscribe_rx.try_recv().is_ok() {}
        let mut failed = None;
        for subscription in shared.subscriptions() {
            if let Err(e) = subscribe(&mut sink, &subscription, settings.command_timeout).await {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            shared.health.down(Link::Subscriber, &e);
            if !pause(&mut subscribe_rx, backoff.next_delay()).await {
                return;
            }
            continue;
        }
        let mut ping = subscribed(&shared, &publish_tx, &mut backoff);
        let reason = loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => shared.dispatch(&msg),
                    None => break "connection closed".to_owned(),
                },
                cmd = subscribe_rx.recv() => match cmd {
                    Some(subscription) => {
                        if let Err(e) = subscribe(&mut sink, &subscription, settings.command_timeout).await {
                            break e;
                        }
                    }
                    None => return,
                },
                _ = ping.tick() => {
                    match timeout(settings.command_timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => break describe(&e),
                        Err(_) => break "no answer to PING".to_owned(),
                    }
                }
            }
        };
        shared.health.down(Link::Subscriber, &reason);
        if !pause(&mut subscribe_rx, backoff.next_delay()).await {
            return;
        }
    }
}

/// The subscriber is up: the backoff starts over, the publisher's connection is checked
/// (it may be stale too when Redis restarted), and the health checks start.
fn subscribed(
    shared: &Shared,
    publish_tx: &mpsc::Sender<PubCmd>,
    backoff: &mut Backoff,
) -> tokio::time::Interval {
    backoff.reset();
    shared.health.up(Link::Subscriber);
    let _ = publish_tx.try_send(PubCmd::Ping);
    let every = shared.settings.ping_interval;
    tokio::time::interval_at(Instant::now() + every, every)
}

/// `SSUBSCRIBE` / `SUNSUBSCRIBE` of one channel (patterns do not exist in sharded pub/sub).
async fn shard_subscribe<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    subscription: &Subscription,
    limit: Duration,
) -> Result<(), String> {
    let cmd = match subscription {
        Subscription::Channel(channel) => redis::cmd("SSUBSCRIBE").arg(channel).clone(),
        Subscription::DropChannel(channel) => redis::cmd("SUNSUBSCRIBE").arg(channel).clone(),
        Subscription::Pattern(_) | Subscription::DropPattern(_) => return Ok(()),
    };
    match timeout(limit, cmd.exec_async(conn)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err("timeout while subscribing".into()),
    }
}

/// The subscriber of sharded pub/sub: a RESP3 connection whose pushes (`smessage`) reach
/// the registered listeners; (re)subscribes everything after each connect, like
/// [`run_subscriber`].
async fn run_shard_subscriber(
    shared: Arc<Shared>,
    mut subscribe_rx: mpsc::UnboundedReceiver<Subscription>,
    publish_tx: mpsc::Sender<PubCmd>,
) {
    let settings = shared.settings.clone();
    let mut backoff = Backoff::new(&settings);
    loop {
        let (push_tx, pushes) = mpsc::unbounded_channel::<redis::PushInfo>();
        let stopped = match connect_shard_subscriber(&shared, push_tx).await {
            Ok(ShardConn::Single(conn)) => {
                serve_shard_subscriber(
                    &shared,
                    conn,
                    pushes,
                    &mut subscribe_rx,
                    &publish_tx,
                    &mut backoff,
                )
                .await
            }
            Ok(ShardConn::Cluster(conn)) => {
                serve_shard_subscriber(
                    &shared,
                    conn,
                    pushes,
                    &mut subscribe_rx,
                    &publish_tx,
                    &mut backoff,
                )
                .await
            }
            Err(e) => {
                shared.health.down(Link::Subscriber, &e);
                false
            }
        };
        if stopped || !pause(&mut subscribe_rx, backoff.next_delay()).await {
            return;
        }
    }
}

enum ShardConn {
    Single(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// A RESP3 connection whose pushes go to `pushes`.
async fn connect_shard_subscriber(
    shared: &Shared,
    pushes: mpsc::UnboundedSender<redis::PushInfo>,
) -> Result<ShardConn, String> {
    let settings = &shared.settings;
    let limit = settings.connect_timeout;
    let connected = match &shared.target {
        Target::Single(client) => {
            let mut info = client.get_connection_info().clone();
            info.redis.protocol = redis::ProtocolVersion::RESP3;
            let client = redis::Client::open(info).map_err(|e| describe(&e))?;
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(settings.connect_timeout)
                .set_response_timeout(settings.command_timeout)
                .set_push_sender(pushes);
            timeout(
                limit,
                client.get_multiplexed_async_connection_with_config(&config),
            )
            .await
            .map(|r| r.map(ShardConn::Single))
        }
        Target::Cluster(spec) => {
            let client = spec.client(settings, Some(pushes))?;
            timeout(limit, client.get_async_connection())
                .await
                .map(|r| r.map(ShardConn::Cluster))
        }
    };
    connected_or_why(connected)
}

/// Subscribes everything, then hands each `smessage` to its listener until the
/// connection fails (`false`: reconnect) or every handle is gone (`true`: stop).
async fn serve_shard_subscriber<C: redis::aio::ConnectionLike + Send>(
    shared: &Shared,
    mut conn: C,
    mut pushes: mpsc::UnboundedReceiver<redis::PushInfo>,
    subscribe_rx: &mut mpsc::UnboundedReceiver<Subscription>,
    publish_tx: &mpsc::Sender<PubCmd>,
    backoff: &mut Backoff,
) -> bool {
    let settings = &shared.settings;
    while subscribe_rx.try_recv().is_ok() {}
    for subscription in shared.subscriptions() {
        if let Err(e) = shard_subscribe(&mut conn, &subscription, settings.command_timeout).await {
            shared.health.down(Link::Subscriber, &e);
            return false;
        }
    }
    let mut ping = subscribed(shared, publish_tx, backoff);
    let reason = loop {
        tokio::select! {
            push = pushes.recv() => match push {
                Some(push) if push.kind == redis::PushKind::SMessage => {
                    if let [channel, payload, ..] = push.data.as_slice() {
                        if let (Ok(channel), redis::Value::BulkString(payload)) =
                            (redis::from_redis_value::<String>(channel), payload)
                        {
                            shared.dispatch_channel(&channel, payload);
                        }
                    }
                }
                Some(push) if push.kind == redis::PushKind::Disconnection => {
                    break "connection closed".to_owned();
                }
                Some(_) => {}
                None => break "connection closed".to_owned(),
            },
            cmd = subscribe_rx.recv() => match cmd {
                Some(subscription) => {
                    if let Err(e) = shard_subscribe(&mut conn, &subscription, settings.command_timeout).await {
                        break e;
                    }
                }
                None => return true,
            },
            _ = ping.tick() => {
                let pinged = timeout(settings.command_timeout, redis::cmd("PING").query_async::<redis::Value>(&mut conn)).await;
                match pinged {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => break describe(&e),
                    Err(_) => break "no answer to PING".to_owned(),
                }
            }
        }
    };
    shared.health.down(Link::Subscriber, &reason);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numsub_replies() {
        use redis::Value;
        let resp2 = Value::Array(vec![Value::BulkString(b"ch".to_vec()), Value::Int(3)]);
        assert_eq!(parse_numsub(&resp2), Ok(3));
        let resp3 = Value::Map(vec![(Value::BulkString(b"ch".to_vec()), Value::Int(2))]);
        assert_eq!(parse_numsub(&resp3), Ok(2));
        assert!(parse_numsub(&Value::Nil).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = Settings {
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            min_retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_millis(350),
            ping_interval: Duration::from_secs(1),
            queue_capacity: 1,
            sharded: false,
        };
        let mut b = Backoff::new(&settings);
        let delays: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
