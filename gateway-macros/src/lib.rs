//! Attribute macros of the gateway framework; use them through `gateway_runtime::prelude`.
//!
//! Each macro parses its input, checks it (collecting every mistake with its span), then
//! generates a trait implementation and a static registration; nothing is looked up at run
//! time. See `gateway_runtime::app` for what the generated code plugs into.

mod ctxt;
mod enhancers;
mod fields;
mod gateway_impl;
mod gateway_struct;
mod injectable;

use proc_macro::TokenStream;
use quote::quote;

/// Declares a gateway. On a struct: `#[gateway(namespace = "/chat", ...)]`, whose `Arc<T>`
/// fields are injected and whose `#[websocket_server]` field receives the server handle. On
/// the struct's impl block: `#[gateway]`, collecting its `#[subscribe_message]` handlers.
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

/// Makes a struct a provider built by the container: its `Arc<T>` fields are injected,
/// `#[default]` fields use `Default`.
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

/// Marks a handler of event `"name"` in a `#[gateway]` impl block.
#[proc_macro_attribute]
pub fn subscribe_message(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("subscribe_message", item)
}

/// Guards (types built by the container, or instances) for a gateway or a handler.
#[proc_macro_attribute]
pub fn use_guards(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_guards", attr, item)
}

/// Guards run once per connection, before `handle_connection` (gateway struct only).
#[proc_macro_attribute]
pub fn use_connection_guards(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_connection_guards", attr, item)
}

/// Pipes for a gateway or a handler.
#[proc_macro_attribute]
pub fn use_pipes(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_pipes", attr, item)
}

/// Interceptors for a gateway or a handler.
#[proc_macro_attribute]
pub fn use_interceptors(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_interceptors", attr, item)
}

/// Exception filters for a gateway or a handler.
#[proc_macro_attribute]
pub fn use_filters(attr: TokenStream, item: TokenStream) -> TokenStream {
    reorder("use_filters", attr, item)
}

/// Metadata (`key = value`) readable by guards through `ExecutionContext::metadata`.
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
