use gateway_runtime::prelude::*;

struct NotData;

#[gateway]
struct Chat;

#[gateway]
impl Chat {
    #[subscribe_message("hello")]
    fn hello(&self) -> NotData {
        NotData
    }
}

fn main() {}
