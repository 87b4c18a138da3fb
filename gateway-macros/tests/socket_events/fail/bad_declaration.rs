use gateway_runtime::prelude::*;

#[socket_events(namespace = "chat", retries = 3)]
pub trait ChatEvents {
    fn unmarked(text: String);
    #[client("a")]
    fn with_self(&self);
    #[client("b")]
    fn with_body(text: String) {}
    #[client("d")]
    #[server("d")]
    fn both();
    #[client("e")]
    fn e1();
    #[client("e")]
    fn e2();
}

#[socket_events(namespace = "/other")]
pub trait OtherEvents {}

#[gateway(namespace = "/chat", events = OtherEvents)]
pub struct Chat;

fn main() {}
