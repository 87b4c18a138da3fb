//! How the app builder wires gateways: several impl blocks, several gateways on one
//! namespace, modules and their exports, provider overrides.

use std::time::Duration;

use gateway_runtime::app::{BuildError, Module};
use gateway_runtime::prelude::*;
use gateway_runtime::testing::TestApp;
use serde_json::json;

const T: Duration = Duration::from_secs(3);

struct Greeting(&'static str);

#[gateway(namespace = "/shared")]
struct First {
    greeting: Arc<Greeting>,
}

#[gateway]
impl First {
    #[subscribe_message("first")]
    fn first(&self) -> &'static str {
        self.greeting.0
    }
}

// A second impl block of the same gateway.
#[gateway]
impl First {
    #[subscribe_message("first-again")]
    fn first_again(&self) -> String {
        format!("{} again", self.greeting.0)
    }
}

#[gateway(namespace = "/shared")]
struct Second;

#[gateway]
impl Second {
    #[subscribe_message("second")]
    fn second(&self) -> u8 {
        2
    }
}

#[gateway(namespace = "/shared")]
struct Clashing;

#[gateway]
impl Clashing {
    #[subscribe_message("first")]
    fn first(&self) -> u8 {
        0
    }
}

#[tokio::test]
async fn impl_blocks_and_gateways_share_a_namespace() {
    let app = TestApp::start(
        App::builder()
            .provider(Greeting("hi"))
            .gateway::<First>()
            .gateway::<Second>(),
    )
    .await
    .unwrap();
    let mut c = app.client("/shared").await.unwrap();
    assert_eq!(
        c.emit_with_ack("first", &(), T).await.unwrap(),
        vec![json!("hi")]
    );
    assert_eq!(
        c.emit_with_ack("first-again", &(), T).await.unwrap(),
        vec![json!("hi again")]
    );
    assert_eq!(
        c.emit_with_ack("second", &(), T).await.unwrap(),
        vec![json!(2)]
    );
}

#[tokio::test]
async fn the_same_event_in_two_gateways_is_a_startup_error() {
    let err = App::builder()
        .provider(Greeting("hi"))
        .gateway::<First>()
        .gateway::<Clashing>()
        .build()
        .await
        .unwrap_err();
    let BuildError::Config(msg) = err else {
        panic!("{err}")
    };
    assert!(
        msg.contains("event `first`")
            && msg.contains("First::first")
            && msg.contains("Clashing::first"),
        "{msg}"
    );
}

#[tokio::test]
async fn override_provider_swaps_in_a_fake() {
    let app = TestApp::start(
        App::builder()
            .provider(Greeting("real"))
            .gateway::<First>()
            .override_provider(Greeting("fake")),
    )
    .await
    .unwrap();
    let mut c = app.client("/shared").await.unwrap();
    assert_eq!(
        c.emit_with_ack("first", &(), T).await.unwrap(),
        vec![json!("fake")]
    );
}

#[tokio::test]
async fn modules_scope_providers_by_their_exports() {
    // Not exported: the gateway's module cannot see it.
    let err = App::builder()
        .module(Module::new("Greetings").provider(Greeting("from module")))
        .module(Module::new("Chat").import("Greetings").gateway::<First>())
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not export it to `Chat`"),
        "{err}"
    );

    // Exported and imported.
    let app = TestApp::start(
        App::builder()
            .module(
                Module::new("Greetings")
                    .provider(Greeting("from module"))
                    .export::<Greeting>(),
            )
            .module(Module::new("Chat").import("Greetings").gateway::<First>()),
    )
    .await
    .unwrap();
    let mut c = app.client("/shared").await.unwrap();
    assert_eq!(
        c.emit_with_ack("first", &(), T).await.unwrap(),
        vec![json!("from module")]
    );

    // Global modules export without an import; unknown imports are reported.
    assert!(App::builder()
        .module(
            Module::new("Greetings")
                .provider(Greeting("g"))
                .export::<Greeting>()
                .global()
        )
        .module(Module::new("Chat").gateway::<First>())
        .build()
        .await
        .is_ok());
    let err = App::builder()
        .module(Module::new("Chat").import("Nope"))
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("imports `Nope`"), "{err}");
}

/// A gateway reached from a service (NestJS: a service injecting the gateway).
#[gateway(namespace = "/notices")]
struct NoticeGateway {
    #[websocket_server]
    io: SocketIo,
    notifier: Arc<Notifier>,
}

impl NoticeGateway {
    fn notice(&self, text: &str) {
        let _ = self.io.of("/notices").emit("notice", text);
    }
}

#[gateway]
impl NoticeGateway {
    /// The service calls back into the gateway: the two inject each other.
    #[subscribe_message("announce")]
    fn announce(&self, #[message_body] text: String) -> bool {
        self.notifier.announce(&text)
    }
}

#[injectable]
struct Notifier {
    gateway: Arc<gateway_runtime::app::GatewayRef<NoticeGateway>>,
}

impl Notifier {
    fn announce(&self, text: &str) -> bool {
        self.gateway.get().notice(&format!("announced: {text}"));
        true
    }
}

#[injectable]
struct NeedsGatewayDirectly {
    _gateway: Arc<NoticeGateway>,
}

#[tokio::test]
async fn services_reach_gateways_through_gateway_ref_and_app_get_finds_them() {
    let app = TestApp::start(
        App::builder()
            .provider_type::<Notifier>()
            .gateway::<NoticeGateway>(),
    )
    .await
    .unwrap();
    let mut c = app.client("/notices").await.unwrap();
    assert_eq!(
        c.emit_with_ack("announce", &("hi",), T).await.unwrap(),
        vec![json!(true)]
    );
    assert_eq!(
        c.expect_event("notice", T).await.unwrap()[0],
        json!("announced: hi")
    );
    // From outside, as an HTTP route would: the app hands out the gateway itself.
    app.app
        .get::<NoticeGateway>()
        .unwrap()
        .notice("from outside");
    assert_eq!(
        c.expect_event("notice", T).await.unwrap()[0],
        json!("from outside")
    );
    app.app
        .get::<Notifier>()
        .unwrap()
        .gateway
        .get()
        .notice("through the service");
    assert_eq!(
        c.expect_event("notice", T).await.unwrap()[0],
        json!("through the service")
    );
}

#[tokio::test]
async fn a_provider_injecting_a_gateway_itself_is_told_about_gateway_ref() {
    let err = App::builder()
        .provider_type::<Notifier>()
        .provider_type::<NeedsGatewayDirectly>()
        .gateway::<NoticeGateway>()
        .build()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`NeedsGatewayDirectly` depends on the gateway `NoticeGateway`")
            && msg.contains("Arc<GatewayRef<NoticeGateway>>"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_build_error_prints_its_message_when_main_returns_it() {
    let err = App::builder().gateway::<First>().build().await.unwrap_err();
    // `fn main() -> Result<(), Box<dyn Error>>` prints the Debug form.
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    let printed = format!("{boxed:?}");
    assert!(printed.starts_with("no provider for `"), "{printed}");
    assert!(printed.contains("Greeting"), "{printed}");
}
