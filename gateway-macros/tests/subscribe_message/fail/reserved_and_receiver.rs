use gateway_runtime::prelude::*;

#[gateway]
struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("disconnect")]
    fn on_disconnect(&mut self) {}

    #[subscribe_message("no-self")]
    fn no_self() {}
}

fn main() {}
