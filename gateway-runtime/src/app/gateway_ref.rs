//! Reaching a gateway from a service or an HTTP route (NestJS: injecting the gateway class,
//! with `forwardRef` when the gateway injects the service too).

use std::sync::{Arc, OnceLock};

use gateway_core::di::{Container, Registry};

use super::builder::AnyGateway;

/// A handle on gateway `G`, injected into services like any provider (a field
/// `Arc<GatewayRef<G>>` of an `#[injectable]` struct). Gateways are built after the
/// providers (they inject them), so the handle is empty while providers are constructed
/// and holds the gateway once [`AppBuilder::build`](super::AppBuilder::build) returns:
/// call [`get`](Self::get) when handling something, not in a constructor. This also
/// breaks the cycle a gateway and a service injecting each other would make (NestJS's
/// `forwardRef`). After `build`, [`App::get::<G>()`](super::App::get) returns the
/// gateway too.
///
/// ```no_run
/// use gateway_runtime::prelude::*;
/// use gateway_runtime::app::GatewayRef;
///
/// #[gateway(namespace = "/chat")]
/// struct ChatGateway {
///     #[websocket_server]
///     io: SocketIo,
/// }
///
/// impl ChatGateway {
///     fn announce(&self, room: &str, text: &str) {
///         let _ = self.io.of("/chat").to(room).emit("announcement", text);
///     }
/// }
///
/// #[injectable]
/// struct Announcer {
///     chat: Arc<GatewayRef<ChatGateway>>,
/// }
///
/// impl Announcer {
///     fn maintenance(&self) {
///         self.chat.get().announce("lobby", "back in 5 minutes");
///     }
/// }
/// ```
pub struct GatewayRef<G>(OnceLock<Arc<G>>);

impl<G> std::fmt::Debug for GatewayRef<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GatewayRef")
            .field(&std::any::type_name::<G>())
            .field(&if self.0.get().is_some() {
                "built"
            } else {
                "not built yet"
            })
            .finish()
    }
}

impl<G: Send + Sync + 'static> GatewayRef<G> {
    /// The gateway.
    ///
    /// # Panics
    /// When called before the application is built (from a provider's constructor or a
    /// factory): the gateway does not exist yet. Use [`try_get`](Self::try_get) there.
    pub fn get(&self) -> Arc<G> {
        self.try_get().unwrap_or_else(|| {
            panic!(
                "GatewayRef<{}>::get called before the application was built: gateways are built after the providers; call it when handling something, not in a constructor",
                std::any::type_name::<G>()
            )
        })
    }

    /// The gateway, or `None` while the application is being built.
    pub fn try_get(&self) -> Option<Arc<G>> {
        self.0.get().cloned()
    }

    /// Registers an empty handle for `G` (before the providers are built).
    pub(crate) fn register(registry: &mut Registry) {
        registry.value(GatewayRef::<G>(OnceLock::new()));
    }

    /// Fills the handle with the built gateway.
    pub(crate) fn fill(container: &Container, instance: &AnyGateway) {
        if let (Some(handle), Ok(gateway)) = (
            container.try_get::<GatewayRef<G>>(),
            instance.clone().downcast::<G>(),
        ) {
            let _ = handle.0.set(gateway);
        }
    }
}
