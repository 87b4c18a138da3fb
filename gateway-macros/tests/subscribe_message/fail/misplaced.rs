use gateway_runtime::prelude::*;

#[gateway]
struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("a")]
    #[use_connection_guards(JwtGuard)]
    fn a(&self) {}

    #[use_guards(JwtGuard)]
    fn not_a_handler(&self) {}

    #[subscribe_message("a")]
    fn duplicate(&self) {}

    #[subscribe_message("b")]
    fn two_roles(&self, #[message_body] #[connected_socket] x: Socket) {}
}

fn main() {}
