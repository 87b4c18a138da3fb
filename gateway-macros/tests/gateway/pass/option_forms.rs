//! Every written form of the gateway options.
use gateway_runtime::prelude::*;

#[gateway(
    namespace = "/a",
    ping_interval = "25s",
    ping_timeout = 20000,
    cors = "*",
    credentials = true,
    transports = "websocket",
    max_payload = 1_000_000,
    max_buffered_bytes = 4_194_304,
    path = "/socket.io/"
)]
struct A;

#[gateway(namespace = "/b", cors = true, ping_interval = "500ms", ping_timeout = "1m")]
struct B;

#[gateway(namespace = "/c", cors = ["https://app.example.com", "https://admin.example.com"])]
struct C;

fn main() {
    use gateway_runtime::app::Gateway;
    let a = A::options();
    assert_eq!(a.ping_interval, Some(std::time::Duration::from_secs(25)));
    assert_eq!(a.cors_origins, Some(vec!["*".to_string()]));
    assert_eq!(a.cors_credentials, Some(true));
    assert_eq!(a.transports, Some(vec!["websocket".to_string()]));
    let b = B::options();
    assert_eq!(b.ping_interval, Some(std::time::Duration::from_millis(500)));
    assert_eq!(b.ping_timeout, Some(std::time::Duration::from_secs(60)));
    assert_eq!(b.cors_origins, Some(vec!["*".to_string()]));
    assert_eq!(C::options().cors_origins.map(|o| o.len()), Some(2));
}
