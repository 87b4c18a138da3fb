use gateway_runtime::prelude::*;

#[gateway(namespace = "chat", transports = ["carrier-pigeon"], color = "blue")]
struct Chat;

fn main() {}
