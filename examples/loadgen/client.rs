//! One Socket.IO client over WebSocket, spoken by hand: the Engine.IO handshake, the
//! Socket.IO CONNECT to `/`, Engine.IO heartbeats, and a few frame helpers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long one handshake (TCP + WebSocket + Engine.IO + Socket.IO) may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Where to connect and from which local addresses.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's TCP address.
    pub addr: SocketAddr,
    /// The WebSocket URL with the Engine.IO query (`?EIO=4&transport=websocket`).
    pub url: String,
    /// How many loopback source addresses to spread the clients over (127.0.0.2, ...);
    /// 0 lets the kernel choose (no bind).
    pub src_addrs: u32,
}

impl Target {
    /// Parses `ws://HOST:PORT/PATH/` (HOST an IP address or `localhost`).
    pub fn parse(url: &str, src_addrs: u32) -> Result<Self, Error> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or("the URL must start with ws://")?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/socket.io/"),
        };
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or("the URL must name a port")?;
        let ip: IpAddr = if host == "localhost" {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.trim_matches(['[', ']']).parse()?
        };
        let addr = SocketAddr::new(ip, port.parse()?);
        let path = path.split('?').next().unwrap_or("/socket.io/");
        let url = format!("ws://{hostport}{path}?EIO=4&transport=websocket");
        // Binding to other loopback addresses only makes sense when the server is on loopback.
        let src_addrs = if ip.is_loopback() && ip.is_ipv4() {
            src_addrs
        } else {
            0
        };
        Ok(Self {
            addr,
            url,
            src_addrs,
        })
    }

    /// The local address of client number `n`: 127.0.0.2, 127.0.0.3, ... in turn.
    pub fn source(&self, n: u64) -> Option<IpAddr> {
        if self.src_addrs == 0 {
            return None;
        }
        let k = (n % u64::from(self.src_addrs)) as u32 + 2;
        Some(IpAddr::V4(Ipv4Addr::from(0x7f00_0000u32 + k)))
    }
}

/// A connected Socket.IO client (namespace `/` joined).
pub struct Client {
    pub ws: Ws,
}

fn ws_config() -> WebSocketConfig {
    // Small read buffers: 10k idle clients must not cost the load generator 1.3 GB.
    WebSocketConfig::default().read_buffer_size(16 * 1024)
}

impl Client {
    /// TCP connect (from the `n`-th source address), WebSocket upgrade, Engine.IO OPEN,
    /// Socket.IO CONNECT to `/` and its answer. Everything is checked.
    pub async fn connect(target: &Target, n: u64) -> Result<Self, Error> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, Self::connect_inner(target, n)).await {
            Ok(r) => r,
            Err(_) => Err("handshake timed out".into()),
        }
    }

    async fn connect_inner(target: &Target, n: u64) -> Result<Self, Error> {
        let socket = if target.addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(src) = target.source(n) {
            socket.bind(SocketAddr::new(src, 0))?;
        }
        let stream = socket.connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let (ws, _response) = tokio_tungstenite::client_async_with_config(
            target.url.as_str(),
            stream,
            Some(ws_config()),
        )
        .await?;
        let mut client = Client { ws };
        let open = client.next_text().await?;
        if !open.starts_with("0{") || !open.contains("\"sid\"") {
            return Err(format!("expected an Engine.IO OPEN packet, got {open:?}").into());
        }
        client.send("40").await?;
        let answer = client.next_text().await?;
        if !answer.starts_with("40{") || !answer.contains("\"sid\"") {
            return Err(format!("expected a Socket.IO CONNECT answer, got {answer:?}").into());
        }
        Ok(client)
    }

    /// Sends one text frame (and flushes).
    pub async fn send(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.ws.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Queues one text frame without flushing.
    pub async fn feed(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.ws.feed(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Flushes queued frames.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.ws.flush().await?;
        Ok(())
    }

    /// The next Engine.IO packet that is not a heartbeat: pings (`2`) are answered with
    /// pongs (`3`) on the way, noops (`6`) skipped. A binary frame is an error (the
    /// scenarios never ask for binary data), and so is the end of the connection.
    pub async fn next_text(&mut self) -> Result<Utf8Bytes, Error> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => match text.as_str() {
                    "2" => self.send("3").await?,
                    "6" => {}
                    _ => return Ok(text),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Binary(_))) => return Err("unexpected binary frame".into()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("the server closed the connection ({frame:?})").into())
                }
                Some(Err(e)) => return Err(e.into()),
                None => return Err("the connection ended".into()),
            }
        }
    }

    /// Ends the connection at once with a TCP reset (SO_LINGER 0): the cheapest teardown
    /// for both sides, and no TIME_WAIT left behind on either.
    pub fn reset(self) {
        let _ = self.ws.get_ref().set_zero_linger();
        drop(self);
    }

    /// Closes the WebSocket and waits (briefly) for the server's side of the close, so the
    /// server, not the load generator, ends the TCP connection first.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}

/// Connects `count` clients with at most `parallel` handshakes in flight, numbering them
/// from `first` (which picks their source addresses). Fails on the first failure.
pub async fn connect_many(
    target: &Target,
    first: u64,
    count: usize,
    parallel: usize,
) -> Result<Vec<Client>, Error> {
    let mut clients: Vec<Option<Client>> = (0..count).map(|_| None).collect();
    let mut pending = futures_util::stream::iter((0..count).map(|i| {
        let target = target.clone();
        async move { (i, Client::connect(&target, first + i as u64).await) }
    }))
    .buffer_unordered(parallel.max(1));
    while let Some((i, result)) = pending.next().await {
        match result {
            Ok(c) => clients[i] = Some(c),
            Err(e) => return Err(format!("client {i} could not connect: {e}").into()),
        }
    }
    Ok(clients
        .into_iter()
        .map(|c| c.expect("every client connected"))
        .collect())
}

/// CPU time and run-queue wait time of process `pid` (`self` for this one), summed over
/// its threads (from /proc/<pid>/task/*/schedstat: time on a CPU, time waiting for one).
pub fn sched_times(pid: &str) -> Option<(Duration, Duration)> {
    let mut on_cpu = 0u64;
    let mut waiting = 0u64;
    let mut any = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Ok(line) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = line
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        on_cpu += fields.next().unwrap_or(0);
        waiting += fields.next().unwrap_or(0);
        any = true;
    }
    any.then(|| (Duration::from_nanos(on_cpu), Duration::from_nanos(waiting)))
}

/// The core a process is pinned to, when it is pinned to exactly one (`taskset -c N`).
pub fn pinned_core(pid: &str) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Busy time of core `n` (everything but idle and iowait), from /proc/stat.
pub fn core_busy(n: usize) -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{n}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal, in USER_HZ (100 per second).
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7)?;
    Some(Duration::from_millis(busy * 10))
}

/// Resident set size of process `pid` in KiB (VmRSS of /proc/<pid>/status).
pub fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
