//! One Socket.IO client over WebSocket, spoken by hand: the Engine.IO handshake, the
//! Socket.IO CONNECT to `/` (over the WebSocket, or over long-polling before an upgrade),
//! Engine.IO heartbeats, and a few frame helpers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long one handshake (TCP + WebSocket + Engine.IO + Socket.IO) may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Where to connect and from which local addresses.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's TCP address.
    pub addr: SocketAddr,
    /// The request target: path and Engine.IO query (`/socket.io/?EIO=4&transport=websocket`).
    pub path: String,
    /// The path alone (`/socket.io/`).
    pub base: String,
    /// Open over HTTP long-polling, then upgrade (socket.io-client's default), instead of
    /// opening the WebSocket at once.
    pub upgrade: bool,
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
        let base = path.split('?').next().unwrap_or("/socket.io/").to_owned();
        let path = format!("{base}?EIO=4&transport=websocket");
        // Binding to other loopback addresses only makes sense when the server is on loopback.
        let src_addrs = if ip.is_loopback() && ip.is_ipv4() {
            src_addrs
        } else {
            0
        };
        Ok(Self {
            addr,
            path,
            base,
            upgrade: false,
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

/// A connected Socket.IO client (namespace `/` joined), over a WebSocket spoken by hand:
/// client frames masked, server frames parsed from one read buffer.
pub struct Client {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    mask: [u8; 4],
}

/// A text message received from the server.
pub struct Text(Bytes);

impl Text {
    /// The message (checked to be UTF-8 when it was received).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// Largest server frame accepted (the scenarios' messages are small).
const MAX_FRAME: usize = 16 << 20;

/// A pseudo-random 32-bit value for WebSocket keys and masks (xorshift of `seed`).
fn scramble(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

impl Client {
    /// TCP connect (from the `n`-th source address), WebSocket upgrade (the
    /// `Sec-WebSocket-Accept` checked), Engine.IO OPEN, Socket.IO CONNECT to `/` and its
    /// answer. Everything is checked.
    pub async fn connect(target: &Target, n: u64) -> Result<Self, Error> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, Self::connect_inner(target, n)).await {
            Ok(r) => r,
            Err(_) => Err("handshake timed out".into()),
        }
    }

    async fn connect_inner(target: &Target, n: u64) -> Result<Self, Error> {
        if target.upgrade {
            return Self::connect_upgrading(target, n).await;
        }
        let mut client = Self::websocket(target, n, &target.path).await?;
        let open = client.next_text().await?;
        if !open.as_str().starts_with("0{") || !open.as_str().contains("\"sid\"") {
            return Err(
                format!("expected an Engine.IO OPEN packet, got {:?}", open.as_str()).into(),
            );
        }
        client.send("40").await?;
        let answer = client.next_text().await?;
        check_connect_answer(answer.as_str())?;
        Ok(client)
    }

    /// socket.io-client's default: the Engine.IO handshake, the CONNECT and its answer over
    /// HTTP long-polling (one keep-alive connection), then a WebSocket for the same session,
    /// probed (`2probe` / `3probe`) and upgraded (`5`).
    async fn connect_upgrading(target: &Target, n: u64) -> Result<Self, Error> {
        let polling = format!("{}?EIO=4&transport=polling", target.base);
        let mut http = Http {
            stream: tcp(target, n).await?,
            buf: BytesMut::with_capacity(1024),
            host: target.addr.to_string(),
        };
        let open = http.request("GET", &polling, "").await?;
        let sid = open
            .strip_prefix("0{\"sid\":\"")
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| format!("expected an Engine.IO OPEN packet, got {open:?}"))?
            .to_owned();
        let polling = format!("{polling}&sid={sid}");
        let ok = http.request("POST", &polling, "40").await?;
        if ok != "ok" {
            return Err(format!("a POST was answered {ok:?}").into());
        }
        // A payload may hold several packets (separated by 0x1e), heartbeats among them.
        let answer = loop {
            let payload = http.request("GET", &polling, "").await?;
            let mut answer = None;
            let mut pings = 0;
            for packet in payload.split('\u{1e}') {
                match packet {
                    "2" => pings += 1,
                    "6" => {}
                    p if p.starts_with("40") => answer = Some(p.to_owned()),
                    p => return Err(format!("expected a CONNECT answer, got {p:?}").into()),
                }
            }
            for _ in 0..pings {
                let ok = http.request("POST", &polling, "3").await?;
                if ok != "ok" {
                    return Err(format!("a POST was answered {ok:?}").into());
                }
            }
            if let Some(answer) = answer {
                break answer;
            }
        };
        check_connect_answer(&answer)?;
        let path = format!("{}?EIO=4&transport=websocket&sid={sid}", target.base);
        let mut client = Self::websocket(target, n, &path).await?;
        client.send("2probe").await?;
        let probe = client.next_text().await?;
        if probe.as_str() != "3probe" {
            return Err(format!("expected 3probe, got {:?}", probe.as_str()).into());
        }
        client.send("5").await?;
        Ok(client)
    }

    /// A TCP connection upgraded to WebSocket at `path` (the `Sec-WebSocket-Accept` checked).
    async fn websocket(target: &Target, n: u64, path: &str) -> Result<Self, Error> {
        let stream = tcp(target, n).await?;
        let seed = scramble(n ^ 0x9E37_79B9_7F4A_7C15);
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..].copy_from_slice(&scramble(seed).to_le_bytes());
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        let mut client = Client {
            stream,
            rbuf: BytesMut::with_capacity(1024),
            wbuf: Vec::with_capacity(256),
            mask: (scramble(seed ^ 1) as u32).to_le_bytes(),
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            target.addr
        );
        client.stream.write_all(request.as_bytes()).await?;
        let head = read_head(&mut client.stream, &mut client.rbuf).await?;
        check_upgrade(&head, &key)?;
        Ok(client)
    }

    async fn read_more(&mut self) -> Result<(), Error> {
        read_into(&mut self.stream, &mut self.rbuf).await
    }

    /// Sends one text frame.
    pub async fn send(&mut self, text: impl AsRef<str>) -> Result<(), Error> {
        self.feed(text).await?;
        self.flush().await
    }

    /// Queues one text frame without writing it.
    pub async fn feed(&mut self, text: impl AsRef<str>) -> Result<(), Error> {
        self.frame(0x1, text.as_ref().as_bytes());
        Ok(())
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let len = payload.len();
        self.wbuf.push(0x80 | opcode);
        if len < 126 {
            self.wbuf.push(0x80 | len as u8);
        } else if len <= 0xFFFF {
            self.wbuf.push(0x80 | 126);
            self.wbuf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.wbuf.push(0x80 | 127);
            self.wbuf.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.wbuf.extend_from_slice(&self.mask);
        let mask = self.mask;
        self.wbuf
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    }

    /// Writes queued frames.
    pub async fn flush(&mut self) -> Result<(), Error> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// The next whole server frame already read: (opcode, payload).
    fn take_frame(&mut self) -> Result<Option<(u8, Bytes)>, Error> {
        let b = &self.rbuf[..];
        if b.len() < 2 {
            return Ok(None);
        }
        if b[0] & 0x80 == 0 {
            return Err("fragmented server frames are not expected".into());
        }
        if b[1] & 0x80 != 0 {
            return Err("the server masked a frame".into());
        }
        let (len, off) = match b[1] & 0x7F {
            126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            126 | 127 => return Ok(None),
            n => (usize::from(n), 2),
        };
        if len > MAX_FRAME {
            return Err(format!("a {len}-byte frame").into());
        }
        if b.len() < off + len {
            self.rbuf.reserve(off + len - b.len());
            return Ok(None);
        }
        let opcode = b[0] & 0x0F;
        let _ = self.rbuf.split_to(off);
        Ok(Some((opcode, self.rbuf.split_to(len).freeze())))
    }

    /// The next Engine.IO packet that is not a heartbeat: pings (`2`) are answered with
    /// pongs (`3`) on the way, noops (`6`) skipped. A binary frame is an error (the
    /// scenarios never ask for binary data), and so is the end of the connection.
    pub async fn next_text(&mut self) -> Result<Text, Error> {
        loop {
            let Some((opcode, payload)) = self.take_frame()? else {
                self.read_more().await?;
                continue;
            };
            match opcode {
                0x1 => {
                    if std::str::from_utf8(&payload).is_err() {
                        return Err("a text frame that is not UTF-8".into());
                    }
                    match &payload[..] {
                        b"2" => self.send("3").await?,
                        b"6" => {}
                        _ => return Ok(Text(payload)),
                    }
                }
                0x2 => return Err("unexpected binary frame".into()),
                0x8 => {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    return Err(format!("the server closed the connection (code {code:?})").into());
                }
                0x9 => {
                    self.frame(0xA, &payload);
                    self.flush().await?;
                }
                0xA => {}
                op => return Err(format!("unknown opcode {op}").into()),
            }
        }
    }

    /// Ends the connection at once with a TCP reset (SO_LINGER 0): the cheapest teardown
    /// for both sides, and no TIME_WAIT left behind on either.
    pub fn reset(self) {
        let _ = self.stream.set_zero_linger();
        drop(self);
    }

    /// Closes the WebSocket and waits (briefly) for the server's side of the close, so the
    /// server, not the load generator, ends the TCP connection first.
    pub async fn close(mut self) {
        self.frame(0x8, &1000u16.to_be_bytes());
        if self.flush().await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.next_text().await.is_ok() {}
        })
        .await;
    }
}

