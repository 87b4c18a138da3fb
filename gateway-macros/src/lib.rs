//! Attribute macros of the gateway framework; use them through `gateway_runtime::prelude`.
//!
//! Each macro parses its input, checks it (collecting every mistake with its span), then
//! generates a trait implementation and a static registration; nothing is looked up at run
//! time. See `gateway_runtime::app` for what the generated code plugs into.

#![deny(missing_docs)]

mod ctxt;
mod enhancers;
mod fields;
mod gateway_impl;
mod gateway_struct;
mod injectable;
mod socket_events;

use proc_macro::TokenStream;
use quote::quote;

/// Declares a gateway (NestJS's `@WebSocketGateway`). On a struct:
/// `#[gateway(namespace = "/chat", ...)]`; on its impl block: `#[gateway]`, which collects
/// the `#[subscribe_message]` handlers (several impl blocks may carry it).
///
/// # Options (`#[gateway(name = value, ...)]`, all optional)
///
/// | option | type, unit | default | NestJS / socket.io |
/// |---|---|---|---|
/// | `namespace` | string starting with `/`, or `regex("^/room-\\d+$")` (dynamic namespaces) | `"/"` | `namespace` |
/// | `ack_errors` | `bool`: errors go to the client's ack callback when it gave one, instead of the `exception` event | `false` | — |
/// | `events` | a `#[socket_events]` declaration (`events = ChatEvents`): handlers and emits are checked against it at compile time | untyped | `ServerToClientEvents` / `ClientToServerEvents` |
/// | `path` | string, the engine path | `"/socket.io/"` | `path` |
/// | `ping_interval` | milliseconds (`25000`) or a string with a unit (`"25s"`, `"500ms"`, `"2m"`, `"1h"`) | 25 s | `pingInterval` |
/// | `ping_timeout` | as `ping_interval` | 20 s | `pingTimeout` |
/// | `max_payload` | bytes (`1_000_000`) | 1 000 000 | `maxHttpBufferSize` |
/// | `max_buffered_bytes` | bytes a slow client may have queued unsent | 8 MiB | — |
/// | `transports` | `"websocket"`, `"polling"` or a list of them | both | `transports` |
/// | `cors` | `"*"`/`true` (any origin), one origin, or a list of origins | no CORS headers | `cors: { origin }` |
/// | `credentials` | `bool`, CORS `Access-Control-Allow-Credentials` | `false` | `cors: { credentials }` |
///
/// Engine options (`path`, `ping_*`, `max_*`, `transports`, `cors`, `credentials`) apply
/// to the one server all gateways share: two gateways setting different values is a
/// startup error naming both. The rest of socket.io's options are on
/// `App::builder().socketio(|io| ..)`.
///
/// # Fields
///
/// - `Arc<T>`: injected from the providers (`constructor(private chat: ChatService)`);
///   a missing provider fails at startup, naming the type and who needed it.
/// - `#[websocket_server] io: SocketIo` (or `Namespace` for the gateway's own namespace,
///   not with a regex namespace): NestJS's `@WebSocketServer() server`.
/// - `#[default] field: T`: built with `Default`.
///
/// # Enhancers and hooks
///
/// `#[use_guards]`, `#[use_connection_guards]`, `#[use_pipes]`, `#[use_interceptors]`,
/// `#[use_filters]`, `#[set_metadata]`, `#[throttle]`, `#[skip_throttle]` go on the struct
/// (every handler) or on a handler. Lifecycle hooks are trait impls: `OnGatewayInit`
/// (`afterInit`), `OnGatewayConnection` (`handleConnection`), `OnGatewayDisconnect`
/// (`handleDisconnect`). A service reaches the gateway through `GatewayRef<G>`.
///
/// ```
/// use gateway_runtime::prelude::*;
///
/// #[injectable]
/// struct ChatService;
///
/// #[gateway(namespace = "/chat", cors = "*", ping_interval = "10s", transports = "websocket")]
/// struct ChatGateway {
///     #[websocket_server]
///     io: SocketIo,
///     chat: Arc<ChatService>,
/// }
///
/// #[gateway]
/// impl ChatGateway {
///     #[subscribe_message("ping")]
///     fn ping(&self) -> &'static str {
///         "pong"
///     }
/// }
/// # let _ = App::builder().provider_type::<ChatService>().gateway::<ChatGateway>();
/// ```
#[proc_macro_attribute]
pub fn gateway(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let item2 = proc_macro2::TokenStream::from(item.clone());
    match syn::parse2::<syn::Item>(item2.clone()) {
        Ok(syn::Item::Struct(s)) => gateway_struct::expand(attr, s).into(),
        Ok(syn::Item::Impl(i)) => gateway_impl::expand(attr, i).into(),
        Ok(other) => {
            let err = syn::Error::new_spanned(
                &other,
                "`#[gateway]` goes on a struct (with options) and on its impl block",
            )
            .to_compile_error();
            quote!(#item2 #err).into()
        }
        Err(e) => {
            let err = e.to_compile_error();
            quote!(#item2 #err).into()
        }
    }
}

/// Declares a namespace's events once (socket.io's typed `ServerToClientEvents` /
/// `ClientToServerEvents`): on a trait whose functions are the events. The trait becomes a
/// unit struct that a gateway names with `#[gateway(events = ChatEvents)]`, that emits the
/// server events with their payload types (`ChatEvents::emit(&socket).new_message(&m)`),
/// and that `gateway_runtime::events::typescript` / `asyncapi` turn into TypeScript and an
/// AsyncAPI 3.0 document.
///
/// # Options (`#[socket_events(..)]`)
///
/// | option | type | default | meaning |
/// |---|---|---|---|
/// | `namespace` | string starting with `/` | `"/"` | the namespace; a gateway with a literal namespace must name the same |
/// | `ack_errors` | flag, or `bool` | `false` | errors reach the client's ack callback (the gateway's `ack_errors`): acks are typed `T \| ErrorResponse` |
///
/// # Events
///
/// - `#[client("name")] fn method(arg: A, ..) -> Ack;` — the client emits `"name"`; the
///   return type, when there is one, is the acknowledgement. A gateway handler of `"name"`
///   must take the body as declared (one argument: `A`; several: the tuple `(A, B)`) and
///   return `Ack` (or `Option<Ack>`, `Result<Ack, E>`), else it does not compile.
/// - `#[server("name")] fn method(arg: A, ..);` — the server emits `"name"`: the emitter
///   gets `method(&self, arg: &A, ..)`, for a socket, a room or a namespace.
/// - `#[server("name")] fn method(arg: A, ..) -> Ack;` — the client acknowledges it: the
///   emitter of one socket gets `async fn method(&self, arg: &A, .., timeout: Duration)
///   -> Result<Ack, EmitAckError>` (`Ack: DeserializeOwned`).
///
/// Doc comments become the TypeScript and AsyncAPI descriptions. Payload types derive
/// `serde`'s traits, `ts_rs::TS` and `schemars::JsonSchema` (serde renames are honoured by
/// both). A handler subscribed to an undeclared event, a body or acknowledgement of another
/// type, and an emit of an undeclared event or payload are compile errors.
///
/// ```
/// use gateway_runtime::prelude::*;
///
/// #[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
/// pub struct Said { pub text: String }
///
/// /// The events of the default namespace.
/// #[socket_events]
/// pub trait EchoEvents {
///     /// Says something; the acknowledgement is how many bytes were read.
///     #[client("say")]
///     fn say(said: Said) -> usize;
///     /// What someone said.
///     #[server("said")]
///     fn said(said: Said);
/// }
///
/// #[gateway(events = EchoEvents)]
/// struct Echo;
///
/// #[gateway]
/// impl Echo {
///     #[subscribe_message("say")]
///     fn say(&self, #[message_body] said: Said, #[connected_socket] client: Socket) -> usize {
///         let _ = EchoEvents::emit(&client.broadcast()).said(&said);
///         said.text.len()
///     }
/// }
/// # let _ = App::builder().gateway::<Echo>();
/// ```
#[proc_macro_attribute]
pub fn socket_events(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2 = proc_macro2::TokenStream::from(item);
    match syn::parse2::<syn::ItemTrait>(item2.clone()) {
        Ok(t) => socket_events::expand(attr.into(), t).into(),
        Err(_) => {
            let err = syn::Error::new_spanned(
                &item2,
                "`#[socket_events]` goes on a trait whose functions are the events",
            )
            .to_compile_error();
            quote!(#err).into()
        }
    }
}

/// Makes a struct a provider built by the container (NestJS's `@Injectable`): its `Arc<T>`
/// fields are injected, `#[default]` fields use `Default`. Register it with
/// `App::builder().provider_type::<T>()`; guards, pipes, interceptors and filters named by
/// type in `#[use_*]` must be `#[injectable]` (or given as instances).
///
/// ```
/// use gateway_runtime::prelude::*;
///
/// struct Config { greeting: String }
///
/// #[injectable]
/// struct Greeter {
///     config: Arc<Config>,
///     #[default]
///     greeted: std::sync::atomic::AtomicU64,
/// }
/// # let _ = App::builder().provider(Config { greeting: "hi".into() }).provider_type::<Greeter>();
/// ```
#[proc_macro_attribute]
pub fn injectable(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2 = proc_macro2::TokenStream::from(item);
    match syn::parse2::<syn::ItemStruct>(item2.clone()) {
        Ok(s) => injectable::expand(attr.into(), s).into(),
        Err(_) => {
            let err = syn::Error::new_spanned(&item2, "`#[injectable]` goes on a struct")
                .to_compile_error();
            quote!(#item2 #err).into()
        }
    }
}

fn misplaced(what: &str, item: TokenStream) -> TokenStream {
    let item2 = proc_macro2::TokenStream::from(item);
    let msg = format!("`#[{what}]` is read by `#[gateway]`: put `#[gateway]` on the impl block (for handlers) or above this attribute on the gateway struct");
    let err = syn::Error::new_spanned(&item2, msg).to_compile_error();
    quote!(#item2 #err).into()
}

/// Re-attaches an enhancer attribute below `#[gateway]` when it was written above it.
fn reorder(name: &str, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr2 = proc_macro2::TokenStream::from(attr);
    let item2 = proc_macro2::TokenStream::from(item.clone());
    let Ok(mut s) = syn::parse2::<syn::ItemStruct>(item2) else {
        return misplaced(name, item);
    };
    let Some(pos) = s.attrs.iter().position(|a| a.path().is_ident("gateway")) else {
        return misplaced(name, item);
    };
    let ident = syn::Ident::new(name, proc_macro2::Span::call_site());
    let parsed: syn::Attribute = syn::parse_quote!(#[#ident(#attr2)]);
    s.attrs.insert(pos + 1, parsed);
    quote!(#s).into()
}

/// Marks a handler of event `"name"` in a `#[gateway]` impl block (NestJS's
/// `@SubscribeMessage('name')`). The method may be `async`; it takes `&self` and any of
/// these parameters, each marked with what it receives:
///
/// | parameter | receives | NestJS |
/// |---|---|---|
/// | `#[message_body] body: T` | the first argument deserialized into `T` (`serde`); when the client sent several, all of them as an array (a tuple or `Vec<T>`); pipes (`ValidationPipe`) run on it | `@MessageBody()` |
/// | `#[message_body("field")] v: T` | one property of the first argument | `@MessageBody('field')` |
/// | `#[message_body(index = 1)] v: T` | argument `index` (`usize`, 0 is the first) of `socket.emit("event", a, b)`; `#[message_body("field", index = 1)]` for one of its properties; a missing argument reads as `null` (use an `Option`) | — |
/// | `#[connected_socket] client: Socket` | the client's socket (`client.id()`, `client.join(..)`, `client.emit(..)`, `client.recovered()`) | `@ConnectedSocket()` |
/// | `#[ack] ack: AckSender` or `Option<AckSender>` | the acknowledgement callback, to answer with several arguments or none (`ack.send(&(a, b))`, `ack.send(&())`); the return value then sends nothing | the ack callback |
/// | `#[event_name] name: String` | the event's name | — |
/// | `#[handshake] h: Handshake` | the connection's handshake (headers, query, auth) | `client.handshake` |
/// | `#[claims] user: T` | the JWT claims `JwtGuard` verified, deserialized into `T` | `client.data.user` set by an auth guard |
/// | `#[context] ctx: ExecutionContext` | the execution context (all arguments, metadata, socket) | `ExecutionContext` |
///
/// The return value is the acknowledgement (one argument; `()` and `None` send nothing),
/// `Arguments((a, b))` acknowledges with several arguments (`Arguments(())` with none),
/// `WsResponse { event, data }` emits an event instead, `ReplyStream` emits several, and
/// `Err(e)` goes to the exception filters (the client gets the `exception` event).
///
/// ```
/// use gateway_runtime::prelude::*;
/// use gateway_runtime::socketio::Socket;
///
/// #[derive(Deserialize, Validate)]
/// struct Join {
///     #[validate(length(min = 1, max = 32))]
///     room: String,
/// }
///
/// #[gateway(namespace = "/chat")]
/// struct Rooms;
///
/// #[gateway]
/// impl Rooms {
///     #[subscribe_message("join")]
///     #[use_pipes(ValidationPipe)]
///     fn join(&self, #[message_body] body: Join, #[connected_socket] client: Socket) -> bool {
///         client.join(body.room);
///         true
///     }
/// }
/// # let _ = App::builder().gateway::<Rooms>();
/// ```
#[proc_macro_attribute]
pub fn subscribe_message(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("subscribe_message", item)
}

/// Guards for a gateway or a handler (NestJS's `@UseGuards`): types built by the container
/// (`#[use_guards(JwtGuard, RolesGuard)]`) or instance expressions
/// (`#[use_guards(RolesGuard::new("admin"))]`). A guard refusing a message sends the
/// client `exception` "Forbidden resource", as NestJS does.
#[proc_macro_attribute]
pub fn use_guards(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_guards", attr, item)
}

/// Guards run once per connection, before `handle_connection` (gateway struct only): a
/// refusal is the client's `connect_error`. NestJS has no counterpart (it runs guards per
/// message; authentication at connection is middleware there).
#[proc_macro_attribute]
pub fn use_connection_guards(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_connection_guards", attr, item)
}

/// Pipes for a gateway or a handler (NestJS's `@UsePipes`), e.g.
/// `#[use_pipes(ValidationPipe)]`: they run on each `#[message_body]` parameter.
#[proc_macro_attribute]
pub fn use_pipes(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_pipes", attr, item)
}

/// Interceptors for a gateway or a handler (NestJS's `@UseInterceptors`): around the
/// handler, they can change its result or time it.
#[proc_macro_attribute]
pub fn use_interceptors(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_interceptors", attr, item)
}

/// Exception filters for a gateway or a handler (NestJS's `@UseFilters`): they turn an
/// error into what the client receives.
#[proc_macro_attribute]
pub fn use_filters(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_filters", attr, item)
}

/// Metadata (`key = value`, values as JSON literals or arrays) readable by guards through
/// `ExecutionContext::metadata` (NestJS's `@SetMetadata`, read with `Reflector`):
/// `#[set_metadata(roles = ["admin"])]`.
#[proc_macro_attribute]
pub fn set_metadata(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("set_metadata", attr, item)
}

/// Rate limits for a gateway or a handler, enforced by the `Throttler` guard
/// (`@nestjs/throttler`'s `@Throttle`): `#[throttle(limit = 5, ttl = 1000)]` (hits per
/// window; `ttl` in milliseconds) sets the limit named `default`;
/// `#[throttle(short(limit = 3, ttl = 1000), long(limit = 100, ttl = 60000))]` sets named
/// ones. A handler's value for a name wins over its gateway's, which wins over the
/// `Throttler`'s own.
#[proc_macro_attribute]
pub fn throttle(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("throttle", attr, item)
}

/// No rate limit for this gateway or handler (`@nestjs/throttler`'s `@SkipThrottle`):
/// `#[skip_throttle]` skips every limit, `#[skip_throttle(short)]` the named ones.
#[proc_macro_attribute]
pub fn skip_throttle(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("skip_throttle", attr, item)
}
