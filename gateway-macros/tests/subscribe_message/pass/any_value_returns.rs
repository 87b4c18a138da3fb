//! A handler returning the crate's `AnyValue` (written by the direct JSON writer), and one
//! returning another type that happens to be named `AnyValue` (through `IntoReply`).
use gateway_runtime::prelude::*;

mod mine {
    #[derive(serde::Serialize)]
    pub struct AnyValue {
        pub n: u8,
    }
}

#[gateway]
struct Echo;

#[gateway]
impl Echo {
    #[subscribe_message("echo")]
    fn echo(&self, #[message_body] data: AnyValue) -> AnyValue {
        data
    }

    #[subscribe_message("qualified")]
    fn qualified(&self) -> gateway_runtime::socketio::AnyValue {
        gateway_runtime::socketio::AnyValue::Null
    }

    #[subscribe_message("mine")]
    fn mine(&self) -> mine::AnyValue {
        mine::AnyValue { n: 1 }
    }
}

fn main() {}