/// A TCP connection to the target from the `n`-th source address, TCP_NODELAY on.
async fn tcp(target: &Target, n: u64) -> Result<TcpStream, Error> {
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
    Ok(stream)
}

/// Checks the answer to a Socket.IO CONNECT to `/`.
fn check_connect_answer(answer: &str) -> Result<(), Error> {
    if answer.starts_with("40{") && answer.contains("\"sid\"") {
        Ok(())
    } else {
        Err(format!("expected a Socket.IO CONNECT answer, got {answer:?}").into())
    }
}

/// HTTP/1.1 requests on one keep-alive connection, for the long-polling transport.
struct Http {
    stream: TcpStream,
    buf: BytesMut,
    host: String,
}

impl Http {
    /// Sends a request with `body` and returns the body of a `200` answer (its length
    /// given by `Content-Length`).
    async fn request(&mut self, method: &str, path: &str, body: &str) -> Result<String, Error> {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await?;
        let head = read_head(&mut self.stream, &mut self.buf).await?;
        let (status, headers) = split_head(&head)?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(format!("{method} {path}: {status:?}").into());
        }
        let len: usize = header(headers, "content-length")
            .and_then(|v| v.parse().ok())
            .ok_or("an HTTP answer without Content-Length")?;
        while self.buf.len() < len {
            read_into(&mut self.stream, &mut self.buf).await?;
        }
        let body = self.buf.split_to(len);
        Ok(String::from_utf8(body.to_vec()).map_err(|_| "an HTTP answer body is not text")?)
    }
}

