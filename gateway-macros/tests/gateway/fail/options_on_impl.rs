use gateway_runtime::prelude::*;

#[gateway]
struct Chat;

#[gateway(namespace = "/chat")]
impl Chat {}

fn main() {}
