use gateway_runtime::prelude::*;

/// A guard written without `#[injectable]`, named by type.
struct RolesGuard;

impl Guard for RolesGuard {
    async fn can_activate(&self, _ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(true)
    }
}

#[gateway(namespace = "/admin")]
#[use_guards(RolesGuard)]
struct Admin;

fn main() {}
