use gateway_runtime::prelude::*;
use std::rc::Rc;

#[gateway]
struct Chat {
    service: Arc<Rc<u8>>,
}

fn main() {}
