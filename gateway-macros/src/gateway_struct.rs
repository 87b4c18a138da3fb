//! `#[gateway(..)]` on a struct: options, injected fields, enhancers, hooks.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemStruct, Lit, Meta, Token};

use crate::ctxt::Ctxt;
use crate::enhancers;
use crate::fields::{wire, Wiring};

fn options(cx: &Ctxt, attr: TokenStream) -> TokenStream {
    let p = quote!(::gateway_runtime::__private);
    let mut sets = Vec::new();
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let list = match syn::parse::Parser::parse2(parser, attr) {
        Ok(l) => l,
        Err(e) => {
            cx.push(e);
            return quote!(#p::GatewayOptions::default());
        }
    };
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
            "path" => sets.push(quote!(o.path = ::std::option::Option::Some(::std::string::String::from(#v));)),
            "ping_interval" => sets.push(quote!(o.ping_interval = ::std::option::Option::Some(::std::time::Duration::from_millis(#v));)),
            "ping_timeout" => sets.push(quote!(o.ping_timeout = ::std::option::Option::Some(::std::time::Duration::from_millis(#v));)),
            "max_payload" => sets.push(quote!(o.max_payload = ::std::option::Option::Some(#v);)),
            "max_buffered_bytes" => sets.push(quote!(o.max_buffered_bytes = ::std::option::Option::Some(#v);)),
            "transports" | "cors" => {
                let Expr::Array(arr) = v else {
                    cx.error(v, format!("`{key}` is a list of strings, e.g. `{key} = [\"websocket\"]`"));
                    continue;
                };
                if key == "transports" {
                    for e in &arr.elems {
                        match str_lit(e).as_deref() {
                            Some("polling") | Some("websocket") => {}
                            _ => cx.error(e, "a transport is \"polling\" or \"websocket\""),
                        }
                    }
                }
                let items = arr.elems.iter();
                let field = if key == "cors" { quote!(cors_origins) } else { quote!(transports) };
                sets.push(quote!(o.#field = ::std::option::Option::Some(::std::vec![#(::std::string::String::from(#items)),*]);));
            }
            _ => cx.error(
                &nv.path,
                "unknown gateway option; expected one of: namespace, ack_errors, path, ping_interval, ping_timeout, max_payload, max_buffered_bytes, transports, cors",
            ),
        }
    }
    quote!({
        #[allow(unused_mut)]
        let mut o = #p::GatewayOptions::default();
        #(#sets)*
        o
    })
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
    let options = options(&cx, attr);
    if !item.generics.params.is_empty() {
        cx.error(&item.generics, "a gateway cannot be generic");
    }
    let declared = enhancers::read(&cx, &item.attrs, true);
    item.attrs.retain(|a| !enhancers::is_enhancer_attr(a));
    let name = item.ident.clone();
    let name_str = name.to_string();
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
        Some(errors) => quote!(#item #errors),
        None => quote!(#item #generated),
    }
}
