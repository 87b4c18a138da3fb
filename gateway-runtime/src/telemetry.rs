//! Metrics and tracing spans: what the server reports about itself, and how to read it.
//!
//! # Metrics
//!
//! The server reports through the [`metrics`](https://docs.rs/metrics) facade: install any
//! recorder (e.g. `metrics-exporter-prometheus`) **before building the server** — the
//! handles of a namespace and of a gateway handler are taken when they are created, and
//! a handle taken with no recorder installed stays a no-op. With no recorder, reporting
//! costs a branch per call.
//!
//! ```no_run
//! use gateway_runtime::prelude::*;
//! # #[gateway] struct ChatGateway;
//! # #[gateway] impl ChatGateway { #[subscribe_message("ping")] fn ping(&self) {} }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // metrics-exporter-prometheus = { version = "0.17", default-features = false }
//! let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
//! gateway_runtime::telemetry::describe_metrics(); // HELP texts; optional
//! let app = App::builder().gateway::<ChatGateway>().build().await?;
//! let routes = axum::Router::new()
//!     .route("/metrics", axum::routing::get(move || async move { prometheus.render() }))
//!     .merge(app.health_routes());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! app.serve(listener, routes).await?;
//! # Ok(()) }
//! ```
//!
//! Names and labels follow Prometheus conventions (`_total` counters, base units). Label
//! values come from a bounded set: the server's own namespace names (children of a
//! dynamic namespace are all labelled `(dynamic)`; a CONNECT to a namespace the server
//! does not have is labelled `(unknown)`), the events a gateway declares, and the fixed
//! reasons and kinds below. Socket ids, rooms, addresses and client-chosen event names
//! are never labels.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `engineio_connections` | gauge | `transport` | open Engine.IO sessions, by their transport now (`polling`, `websocket`) |
//! | `engineio_handshakes_total` | counter | `transport` | sessions opened |
//! | `engineio_handshake_refusals_total` | counter | `reason` | handshakes refused: `unsupported_protocol`, `unknown_transport`, `bad_method`, `bad_request`, `shutting_down`, `allow_request`, `too_many_handshakes`, `max_connections`, `max_connections_per_ip` |
//! | `engineio_upgrades_total` | counter | | polling sessions upgraded to WebSocket |
//! | `engineio_disconnects_total` | counter | `reason` | sessions closed, by reason (`transport_close`, `transport_error`, `ping_timeout`, `parse_error`, `forced_close`, `forced_server_close`, `server_shutting_down`, `buffer_full`, …) |
//! | `engineio_outgoing_buffered_bytes` | gauge | | bytes queued for clients and not yet written, over all sessions; each session reports at its heartbeat (every ping interval) and when it ends |
//! | `socketio_sockets_connected` | gauge | `namespace`, `transport` | sockets connected to a namespace, by the transport of their connection now |
//! | `socketio_connect_refusals_total` | counter | `namespace`, `reason` | namespace CONNECTs refused: `invalid_namespace`, `middleware` (middleware or a connection guard said no), `too_many_namespaces`, `recovery_lost` |
//! | `socketio_events_received_total` | counter | `namespace` | events received from clients |
//! | `socketio_events_sent_total` | counter | `namespace` | events queued to clients (a broadcast counts once per recipient) |
//! | `socketio_volatile_dropped_total` | counter | `namespace` | volatile events not sent because the client's queue was not empty |
//! | `socketio_acks_received_total` | counter | `namespace` | acknowledgements received from clients |
//! | `socketio_acks_sent_total` | counter | `namespace` | acknowledgements sent to clients |
//! | `socketio_disconnects_total` | counter | `namespace`, `reason` | sockets that left a namespace, by [`DisconnectReason`](crate::socketio::DisconnectReason) (`client_namespace_disconnect`, `server_namespace_disconnect`, `transport_close`, `ping_timeout`, …) |
//! | `socketio_handler_duration_seconds` | histogram | `namespace`, `event` | time a gateway handler took, guards, interceptors, pipes and exception filters included |
//! | `socketio_exceptions_total` | counter | `namespace`, `event`, `kind` | exceptions raised while handling a gateway event, by [`Exception::kind`](crate::app::Exception::kind) |
//! | `socketio_adapter_requests_total` | counter | `adapter`, `type` | requests sent to the other nodes (`sockets`, `all_rooms`, `remote_join`, `remote_leave`, `remote_disconnect`, `fetch_sockets`, `server_side_emit`, `broadcast`) |
//! | `socketio_adapter_request_timeouts_total` | counter | `adapter`, `type` | requests whose answers did not all come within the requests timeout |
//! | `socketio_adapter_outages_total` | counter | `adapter` | times the adapter lost its connection (to Redis) |
//! | `socketio_adapter_connected` | gauge | `adapter` | 1 while the adapter is connected, 0 while it reconnects |
//!
//! # Tracing spans
//!
//! Two spans, through the [`tracing`](https://docs.rs/tracing) crate; a subscriber that
//! filters them out pays one cached check per span.
//!
//! - **`socket`** (level INFO, target `gateway_runtime::socketio::socket`), one per socket (a client in
//!   a namespace), from its CONNECT until it is gone. Fields: `sid` (the socket id), `nsp`,
//!   `transport` (at connection time), `remote` (the peer address), and `reason`, recorded
//!   when it disconnects. Middleware, connection guards, `handle_connection` and
//!   `handle_disconnect` run inside it.
//! - **`event`** (level DEBUG, target `gateway_runtime::socketio::socket`), a child of `socket`, one
//!   per received event. Fields: `event` (its name), `ack` (whether the client asked for an
//!   acknowledgement); then, as the handler ends, `acked` (an acknowledgement was sent),
//!   and for gateway handlers `outcome` (`ok`, `refused`, `exception`), `guard` (the guard
//!   that refused) and `exception` ([`Exception::kind`](crate::app::Exception::kind)).
//!   Guards, interceptors, pipes, the handler and exception filters run inside it, so a
//!   handler's own log lines carry the socket and event.
//!
//! Nothing secret is recorded: no handshake query, headers, `auth` payload or token, no
//! event arguments.
//!
//! `RUST_LOG=info,gateway_runtime::socketio=debug` with `tracing_subscriber::fmt()` prints
//! each line with both spans; a tracing-opentelemetry layer exports them as traces.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram};

