use gateway_runtime::prelude::*;
use gateway_runtime::validation::ValidationOptions;

#[derive(Deserialize, Validate)]
struct Point {
    #[validate(range(min = 0))]
    x: i32,
}

#[gateway(namespace = "/shapes")]
struct Shapes;

#[gateway]
impl Shapes {
    #[subscribe_message("move")]
    fn r#move(
        &self,
        #[message_body(index = 0)] from: Point,
        #[message_body("x", index = 1)] to_x: i32,
    ) -> Arguments<(Option<()>, i32)> {
        Arguments((None, to_x - from.x))
    }

    #[subscribe_message("reset")]
    #[use_pipes(ValidationPipe::with(ValidationOptions {
        forbid_non_whitelisted: true,
        ..Default::default()
    }))]
    fn reset(&self, #[message_body] _p: Point) -> WsResponse<Arguments<()>> {
        WsResponse::new("reset", Arguments(()))
    }
}

fn main() {
    let _ = App::builder().gateway::<Shapes>();
}
