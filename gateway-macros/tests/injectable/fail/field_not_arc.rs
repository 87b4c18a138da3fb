use gateway_runtime::prelude::*;

struct Store;

#[injectable]
struct Service {
    store: Store,
}

#[injectable]
enum NotAStruct {
    A,
}

fn main() {}