/// `engineio_connections`
pub const ENGINE_CONNECTIONS: &str = "engineio_connections";
/// `engineio_handshakes_total`
pub const ENGINE_HANDSHAKES: &str = "engineio_handshakes_total";
/// `engineio_handshake_refusals_total`
pub const ENGINE_HANDSHAKE_REFUSALS: &str = "engineio_handshake_refusals_total";
/// `engineio_upgrades_total`
pub const ENGINE_UPGRADES: &str = "engineio_upgrades_total";
/// `engineio_disconnects_total`
pub const ENGINE_DISCONNECTS: &str = "engineio_disconnects_total";
/// `engineio_outgoing_buffered_bytes`
pub const ENGINE_OUTGOING_BYTES: &str = "engineio_outgoing_buffered_bytes";
/// `socketio_sockets_connected`
pub const SOCKETS_CONNECTED: &str = "socketio_sockets_connected";
/// `socketio_connect_refusals_total`
pub const CONNECT_REFUSALS: &str = "socketio_connect_refusals_total";
/// `socketio_events_received_total`
pub const EVENTS_RECEIVED: &str = "socketio_events_received_total";
/// `socketio_events_sent_total`
pub const EVENTS_SENT: &str = "socketio_events_sent_total";
/// `socketio_volatile_dropped_total`
pub const VOLATILE_DROPPED: &str = "socketio_volatile_dropped_total";
/// `socketio_acks_received_total`
pub const ACKS_RECEIVED: &str = "socketio_acks_received_total";
/// `socketio_acks_sent_total`
pub const ACKS_SENT: &str = "socketio_acks_sent_total";
/// `socketio_disconnects_total`
pub const DISCONNECTS: &str = "socketio_disconnects_total";
/// `socketio_handler_duration_seconds`
pub const HANDLER_DURATION: &str = "socketio_handler_duration_seconds";
/// `socketio_exceptions_total`
pub const EXCEPTIONS: &str = "socketio_exceptions_total";
/// `socketio_adapter_requests_total`
pub const ADAPTER_REQUESTS: &str = "socketio_adapter_requests_total";
/// `socketio_adapter_request_timeouts_total`
pub const ADAPTER_REQUEST_TIMEOUTS: &str = "socketio_adapter_request_timeouts_total";
/// `socketio_adapter_outages_total`
pub const ADAPTER_OUTAGES: &str = "socketio_adapter_outages_total";
/// `socketio_adapter_connected`
pub const ADAPTER_CONNECTED: &str = "socketio_adapter_connected";

