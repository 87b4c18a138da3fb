//! The benchmark server: a normal gateway written with the macros.
//!
//! Listens on 127.0.0.1:$PORT (default 3000), path `/socket.io/`, namespace `/`:
//! - `echo` with one argument and an ack → acknowledged with that argument;
//! - `broadcast` with one argument → `bcast` with it to every socket of `/`, sender included.
//!
//! Set `BENCH_RUNTIME=current_thread` for tokio's current-thread runtime, and
//! `BENCH_ENHANCERS=1` to add a global guard, a validation pipe and an interceptor
//! (the framework-overhead scenario).
//!
//! ```text
//! PORT=3000 cargo run --release --example bench_server
//! ```

use gateway_runtime::prelude::*;

#[gateway(namespace = "/")]
struct BenchGateway {
    #[websocket_server]
    server: Namespace,
}

#[gateway]
impl BenchGateway {
    #[subscribe_message("echo")]
    fn echo(&self, #[message_body] data: AnyValue) -> AnyValue {
        data
    }

    #[subscribe_message("broadcast")]
    fn broadcast(&self, #[message_body] data: AnyValue) {
        let _ = self.server.emit("bcast", &data);
    }
}

/// Lets everything through (measures the cost of running a guard).
struct AllowAll;

impl Guard for AllowAll {
    async fn can_activate(&self, _ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(true)
    }
}

/// Passes the reply through (measures the cost of running an interceptor).
struct PassThrough;

impl Interceptor for PassThrough {
    async fn intercept(&self, _ctx: &ExecutionContext, next: Next<'_>) -> Result<Reply, Exception> {
        next.run().await
    }
}

/// The default is tokio's multi-thread runtime (one worker per core it may use);
/// `BENCH_RUNTIME=current_thread` runs on the current-thread runtime instead.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = match std::env::var("BENCH_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        // Checking the shared queue every other task (tokio's default: every 61) keeps a
        // worker fair when more sockets are ready at once than its local queue holds (256):
        // the overflow would otherwise wait behind sockets that keep getting I/O.
        _ => tokio::runtime::Builder::new_multi_thread()
            .global_queue_interval(2)
            .enable_all()
            .build()?,
    };
    runtime.block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let mut builder = App::builder().gateway::<BenchGateway>();
    if std::env::var("BENCH_ENHANCERS").is_ok_and(|v| v == "1") {
        builder = builder
            .global_guard(AllowAll)
            .global_pipe(ValidationPipe)
            .global_interceptor(PassThrough);
    }
    let app = builder.build().await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    app.serve(listener, axum::Router::new()).await?;
    Ok(())
}
