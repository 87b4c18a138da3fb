use gateway_runtime::prelude::*;

#[socket_events(namespace = "/chat")]
pub trait ChatEvents {
    #[client("send-message")]
    fn send_message(text: String) -> u64;
}

#[gateway(namespace = "/chat", events = ChatEvents)]
pub struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("send-message")]
    fn send(&self, #[message_body] text: u32) -> String {
        text.to_string()
    }
}

fn main() {}

#[socket_events(namespace = "/quiet")]
pub trait QuietEvents {
    #[client("ask")]
    fn ask() -> u64;
}

#[gateway(namespace = "/quiet", events = QuietEvents)]
pub struct Quiet;

#[gateway]
impl Quiet {
    #[subscribe_message("ask")]
    fn ask(&self) {}
}
