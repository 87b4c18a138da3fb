//! `#[socket_events]` on a trait: a namespace's declared events.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprLit, FnArg, ItemTrait, Lit, LitStr, Meta, Pat, ReturnType, Token,
    TraitItem, Type,
};

use crate::ctxt::Ctxt;

/// One declared event.
struct Event {
    name: LitStr,
    client: bool,
    method: syn::Ident,
    docs: Vec<Attribute>,
    doc: String,
    params: Vec<(syn::Ident, Type)>,
    ack: Option<Type>,
}

struct Options {
    namespace: LitStr,
    ack_errors: bool,
}

fn options(cx: &Ctxt, attr: TokenStream) -> Options {
    let mut out = Options {
        namespace: LitStr::new("/", proc_macro2::Span::call_site()),
        ack_errors: false,
    };
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let list = match syn::parse::Parser::parse2(parser, attr) {
        Ok(l) => l,
        Err(e) => {
            cx.push(e);
            return out;
        }
    };
    for meta in list {
        match &meta {
            Meta::Path(p) if p.is_ident("ack_errors") => out.ack_errors = true,
            Meta::NameValue(nv) if nv.path.is_ident("namespace") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) if s.value().starts_with('/') => out.namespace = s.clone(),
                other => cx.error(
                    other,
                    "`namespace` is a string starting with `/`: \"/chat\"",
                ),
            },
            Meta::NameValue(nv) if nv.path.is_ident("ack_errors") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => out.ack_errors = b.value,
                other => cx.error(other, "`ack_errors` is `true` or `false`"),
            },
            other => cx.error(
                other,
                "unknown option; expected `namespace = \"/chat\"` or `ack_errors`",
            ),
        }
    }
    out
}

/// `#[client("name")]` or `#[server("name")]`: (is client, name).
fn direction(
    cx: &Ctxt,
    attrs: &[Attribute],
    span_of: &impl quote::ToTokens,
) -> Option<(bool, LitStr)> {
    let mut found = None;
    for attr in attrs {
        let client = attr.path().is_ident("client");
        if !client && !attr.path().is_ident("server") {
            continue;
        }
        if found.is_some() {
            cx.error(
                attr,
                "an event is either `#[client(..)]` or `#[server(..)]`, once",
            );
            continue;
        }
        match attr.parse_args::<LitStr>() {
            Ok(name) if name.value().is_empty() => cx.error(&name, "an event name is not empty"),
            Ok(name) => found = Some((client, name)),
            Err(_) => cx.error(attr, "write the event name: `#[client(\"join\")]`"),
        }
    }
    if found.is_none() {
        cx.error(
            span_of,
            "mark the event with `#[client(\"name\")]` (the client emits it) or `#[server(\"name\")]` (the server does)",
        );
    }
    found
}

fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(nv) = &attr.meta {
            if nv.path.is_ident("doc") {
                if let Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) = &nv.value
                {
                    lines.push(s.value().trim().to_string());
                }
            }
        }
    }
    lines.join(" ").trim().to_string()
}

fn event(cx: &Ctxt, item: &TraitItem) -> Option<Event> {
    let TraitItem::Fn(f) = item else {
        cx.error(item, "a `#[socket_events]` trait holds only event declarations: `#[client(\"join\")] fn join(body: Join) -> Ack;`");
        return None;
    };
    let (client, name) = direction(cx, &f.attrs, &f.sig.ident)?;
    if let Some(body) = &f.default {
        cx.error(body, "an event declaration has no body: end it with `;`");
    }
    if !f.sig.generics.params.is_empty() {
        cx.error(&f.sig.generics, "an event declaration cannot be generic");
    }
    if let Some(a) = &f.sig.asyncness {
        cx.error(a, "an event declaration is not `async`: write its acknowledgement type as the return type");
    }
    let mut params = Vec::new();
    for input in &f.sig.inputs {
        match input {
            FnArg::Receiver(r) => cx.error(
                r,
                "an event declaration takes no `self`: list the payload arguments",
            ),
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(id) => params.push((id.ident.clone(), (*pt.ty).clone())),
                other => cx.error(other, "name each argument: `message: Message`"),
            },
        }
    }
    let ack = match &f.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    let docs = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    Some(Event {
        name,
        client,
        method: f.sig.ident.clone(),
        doc: doc_text(&f.attrs),
        docs,
        params,
        ack,
    })
}

