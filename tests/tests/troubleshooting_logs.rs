//! The debug lines the README's Troubleshooting section promises: one per reason a client
//! silently gets nothing.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_runtime::prelude::*;
use gateway_runtime::testing::TestApp;

const T: Duration = Duration::from_secs(3);

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[injectable]
struct Never;

impl Guard for Never {
    async fn can_activate(&self, _ctx: &ExecutionContext) -> Result<bool, Exception> {
        Ok(false)
    }
}

#[gateway(namespace = "/logs")]
struct Logs;

#[gateway]
impl Logs {
    #[subscribe_message("known")]
    fn known(&self) -> u8 {
        1
    }

    #[subscribe_message("guarded")]
    #[use_guards(Never)]
    fn guarded(&self) -> u8 {
        2
    }
}

#[tokio::test]
async fn each_silent_drop_has_a_debug_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("gateway_runtime=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::start(App::builder().provider_type::<Never>().gateway::<Logs>())
        .await
        .unwrap();
    let mut c = app.client("/logs").await.unwrap();
    c.emit("knwon", &()).unwrap(); // a typo
    let _ = c.emit_with_ack("guarded", &(), T).await;
    assert_eq!(
        c.emit_with_ack("known", &(), T).await.unwrap(),
        vec![serde_json::json!(1)]
    );
    assert!(app.client("/nowhere").await.is_err());

    let logs = captured.text();
    assert!(
        logs.contains("no handler for this event: ignored")
            && logs.contains("event=\"knwon\"")
            && logs.contains("\"guarded\", \"known\""),
        "{logs}"
    );
    assert!(
        logs.contains("refused by a guard") && logs.contains("guard=\"Never\""),
        "{logs}"
    );
    assert!(
        logs.contains("CONNECT to a namespace the server does not have"),
        "{logs}"
    );
}
