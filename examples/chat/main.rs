//! A chat server: rooms, JWT login over HTTP on the same port, validated messages with
//! acknowledgements, volatile typing indicators, and errors through exception filters.
//!
//! ```text
//! JWT_SECRET=change-me cargo run --release --example chat
//! ```
//!
//! Without `JWT_SECRET` the server signs with a random secret made at start (and says so).
//! Limits a production chat needs: the history keeps the last 50 messages of at most 1 000
//! rooms (the least recently used room is forgotten first), a user may be in 20 rooms at
//! once, and `send-message` accepts 5 messages per second per socket.
//!
//! With `REDIS_URL=redis://127.0.0.1:6379/`, several instances (different `PORT`s) share
//! rooms through the Redis adapter; Node.js socket.io servers with `@socket.io/redis-adapter`
//! can join the same cluster.
//!
//! The front end is a React app (`examples/chat/web`, Vite + TypeScript) typed with the
//! events the gateway declares (`events.rs`, generated into
//! `web/src/generated/chat-events.ts`). The server builds it with npm at start when it is
//! missing or older than its sources, then serves it: no CDN, it works with no internet.
//! A client whose network drops for less than two minutes gets its session back
//! (connection state recovery); after a restart it joins its rooms again.
//! `cargo run --example chat -- generate` rewrites the TypeScript and `asyncapi.json`
//! (served at `/asyncapi.json`) after a change of the declared events.
//!
//! With `ADMIN_PASSWORD_HASH` (a bcrypt hash), the official Socket.IO Admin UI can connect
//! to `/admin` as user `admin` and watch sockets, rooms and events.
//!
//! Operators get Prometheus metrics at `GET /metrics` (see `gateway_runtime::telemetry`) and
//! Kubernetes probes at `GET /health/live` and `GET /health/ready`; SIGTERM drains.
//!
//! Open http://127.0.0.1:3000 in two browser tabs, or script it:
//! `POST /login {"username":"ada"}` returns `{"token":…}`; connect `socket.io-client` to
//! `/chat` with `auth: { token }`, then `join`, `send-message`, `typing`, `leave`.

mod dto;
mod events;
mod front_end;
mod gateway;
mod store;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use gateway_runtime::adapter::redis::{RedisAdapter, RedisConfig};
use gateway_runtime::prelude::{App, ConnectionStateRecovery, JwtService};
use serde::Deserialize;

use dto::User;
use gateway::ChatGateway;
use store::MessageStore;

const TOKEN_LIFETIME_SECS: u64 = 3600;

#[derive(Deserialize)]
struct Login {
    username: String,
}

async fn login(State(jwt): State<Arc<JwtService>>, Json(body): Json<Login>) -> impl IntoResponse {
    let name = body.username.trim();
    if name.is_empty() || name.len() > 32 {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "username must be 1 to 32 characters" })),
        );
    }
    let user = User {
        sub: name.to_string(),
        exp: jwt.now() + TOKEN_LIFETIME_SECS,
    };
    match jwt.sign(&user) {
        Ok(token) => (StatusCode::OK, Json(serde_json::json!({ "token": token }))),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": e.to_string() })),
        ),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("generate") {
        // `cargo run --example chat -- generate`: the front end's TypeScript and the
        // AsyncAPI document, from the declared events.
        for path in events::write_generated(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))? {
            println!("wrote {}", path.display());
        }
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let jwt = match JwtService::hs256_from_env("JWT_SECRET") {
        Ok(jwt) => jwt,
        Err(_) => {
            // Never a secret written in the source: anyone could forge tokens with it.
            tracing::warn!(
                "JWT_SECRET is not set: tokens are signed with a random secret made at start \
                 (they stop working when the server restarts, and other nodes reject them)"
            );
            let secret: [u8; 32] = rand::random();
            JwtService::hs256(&secret)
        }
    };
    // Metrics: installed before the app is built (namespaces and handlers take their
    // handles then). Handler latencies as a histogram, in seconds.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &[0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
        )?
        .install_recorder()?;
    let mut builder = App::builder();
    if let Ok(url) = std::env::var("REDIS_URL") {
        // Several chat servers behind a load balancer share rooms through Redis.
        let adapter = RedisAdapter::factory(RedisConfig::new(url.clone()))?;
        builder = builder.adapter(adapter);
        tracing::info!(%url, "sharing rooms with other nodes through Redis");
    }
    // The React front end, built with npm when missing or stale (a few seconds).
    let front = tokio::task::spawn_blocking(front_end::FrontEnd::load).await?;
    let bundle = front_end::client_bundle(&front_end::web_dir());
    let app = builder
        .socketio(|io| {
            let io = io.connection_state_recovery(ConnectionStateRecovery::default());
            match bundle {
                Some(bundle) => io.serve_client(bundle),
                None => io,
            }
        })
        .provider(MessageStore::default())
        .provider(jwt)
        .gateway::<ChatGateway>()
        .ack_errors(true)
        .build()
        .await?;

    // The Socket.IO Admin UI (`@socket.io/admin-ui`'s protocol) on `/admin`, user `admin`,
    // when a bcrypt hash of its password is given.
    if let Ok(hash) = std::env::var("ADMIN_PASSWORD_HASH") {
        gateway_runtime::admin::AdminUi::basic_auth("admin", hash).instrument(app.io())?;
        tracing::info!("admin UI: connect it to this server, namespace /admin, user admin");
    }

    let routes = Router::new()
        .route("/login", post(login))
        .route(
            "/asyncapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    include_str!("asyncapi.json"),
                )
            }),
        )
        .with_state(app.get::<JwtService>()?)
        .route(
            "/metrics",
            get(move || std::future::ready(prometheus.render())),
        )
        .merge(app.health_routes())
        .fallback(get(move |uri: axum::http::Uri| {
            std::future::ready(front.serve(&uri))
        }));
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = gateway_runtime::engine::bind(&format!("127.0.0.1:{port}"), 511).await?;
    println!("listening on http://{}", listener.local_addr()?);
    app.serve(listener, routes).await?;
    Ok(())
}
