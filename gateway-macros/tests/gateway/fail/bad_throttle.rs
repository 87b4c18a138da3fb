use gateway_runtime::prelude::*;

#[gateway]
#[throttle(limit = 5)]
struct NoTtl;

#[gateway]
#[throttle(limit = 5, ttl = 1000, burst = 2)]
struct UnknownKey;

#[gateway]
#[throttle(limit = -1, ttl = 0)]
struct Negative;

#[gateway]
#[throttle(limit = 5, ttl = 1.5)]
struct Fractional;

#[gateway]
struct Handlers;

#[gateway]
impl Handlers {
    #[subscribe_message("a")]
    #[throttle(short(ttl = 1000))]
    fn a(&self) {}

    #[subscribe_message("b")]
    #[skip_throttle("short")]
    fn b(&self) {}
}

fn main() {}
