//! The `socket` and `event` tracing spans (see `gateway_runtime::telemetry`), captured
//! with a layer of our own: their fields, their nesting, and the log lines of hooks and
//! handlers inside them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_runtime::prelude::*;
use gateway_runtime::testing::TestApp;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

const T: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
struct SpanRec {
    name: &'static str,
    fields: BTreeMap<String, String>,
    parent: Option<usize>,
}

#[derive(Debug, Clone)]
struct EventRec {
    message: String,
    /// The spans the line was logged in, outermost first.
    scope: Vec<usize>,
}

/// Every span and log line, spans numbered in creation order (the registry reuses ids).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<(Vec<SpanRec>, Vec<EventRec>)>>);

struct Seq(usize);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Captured {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("new span");
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<Seq>().map(|s| s.0));
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut all = self.0.lock().unwrap();
        span.extensions_mut().insert(Seq(all.0.len()));
        all.0.push(SpanRec {
            name: attrs.metadata().name(),
            fields,
            parent,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(seq) = ctx
            .span(id)
            .and_then(|s| s.extensions().get::<Seq>().map(|s| s.0))
        else {
            return;
        };
        values.record(&mut Fields(&mut self.0.lock().unwrap().0[seq].fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let scope = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .filter_map(|s| s.extensions().get::<Seq>().map(|s| s.0))
                    .collect()
            })
            .unwrap_or_default();
        self.0.lock().unwrap().1.push(EventRec {
            message: fields.remove("message").unwrap_or_default(),
            scope,
        });
    }
}

impl Captured {
    fn spans(&self) -> Vec<SpanRec> {
        self.0.lock().unwrap().0.clone()
    }

    fn events(&self) -> Vec<EventRec> {
        self.0.lock().unwrap().1.clone()
    }

    /// The one `event` span of event `name`, with its number.
    fn event_span(&self, name: &str) -> (usize, SpanRec) {
        let found: Vec<_> = self
            .spans()
            .into_iter()
            .enumerate()
            .filter(|(_, s)| {
                s.name == "event" && s.fields.get("event").map(String::as_str) == Some(name)
            })
            .collect();
        assert_eq!(found.len(), 1, "one `event` span for {name}: {found:?}");
        found.into_iter().next().unwrap()
    }

    /// The scope of the log line `message`.
    fn scope_of(&self, message: &str) -> Vec<usize> {
        self.events()
            .into_iter()
            .find(|e| e.message == message)
            .unwrap_or_else(|| panic!("no log line {message:?}: {:?}", self.events()))
            .scope
    }
}

#[injectable]
struct Never;

impl Guard for Never {
    async fn can_activate(&self, _ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(false)
    }
}

#[gateway(namespace = "/spans")]
struct Traced;

#[gateway]
impl Traced {
    #[subscribe_message("hello")]
    fn hello(&self) -> &'static str {
        tracing::info!("in hello");
        "hi"
    }

    #[subscribe_message("later")]
    async fn later(&self) -> u8 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        tracing::info!("in later");
        2
    }

    #[subscribe_message("guarded")]
    #[use_guards(Never)]
    fn guarded(&self) -> u8 {
        1
    }

    #[subscribe_message("fails")]
    fn fails(&self) -> Result<u8, WsException> {
        Err(WsException::new("no"))
    }
}

impl OnGatewayConnection for Traced {
    async fn handle_connection(&self, _client: &Socket) -> Result<(), Exception> {
        tracing::info!("in handle_connection");
        Ok(())
    }
}

impl OnGatewayDisconnect for Traced {
    async fn handle_disconnect(
        &self,
        _client: &Socket,
        _reason: DisconnectReason,
    ) -> Result<(), Exception> {
        tracing::info!("in handle_disconnect");
        Ok(())
    }
}

#[tokio::test]
async fn socket_and_event_spans_carry_their_fields_and_nest() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::start(App::builder().provider_type::<Never>().gateway::<Traced>())
        .await
        .unwrap();
    let mut c = app
        .client_with_auth("/spans", json!({ "token": "s3cr3t-token" }))
        .await
        .unwrap();
    assert_eq!(
        c.emit_with_ack("hello", &(), T).await.unwrap(),
        vec![json!("hi")]
    );
    assert_eq!(
        c.emit_with_ack("later", &(), T).await.unwrap(),
        vec![json!(2)]
    );
    c.emit("guarded", &()).unwrap();
    c.expect_event("exception", T).await.unwrap();
    c.emit("fails", &(1,)).unwrap();
    c.expect_event("exception", T).await.unwrap();

    // The socket span: one, with the socket's id, namespace, transport and peer.
    let sockets: Vec<_> = captured
        .spans()
        .into_iter()
        .enumerate()
        .filter(|(_, s)| s.name == "socket")
        .collect();
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    let (socket_seq, socket) = &sockets[0];
    assert_eq!(socket.fields["sid"], c.id);
    assert_eq!(socket.fields["nsp"], "/spans");
    assert_eq!(socket.fields["transport"], "websocket");
    assert!(
        socket.fields["remote"].starts_with("127.0.0.1:"),
        "{socket:?}"
    );
    assert_eq!(socket.parent, None);
    assert_eq!(captured.scope_of("in handle_connection"), vec![*socket_seq]);

    // Event spans: children of the socket span, with the outcome.
    let (hello_seq, hello) = captured.event_span("hello");
    assert_eq!(hello.parent, Some(*socket_seq));
    assert_eq!(hello.fields["ack"], "true");
    assert_eq!(hello.fields["acked"], "true");
    assert_eq!(hello.fields["outcome"], "ok");
    assert_eq!(captured.scope_of("in hello"), vec![*socket_seq, hello_seq]);

    // An async handler's lines stay in its span after it waited.
    let (later_seq, later) = captured.event_span("later");
    assert_eq!(later.fields["outcome"], "ok");
    assert_eq!(later.fields["acked"], "true");
    assert_eq!(captured.scope_of("in later"), vec![*socket_seq, later_seq]);

    let (_, guarded) = captured.event_span("guarded");
    assert_eq!(guarded.fields["ack"], "false");
    assert_eq!(guarded.fields["outcome"], "refused");
    assert_eq!(guarded.fields["guard"], "Never");
    assert_eq!(guarded.fields["exception"], "forbidden");
    assert!(!guarded.fields.contains_key("acked"));

    let (_, fails) = captured.event_span("fails");
    assert_eq!(fails.fields["outcome"], "exception");
    assert_eq!(fails.fields["exception"], "ws");

    // The disconnect reason lands on the socket span; the hook runs inside it.
    c.close();
    tokio::time::timeout(T, async {
        while !captured
            .events()
            .iter()
            .any(|e| e.message == "in handle_disconnect")
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("handle_disconnect ran");
    assert_eq!(captured.scope_of("in handle_disconnect"), vec![*socket_seq]);
    assert_eq!(
        captured.spans()[*socket_seq].fields["reason"],
        "transport close"
    );

    // Nothing the client authenticated with is recorded.
    for span in captured.spans() {
        for value in span.fields.values() {
            assert!(!value.contains("s3cr3t"), "{span:?}");
        }
    }
}
