//! `#[gateway(..)]` on a struct: options, injected fields, enhancers, hooks.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemStruct, Lit, Meta, Token};

use crate::ctxt::Ctxt;
use crate::enhancers;
use crate::fields::{wire, Wiring};

/// The gateway options' initializer, and the `events = ..` declaration (with the namespace
/// literal, when there is one, to check it against).
fn options(
    cx: &Ctxt,
    attr: TokenStream,
) -> (TokenStream, Option<(syn::Path, Option<syn::LitStr>)>) {
    let p = quote!(::gateway_runtime::__private);
    let mut sets = Vec::new();
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let list = match syn::parse::Parser::parse2(parser, attr) {
        Ok(l) => l,
        Err(e) => {
            cx.push(e);
            return (quote!(#p::GatewayOptions::default()), None);
        }
    };
    let mut events: Option<syn::Path> = None;
    let mut namespace: Option<syn::LitStr> = None;
    for meta in list {
        let Meta::NameValue(nv) = &meta else {
            cx.error(
                &meta,
                "write gateway options as `name = value`, e.g. `#[gateway(namespace = \"/chat\")]`",
            );
            continue;
        };
        let key = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let v = &nv.value;
        let str_lit = |e: &Expr| match e {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        };
        match key.as_str() {
            "namespace" => match v {
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => {
                    let name = s.value();
                    if !name.starts_with('/') {
                        cx.error(s, format!("a namespace starts with `/`: write \"/{name}\""));
                    }
                    namespace = Some(s.clone());
                    sets.push(quote!(o.namespace = #p::NamespaceSpec::Name(#s.to_string());));
                }
                Expr::Call(call) if matches!(&*call.func, Expr::Path(f) if f.path.is_ident("regex")) => {
                    match call.args.first().and_then(str_lit) {
                        Some(pattern) if call.args.len() == 1 => {
                            if let Err(e) = regex_syntax_check(&pattern) {
                                cx.error(&call.args, format!("invalid regular expression: {e}"));
                            }
                            sets.push(quote!(o.namespace = #p::NamespaceSpec::Regex(#pattern.to_string());));
                        }
                        _ => cx.error(call, "write `namespace = regex(\"^/room-\\\\d+$\")`"),
                    }
                }
                other => cx.error(other, "`namespace` is a string (\"/chat\") or `regex(\"...\")`"),
            },
            "ack_errors" => sets.push(quote!(o.ack_errors = ::std::option::Option::Some(#v);)),
            "events" => match v {
                Expr::Path(path) if path.qself.is_none() => events = Some(path.path.clone()),
                other => cx.error(other, "`events` names a `#[socket_events]` declaration: `events = ChatEvents`"),
            },
            "path" => match str_lit(v) {
                Some(path) if path.starts_with('/') => sets.push(quote!(o.path = ::std::option::Option::Some(::std::string::String::from(#path));)),
                _ => cx.error(v, "`path` is a string starting with `/`, e.g. `path = \"/socket.io/\"`"),
            },
            "ping_interval" | "ping_timeout" => {
                let ms = match v {
                    Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => match duration_ms(&s.value()) {
                        Some(ms) => quote!(#ms),
                        None => {
                            cx.error(s, format!("`{key}` is a duration: milliseconds (`{key} = 25000`) or a string with a unit (`{key} = \"25s\"`, \"500ms\", \"2m\")"));
                            continue;
                        }
                    },
                    Expr::Lit(ExprLit { lit: Lit::Float(f), .. }) => {
                        cx.error(f, format!("`{key}` is whole milliseconds (`{key} = 25000`) or a string with a unit (`\"2.5s\"` is not: write `2500`)"));
                        continue;
                    }
                    other => quote!(#other),
                };
                let field = syn::Ident::new(&key, proc_macro2::Span::call_site());
                sets.push(quote!(o.#field = ::std::option::Option::Some(::std::time::Duration::from_millis(#ms));));
            }
            "max_payload" => sets.push(quote!(o.max_payload = ::std::option::Option::Some(#v);)),
            "max_buffered_bytes" => sets.push(quote!(o.max_buffered_bytes = ::std::option::Option::Some(#v);)),
            "credentials" => match v {
                Expr::Lit(ExprLit { lit: Lit::Bool(b), .. }) => sets.push(quote!(o.cors_credentials = ::std::option::Option::Some(#b);)),
                other => cx.error(other, "`credentials` is `true` or `false` (CORS `Access-Control-Allow-Credentials`)"),
            },
            "transports" | "cors" => {
                // One string, a list of strings, or (cors) `true` for any origin.
                let items: Vec<Expr> = match v {
                    Expr::Array(arr) => arr.elems.iter().cloned().collect(),
                    Expr::Lit(ExprLit { lit: Lit::Str(_), .. }) => vec![v.clone()],
                    Expr::Lit(ExprLit { lit: Lit::Bool(b), .. }) if key == "cors" => {
                        if b.value {
                            vec![syn::parse_quote!("*")]
                        } else {
                            continue;
                        }
                    }
                    _ => {
                        let example = if key == "cors" {
                            "`cors = \"*\"`, `cors = true` or `cors = [\"https://app.example.com\"]`"
                        } else {
                            "`transports = [\"websocket\"]`"
                        };
                        cx.error(v, format!("`{key}` is a string or a list of strings, e.g. {example}"));
                        continue;
                    }
                };
                for e in &items {
                    match (key.as_str(), str_lit(e).as_deref()) {
                        ("transports", Some("polling" | "websocket")) | ("cors", Some(_)) => {}
                        ("transports", _) => cx.error(e, "a transport is \"polling\" or \"websocket\""),
                        _ => cx.error(e, "an origin is a string: \"*\" or \"https://app.example.com\""),
                    }
                }
                let field = if key == "cors" { quote!(cors_origins) } else { quote!(transports) };
                sets.push(quote!(o.#field = ::std::option::Option::Some(::std::vec![#(::std::string::String::from(#items)),*]);));
            }
            _ => cx.error(
                &nv.path,
                "unknown gateway option; expected one of: namespace, events, ack_errors, path, ping_interval, ping_timeout, max_payload, max_buffered_bytes, transports, cors, credentials",
            ),
        }
    }
    let init = quote!({
        #[allow(unused_mut)]
        let mut o = #p::GatewayOptions::default();
        #(#sets)*
        o
    });
    (init, events.map(|e| (e, namespace)))
}

/// Milliseconds of a duration written with a unit: `"25s"`, `"500ms"`, `"2m"`, `"1h"`.
fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn regex_syntax_check(pattern: &str) -> Result<(), String> {
    // Cheap structural check; the runtime compiles the expression at startup.
    let mut depth = 0i32;
    let mut escaped = false;
    for c in pattern.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '(') => depth += 1,
            (false, ')') => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Err("unbalanced `)`".into());
        }
    }
    if depth != 0 {
        return Err("unbalanced `(`".into());
    }
    Ok(())
}

pub(crate) fn expand(attr: TokenStream, mut item: ItemStruct) -> TokenStream {
    let cx = Ctxt::new();
    let p = quote!(::gateway_runtime::__private);
    let (options, events) = options(&cx, attr);
    if !item.generics.params.is_empty() {
        cx.error(&item.generics, "a gateway cannot be generic");
    }
    let declared = enhancers::read(&cx, &item.attrs, true);
    item.attrs.retain(|a| !enhancers::is_enhancer_attr(a));
    let name = item.ident.clone();
    let name_str = name.to_string();
    let events_impl = match &events {
        None => quote!(impl #p::GatewayEvents for #name { type Events = #p::Untyped; }),
        Some((path, namespace)) => {
            let check = namespace.as_ref().map(|ns| {
                quote_spanned!(path.span()=>
                    const _: () = ::std::assert!(
                        #p::same_str(<#path as #p::EventMap>::NAMESPACE, #ns),
                        "the `events` declaration is for another namespace than this gateway's"
                    );
                )
            });
            quote!(
                impl #p::GatewayEvents for #name { type Events = #path; }
                #check
            )
        }
    };
    let server = |ty: &syn::Type| quote!(#p::from_server::<#ty>(io, namespace, #name_str)?);
    let Wiring {
        deps,
        asserts,
        construct,
    } = wire(&cx, &mut item.fields, Some(&server));
    let enhancers = declared.enhancers_expr();
    let metadata = declared.metadata_expr();
    let generated = quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            #events_impl
            #[automatically_derived]
            impl #p::Gateway for #name {
                const NAME: &'static str = #name_str;
                fn options() -> #p::GatewayOptions { #options }
                fn dependencies() -> ::std::vec::Vec<#p::Dependency> { ::std::vec![#(#deps),*] }
                fn construct(
                    container: &#p::Container,
                    io: &#p::SocketIo,
                    namespace: ::std::option::Option<&#p::Namespace>,
                ) -> ::std::result::Result<Self, #p::DiError> {
                    let _ = (&container, &io, &namespace);
                    #(#asserts)*
                    ::std::result::Result::Ok(#construct)
                }
                fn enhancers() -> #p::Enhancers { #enhancers }
                fn metadata() -> ::std::vec::Vec<(&'static str, #p::Value)> { #metadata }
                fn hooks() -> #p::Hooks<Self> {
                    use #p::{ConnNo as _, ConnYes as _, DiscNo as _, DiscYes as _, InitNo as _, InitYes as _};
                    #p::Hooks {
                        after_init: (&&#p::HookProbe::<Self>::new()).init_hook(),
                        connection: (&&#p::HookProbe::<Self>::new()).conn_hook(),
                        disconnect: (&&#p::HookProbe::<Self>::new()).disc_hook(),
                    }
                }
            }
        };
    };
    match cx.check() {
        // With the errors, an impl that type-checks, so that the only messages are the
        // ones above (not a later "`X: Gateway` is not satisfied").
        Some(errors) => quote! {
            #item
            #errors
            #[doc(hidden)]
            const _: () = {
                impl #p::GatewayEvents for #name { type Events = #p::Untyped; }
                impl #p::Gateway for #name {
                    const NAME: &'static str = #name_str;
                    fn options() -> #p::GatewayOptions { ::std::default::Default::default() }
                    fn dependencies() -> ::std::vec::Vec<#p::Dependency> { ::std::vec::Vec::new() }
                    fn construct(
                        _: &#p::Container,
                        _: &#p::SocketIo,
                        _: ::std::option::Option<&#p::Namespace>,
                    ) -> ::std::result::Result<Self, #p::DiError> {
                        ::std::unreachable!()
                    }
                    fn enhancers() -> #p::Enhancers { ::std::default::Default::default() }
                    fn metadata() -> ::std::vec::Vec<(&'static str, #p::Value)> { ::std::vec::Vec::new() }
                    fn hooks() -> #p::Hooks<Self> {
                        #p::Hooks { after_init: None, connection: None, disconnect: None }
                    }
                }
            };
        },
        None => quote!(#item #generated),
    }
}
