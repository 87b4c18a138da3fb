//! The Redis adapters over TLS (`rediss://`) to a real `redis-server` with a certificate
//! made for the test (openssl): both adapters carry a broadcast between two nodes, and a
//! node that does not trust the certificate never connects.
//!
//! `redis-server` as in redis_adapter.rs (`REDIS_SERVER_BIN`, else PATH); `openssl` on PATH.
#![cfg(feature = "redis")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gateway_runtime::adapter::redis::{RedisAdapter, RedisConfig, ShardedRedisAdapter};
use gateway_runtime::adapter::AdapterFactory;
use gateway_runtime::socketio::SocketIo;
use gateway_runtime::testing::{serve_ephemeral, TestClient};
use tokio::time::{sleep, Instant};

fn redis_server_bin() -> PathBuf {
    std::env::var_os("REDIS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| "redis-server".into())
}

fn run(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed for the TLS tests");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A certificate authority and a server certificate for 127.0.0.1, in a fresh directory.
fn certificates() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gateway-redis-tls-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    run(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=gateway test CA",
        ],
    );
    run(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
    dir
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

struct TlsRedis {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TlsRedis {
    fn start() -> TlsRedis {
        let dir = certificates();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
        let child = Command::new(redis_server_bin())
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                &path("server.crt"),
                "--tls-key-file",
                &path("server.key"),
                "--tls-ca-cert-file",
                &path("ca.crt"),
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start redis-server");
        TlsRedis { port, child, dir }
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }

    fn ca(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("ca.crt")).unwrap()
    }
}

async fn node(factory: impl AdapterFactory) -> (SocketIo, SocketAddr) {
    let io = SocketIo::builder().adapter(factory).build();
    io.of("/").on_connection(|_socket| async move {});
    let (addr, _task) = serve_ephemeral(io.router()).await.unwrap();
    (io, addr)
}

async fn two_nodes_share_a_broadcast(a: (SocketIo, SocketAddr), b: (SocketIo, SocketAddr)) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ca = a.0.of("/").adapter().server_count().await;
        let cb = b.0.of("/").adapter().server_count().await;
        if ca == Ok(2) && cb == Ok(2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes never met over TLS: {ca:?} {cb:?}"
        );
        sleep(Duration::from_millis(50)).await;
    }
    let mut client = TestClient::connect(b.1, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    sleep(Duration::from_millis(100)).await;
    a.0.of("/").emit("over-tls", &"hello").unwrap();
    let args = client
        .expect_event("over-tls", Duration::from_secs(5))
        .await
        .expect("the broadcast crossed over TLS");
    assert_eq!(args, vec![serde_json::json!("hello")]);
}

fn config(redis: &TlsRedis) -> RedisConfig {
    RedisConfig::new(redis.url())
        .tls(Some(redis.ca()), None)
        .requests_timeout(Duration::from_millis(1500))
        .retry_delays(Duration::from_millis(50), Duration::from_millis(400))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_classic_adapter_works_over_tls() {
    let redis = TlsRedis::start();
    let a = node(RedisAdapter::factory(config(&redis)).unwrap()).await;
    let b = node(RedisAdapter::factory(config(&redis)).unwrap()).await;
    two_nodes_share_a_broadcast(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sharded_adapter_works_over_tls() {
    let redis = TlsRedis::start();
    let a = node(ShardedRedisAdapter::factory(config(&redis)).unwrap()).await;
    let b = node(ShardedRedisAdapter::factory(config(&redis)).unwrap()).await;
    two_nodes_share_a_broadcast(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused() {
    let redis = TlsRedis::start();
    // The system's authorities do not know the test's: never connected.
    let factory = RedisAdapter::factory(
        RedisConfig::new(redis.url())
            .retry_delays(Duration::from_millis(50), Duration::from_millis(200)),
    )
    .unwrap();
    let (io, _addr) = node(factory).await;
    // Meanwhile a node that trusts the test's authority connects: the server is up.
    let (trusting, _) = node(RedisAdapter::factory(config(&redis)).unwrap()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !trusting.is_ready() {
        assert!(
            Instant::now() < deadline,
            "the trusting node never connected"
        );
        sleep(Duration::from_millis(50)).await;
    }
    sleep(Duration::from_millis(500)).await;
    assert!(!io.is_ready(), "connected to a server it should not trust");
    assert!(io.of("/").adapter().server_count().await.is_err());
}
