use gateway_runtime::prelude::*;

struct Chat;

impl Chat {
    #[subscribe_message("hello")]
    fn hello(&self) {}
}

fn main() {}
