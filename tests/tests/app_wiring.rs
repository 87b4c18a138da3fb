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