pub(crate) fn expand(attr: TokenStream, item: ItemTrait) -> TokenStream {
    let cx = Ctxt::new();
    let p = quote!(::gateway_runtime::__private);
    let opts = options(&cx, attr);
    if !item.generics.params.is_empty() {
        cx.error(
            &item.generics,
            "a `#[socket_events]` trait cannot be generic",
        );
    }
    let events: Vec<Event> = item.items.iter().filter_map(|i| event(&cx, i)).collect();
    let mut seen: HashMap<(bool, String), ()> = HashMap::new();
    for e in &events {
        if seen.insert((e.client, e.name.value()), ()).is_some() {
            cx.error(
                &e.name,
                format!(
                    "event \"{}\" is declared twice in this direction",
                    e.name.value()
                ),
            );
        }
    }
    let name = &item.ident;
    let vis = &item.vis;
    let name_str = name.to_string();
    let type_docs: Vec<&Attribute> = item
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let emitter = format_ident!("{}Emitter", name);
    let namespace = &opts.namespace;
    let ack_errors = opts.ack_errors;

    let docs = events.iter().map(|e| {
        let ev = &e.name;
        let doc = &e.doc;
        let direction = if e.client {
            quote!(#p::Direction::ClientToServer)
        } else {
            quote!(#p::Direction::ServerToClient)
        };
        let params = e.params.iter().map(|(id, ty)| {
            let id = id.to_string();
            let id = id.trim_start_matches("r#");
            quote_spanned!(ty.span()=> (#id, #p::TypeDesc::of::<#ty>()))
        });
        let ack = match &e.ack {
            Some(ty) => {
                quote_spanned!(ty.span()=> ::std::option::Option::Some(#p::TypeDesc::of::<#ty>()))
            }
            None => quote!(::std::option::Option::None),
        };
        quote! {
            #p::EventDoc {
                name: #ev,
                direction: #direction,
                doc: #doc,
                params: ::std::vec![#(#params),*],
                ack: #ack,
            }
        }
    });

    let client_impls = events.iter().filter(|e| e.client).map(|e| {
        let ev = &e.name;
        let body = match e.params.as_slice() {
            [] => quote!(()),
            [(_, ty)] => quote!(#ty),
            many => {
                let tys = many.iter().map(|(_, t)| t);
                quote!((#(#tys,)*))
            }
        };
        let ack = match &e.ack {
            Some(ty) => quote!(#ty),
            None => quote!(()),
        };
        quote! {
            impl #p::HasClientEvent<{ #p::event_key(#ev) }> for #name {
                type Body = #p::Exactly<#body>;
                type Ack = #p::Exactly<#ack>;
            }
        }
    });

    let emit_methods = events
        .iter()
        .filter(|e| !e.client && e.ack.is_none())
        .map(|e| {
            let ev = &e.name;
            let method = &e.method;
            let docs = &e.docs;
            let args = e
                .params
                .iter()
                .map(|(id, ty)| quote_spanned!(ty.span()=> #id: &#ty));
            let ids = e.params.iter().map(|(id, _)| id);
            let see = format!("Emits `\"{}\"`.", ev.value());
            quote! {
                #(#docs)*
                #[doc = ""]
                #[doc = #see]
                #vis fn #method(&self, #(#args),*) -> ::std::result::Result<(), #p::EmitError> {
                    #p::EmitTarget::emit_event(self.0, #ev, &(#(#ids,)*))
                }
            }
        });

    let acked_methods = events.iter().filter(|e| !e.client && e.ack.is_some()).map(|e| {
        let ev = &e.name;
        let method = &e.method;
        let docs = &e.docs;
        let ack = e.ack.as_ref().map(|t| quote!(#t));
        let args = e.params.iter().map(|(id, ty)| quote_spanned!(ty.span()=> #id: &#ty));
        let ids = e.params.iter().map(|(id, _)| id);
        let see = format!(
            "Emits `\"{}\"` to this socket and waits up to `timeout` for the client's acknowledgement, read as the declared type.",
            ev.value()
        );
        quote! {
            #(#docs)*
            #[doc = ""]
            #[doc = #see]
            #vis async fn #method(
                &self,
                #(#args,)*
                timeout: ::std::time::Duration,
            ) -> ::std::result::Result<#ack, #p::EmitAckError> {
                let answer = self.0.emit_with_ack(#ev, &(#(#ids,)*), timeout).await.map_err(#p::EmitAckError::Ack)?;
                answer.get::<#ack>(0).map_err(#p::EmitAckError::Decode)
            }
        }
    });

    let emitter_doc = format!(
        "The server events of [`{name_str}`], emitted to a socket, a room or a namespace: `{name_str}::emit(&socket).event(..)`. An undeclared event or a wrong payload does not compile."
    );
    let generated = quote! {
        #(#type_docs)*
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        #[doc = #emitter_doc]
        #vis struct #emitter<'a, T: ?Sized>(&'a T);

        impl #name {
            /// The typed emitter of the declared server events, for `target` (a
            /// `Socket`, `socket.to("room")`, a `Namespace`).
            #vis fn emit<T: #p::EmitTarget + ?Sized>(target: &T) -> #emitter<'_, T> {
                #emitter(target)
            }
        }

        #[allow(clippy::all)]
        impl<'a, T: #p::EmitTarget + ?Sized> #emitter<'a, T> {
            #(#emit_methods)*
        }

        /// Server events the client acknowledges: to one socket.
        #[allow(clippy::all)]
        impl<'a> #emitter<'a, #p::Socket> {
            #(#acked_methods)*
        }

        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            impl #p::EventMap for #name {
                const NAME: &'static str = #name_str;
                const NAMESPACE: &'static str = #namespace;
                const ACK_ERRORS: bool = #ack_errors;
                fn events() -> ::std::vec::Vec<#p::EventDoc> {
                    ::std::vec![#(#docs),*]
                }
            }
            #(#client_impls)*
        };
    };
    match cx.check() {
        Some(errors) => quote! {
            #(#type_docs)*
            #vis struct #name;
            #errors
        },
        None => generated,
    }
}
