use gateway_runtime::prelude::*;

struct Service;

#[gateway(namespace = "/chat")]
struct Chat {
    service: Service,
}

fn main() {}
