use gateway_runtime::prelude::*;

#[gateway]
struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("hello")]
    fn hello(&self, text: String) {}
}

fn main() {}
