use gateway_runtime::prelude::*;

#[socket_events(namespace = "/chat")]
pub trait ChatEvents {
    #[client("hello")]
    fn hello();
    #[server("new-message")]
    fn new_message(text: String);
}

#[gateway(namespace = "/chat", events = ChatEvents)]
pub struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("hello")]
    fn hello(&self, #[connected_socket] client: Socket) {
        let _ = ChatEvents::emit(&client).new_mesage(&"hi".to_string());
        let _ = ChatEvents::emit(&client).new_message(&42);
    }
}

fn main() {}
