use gateway_runtime::prelude::*;

#[gateway]
struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("position")]
    fn position(&self, #[message_body(index = "1")] _y: u32) {}

    #[subscribe_message("named")]
    fn named(&self, #[message_body(name = "x")] _x: u32) {}

    #[subscribe_message("word")]
    fn word(&self, #[message_body(text)] _x: u32) {}
}

fn main() {}
