use gateway_runtime::prelude::*;

#[derive(Deserialize)]
struct Plain {
    text: String,
}

#[gateway]
struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("hello")]
    #[use_pipes(ValidationPipe)]
    fn hello(&self, #[message_body] body: Plain) -> String {
        body.text
    }
}

fn main() {}
