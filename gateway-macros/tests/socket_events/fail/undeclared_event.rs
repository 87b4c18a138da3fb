use gateway_runtime::prelude::*;

#[socket_events(namespace = "/chat")]
pub trait ChatEvents {
    #[client("send-message")]
    fn send_message(text: String);
}

#[gateway(namespace = "/chat", events = ChatEvents)]
pub struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("send-mesage")]
    fn send(&self, #[message_body] text: String) {
        let _ = text;
    }
}

fn main() {}