/// Gives every metric its unit and help text in the installed recorder (Prometheus prints
/// them as `# HELP` lines). Call it once, after installing the recorder; building a
/// server calls it too.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(ENGINE_CONNECTIONS, "Open Engine.IO sessions, by transport.");
    describe_counter!(
        ENGINE_HANDSHAKES,
        "Engine.IO sessions opened, by transport."
    );
    describe_counter!(
        ENGINE_HANDSHAKE_REFUSALS,
        "Engine.IO handshakes refused, by reason."
    );
    describe_counter!(ENGINE_UPGRADES, "Polling sessions upgraded to WebSocket.");
    describe_counter!(ENGINE_DISCONNECTS, "Engine.IO sessions closed, by reason.");
    describe_gauge!(
        ENGINE_OUTGOING_BYTES,
        Unit::Bytes,
        "Bytes queued for clients and not yet written (reported at each heartbeat)."
    );
    describe_gauge!(
        SOCKETS_CONNECTED,
        "Sockets connected, by namespace and transport."
    );
    describe_counter!(
        CONNECT_REFUSALS,
        "Namespace CONNECTs refused, by namespace and reason."
    );
    describe_counter!(EVENTS_RECEIVED, "Events received from clients.");
    describe_counter!(
        EVENTS_SENT,
        "Events queued to clients (once per recipient)."
    );
    describe_counter!(
        VOLATILE_DROPPED,
        "Volatile events dropped because the client's queue was not empty."
    );
    describe_counter!(ACKS_RECEIVED, "Acknowledgements received from clients.");
    describe_counter!(ACKS_SENT, "Acknowledgements sent to clients.");
    describe_counter!(DISCONNECTS, "Sockets that left a namespace, by reason.");
    describe_histogram!(
        HANDLER_DURATION,
        Unit::Seconds,
        "Time a gateway handler took, enhancers and exception filters included."
    );
    describe_counter!(
        EXCEPTIONS,
        "Exceptions raised while handling gateway events, by kind."
    );
    describe_counter!(ADAPTER_REQUESTS, "Requests sent to the other nodes.");
    describe_counter!(
        ADAPTER_REQUEST_TIMEOUTS,
        "Requests to the other nodes that timed out."
    );
    describe_counter!(ADAPTER_OUTAGES, "Times the adapter lost its connection.");
    describe_gauge!(
        ADAPTER_CONNECTED,
        "1 while the adapter is connected, 0 while it reconnects."
    );
}

/// The label values of a transport.
pub(crate) fn transport_label(t: crate::engine::TransportKind) -> &'static str {
    match t {
        crate::engine::TransportKind::Polling => "polling",
        crate::engine::TransportKind::Websocket => "websocket",
    }
}

/// A reason as a label value: `transport close` becomes `transport_close`.
pub(crate) fn reason_label(reason: &str) -> String {
    reason.replace(' ', "_")
}

/// The engine's handles, taken once.
pub(crate) struct EngineMetrics {
    /// Open sessions: polling, websocket.
    pub(crate) connections: [Gauge; 2],
    pub(crate) handshakes: [Counter; 2],
    pub(crate) upgrades: Counter,
    pub(crate) outgoing_bytes: Gauge,
}

impl EngineMetrics {
    pub(crate) fn new() -> Self {
        Self {
            connections: [
                metrics::gauge!(ENGINE_CONNECTIONS, "transport" => "polling"),
                metrics::gauge!(ENGINE_CONNECTIONS, "transport" => "websocket"),
            ],
            handshakes: [
                metrics::counter!(ENGINE_HANDSHAKES, "transport" => "polling"),
                metrics::counter!(ENGINE_HANDSHAKES, "transport" => "websocket"),
            ],
            upgrades: metrics::counter!(ENGINE_UPGRADES),
            outgoing_bytes: metrics::gauge!(ENGINE_OUTGOING_BYTES),
        }
    }

    /// Counts a refused handshake.
    pub(crate) fn refused(reason: &'static str) {
        metrics::counter!(ENGINE_HANDSHAKE_REFUSALS, "reason" => reason).increment(1);
    }

    /// Counts a closed session.
    pub(crate) fn closed(reason: crate::engine::CloseReason) {
        metrics::counter!(ENGINE_DISCONNECTS, "reason" => reason_label(reason.as_str()))
            .increment(1);
    }
}

