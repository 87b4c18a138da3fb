use gateway_runtime::prelude::*;

#[gateway(namespace = "chat", transports = ["carrier-pigeon"], color = "blue")]
struct Chat;

#[gateway(namespace = "/units", ping_interval = "60 seconds", ping_timeout = 2.5, cors = 5, credentials = "yes")]
struct Units;

fn main() {
    // Only the messages above: the gateways can still be registered.
    let _ = App::builder().gateway::<Chat>().gateway::<Units>();
}