/// Reads from `stream` into `buf` until it holds a whole HTTP answer head, and splits the
/// head off.
async fn read_head(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<BytesMut, Error> {
    loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            return Ok(buf.split_to(i + 4));
        }
        if buf.len() > 16 * 1024 {
            return Err("an HTTP answer head is too long".into());
        }
        read_into(stream, buf).await?;
    }
}

/// Reads what `stream` has into `buf`; the end of the connection is an error.
async fn read_into(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), Error> {
    buf.reserve(4096);
    if stream.read_buf(buf).await? == 0 {
        return Err("the connection ended".into());
    }
    Ok(())
}

/// An HTTP answer head as its status line and its header lines.
fn split_head(head: &[u8]) -> Result<(&str, std::str::Split<'_, &str>), Error> {
    let head = std::str::from_utf8(head).map_err(|_| "an HTTP answer head is not text")?;
    let mut lines = head.split("\r\n");
    Ok((lines.next().unwrap_or(""), lines))
}

/// The value of the header `name` (lower case) among `lines`.
fn header<'a>(lines: impl Iterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Checks a `101 Switching Protocols` answer and its `Sec-WebSocket-Accept`.
fn check_upgrade(head: &[u8], key: &str) -> Result<(), Error> {
    let (status, headers) = split_head(head)?;
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("the upgrade was refused: {status:?}").into());
    }
    let accept =
        header(headers, "sec-websocket-accept").ok_or("no Sec-WebSocket-Accept in the answer")?;
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let expected = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    if accept != expected {
        return Err(format!("Sec-WebSocket-Accept {accept:?}, expected {expected:?}").into());
    }
    Ok(())
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
