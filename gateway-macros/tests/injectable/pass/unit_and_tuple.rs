use gateway_runtime::prelude::*;

#[injectable]
struct Unit;

#[injectable]
struct Tuple(Arc<Unit>, #[default] u32);

fn main() {
    let _ = App::builder().provider_type::<Unit>().provider_type::<Tuple>();
}