/// A namespace's handles, taken when it is created.
pub(crate) struct NamespaceMetrics {
    /// The `namespace` label.
    pub(crate) label: Arc<str>,
    /// Connected sockets: polling, websocket.
    pub(crate) sockets: [Gauge; 2],
    pub(crate) events_received: Counter,
    pub(crate) events_sent: Counter,
    pub(crate) volatile_dropped: Counter,
    pub(crate) acks_received: Counter,
    pub(crate) acks_sent: Counter,
}

impl NamespaceMetrics {
    /// The handles of namespace `name` (`dynamic`: a child of a dynamic namespace).
    pub(crate) fn new(name: &str, dynamic: bool) -> Self {
        let label: Arc<str> = if dynamic {
            "(dynamic)".into()
        } else {
            name.into()
        };
        let ns = label.to_string();
        Self {
            sockets: [
                metrics::gauge!(SOCKETS_CONNECTED, "namespace" => ns.clone(), "transport" => "polling"),
                metrics::gauge!(SOCKETS_CONNECTED, "namespace" => ns.clone(), "transport" => "websocket"),
            ],
            events_received: metrics::counter!(EVENTS_RECEIVED, "namespace" => ns.clone()),
            events_sent: metrics::counter!(EVENTS_SENT, "namespace" => ns.clone()),
            volatile_dropped: metrics::counter!(VOLATILE_DROPPED, "namespace" => ns.clone()),
            acks_received: metrics::counter!(ACKS_RECEIVED, "namespace" => ns.clone()),
            acks_sent: metrics::counter!(ACKS_SENT, "namespace" => ns),
            label,
        }
    }

    /// Counts a refused CONNECT to namespace `label`.
    pub(crate) fn refused(label: &str, reason: &'static str) {
        metrics::counter!(CONNECT_REFUSALS, "namespace" => label.to_string(), "reason" => reason)
            .increment(1);
    }

    /// Counts a socket that left.
    pub(crate) fn disconnected(&self, reason: &str) {
        metrics::counter!(DISCONNECTS, "namespace" => self.label.to_string(), "reason" => reason_label(reason))
            .increment(1);
    }
}

/// The handler-duration histogram of a gateway handler.
pub(crate) fn handler_duration(namespace: &str, event: &str) -> Histogram {
    metrics::histogram!(HANDLER_DURATION, "namespace" => namespace.to_string(), "event" => event.to_string())
}

/// Counts an exception of a gateway handler.
pub(crate) fn exception(namespace: &str, event: &str, kind: &'static str) {
    metrics::counter!(EXCEPTIONS, "namespace" => namespace.to_string(), "event" => event.to_string(), "kind" => kind)
        .increment(1);
}

/// Records `value` in field `field` of the current span (the `event` span while a handler
/// runs), when spans at DEBUG level can be on at all.
#[inline]
pub(crate) fn record_event(field: &str, value: impl tracing::Value) {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        let span = tracing::Span::current();
        if !span.is_disabled() {
            span.record(field, value);
        }
    }
}

/// Counts a request to the other nodes, by its type number.
#[cfg(feature = "redis")]
pub(crate) fn adapter_request(adapter: &'static str, kind: u64) {
    metrics::counter!(ADAPTER_REQUESTS, "adapter" => adapter, "type" => request_type_label(kind))
        .increment(1);
}

/// Counts a request whose answers did not all come in time.
#[cfg(feature = "redis")]
pub(crate) fn adapter_timeout(adapter: &'static str, kind: u64) {
    metrics::counter!(ADAPTER_REQUEST_TIMEOUTS, "adapter" => adapter, "type" => request_type_label(kind))
        .increment(1);
}

/// Reports the adapter's connection going down (`false`) or coming back (`true`).
#[cfg(feature = "redis")]
pub(crate) fn adapter_connected(adapter: &'static str, up: bool) {
    metrics::gauge!(ADAPTER_CONNECTED, "adapter" => adapter).set(if up { 1.0 } else { 0.0 });
    if !up {
        metrics::counter!(ADAPTER_OUTAGES, "adapter" => adapter).increment(1);
    }
}

#[cfg(feature = "redis")]
fn request_type_label(kind: u64) -> &'static str {
    match kind {
        0 => "sockets",
        1 => "all_rooms",
        2 => "remote_join",
        3 => "remote_leave",
        4 => "remote_disconnect",
        5 => "fetch_sockets",
        6 => "server_side_emit",
        7 => "broadcast",
        _ => "other",
    }
}
