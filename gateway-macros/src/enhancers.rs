//! `#[use_guards(..)]`, `#[use_pipes(..)]`, `#[use_interceptors(..)]`, `#[use_filters(..)]`,
//! `#[use_connection_guards(..)]`, `#[set_metadata(key = value)]`, `#[throttle(..)]` and
//! `#[skip_throttle]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Meta, Token};

use crate::ctxt::Ctxt;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Guards,
    ConnectionGuards,
    Pipes,
    Interceptors,
    Filters,
}

impl Kind {
    pub(crate) fn from_attr(attr: &Attribute) -> Option<Kind> {
        let ident = attr.path().get_ident()?.to_string();
        Some(match ident.as_str() {
            "use_guards" => Kind::Guards,
            "use_connection_guards" => Kind::ConnectionGuards,
            "use_pipes" => Kind::Pipes,
            "use_interceptors" => Kind::Interceptors,
            "use_filters" => Kind::Filters,
            _ => return None,
        })
    }
}

/// Enhancers and metadata read from one item's attributes.
#[derive(Default)]
pub(crate) struct Declared {
    pub(crate) guards: Vec<Expr>,
    pub(crate) connection_guards: Vec<Expr>,
    pub(crate) pipes: Vec<Expr>,
    pub(crate) interceptors: Vec<Expr>,
    pub(crate) filters: Vec<Expr>,
    pub(crate) metadata: Vec<(String, Expr)>,
    /// `#[throttle(..)]` / `#[skip_throttle]`: metadata written as `json!` input.
    pub(crate) json_metadata: Vec<(String, TokenStream)>,
}

pub(crate) fn is_enhancer_attr(attr: &Attribute) -> bool {
    Kind::from_attr(attr).is_some()
        || attr.path().is_ident("set_metadata")
        || attr.path().is_ident("throttle")
        || attr.path().is_ident("skip_throttle")
}

const THROTTLE_HELP: &str = "write `#[throttle(limit = 5, ttl = 1000)]` (ttl in milliseconds) or name the limits: `#[throttle(short(limit = 3, ttl = 1000), long(limit = 100, ttl = 60000))]`";

/// One `limit = .., ttl = ..` list as `json!` input.
fn throttle_limit(
    cx: &Ctxt,
    span: &dyn quote::ToTokens,
    items: &Punctuated<Meta, Token![,]>,
) -> Option<TokenStream> {
    let (mut limit, mut ttl) = (None, None);
    for item in items {
        match item {
            Meta::NameValue(nv) if nv.path.is_ident("limit") => limit = Some(nv.value.clone()),
            Meta::NameValue(nv) if nv.path.is_ident("ttl") => ttl = Some(nv.value.clone()),
            other => {
                cx.error(other, format!("unknown throttle setting; {THROTTLE_HELP}"));
                return None;
            }
        }
    }
    for (what, value) in [("limit", &limit), ("ttl", &ttl)] {
        let Some(value) = value else { continue };
        let problem = match value {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => match i.base10_parse::<u64>() {
                Ok(0) if what == "ttl" => Some("it is longer than zero (milliseconds)"),
                Ok(_) => None,
                Err(_) => Some("a whole number of at most u64::MAX"),
            },
            Expr::Lit(_) => Some("a whole number"),
            Expr::Unary(syn::ExprUnary {
                op: syn::UnOp::Neg(_),
                ..
            }) => Some("not negative"),
            _ => None,
        };
        if let Some(problem) = problem {
            cx.error(value, format!("`{what}`: {problem}; {THROTTLE_HELP}"));
            return None;
        }
    }
    match (limit, ttl) {
        (Some(limit), Some(ttl)) => {
            Some(quote!({ "limit": (#limit) as u64, "ttl": (#ttl) as u64 }))
        }
        (None, _) => {
            cx.error(
                span,
                format!("`limit` is missing (hits per window); {THROTTLE_HELP}"),
            );
            None
        }
        (_, None) => {
            cx.error(
                span,
                format!("`ttl` is missing (the window, in milliseconds); {THROTTLE_HELP}"),
            );
            None
        }
    }
}

/// `#[throttle(..)]` as `json!` input: `{ "name": { "limit": .., "ttl": .. }, .. }`.
fn read_throttle(cx: &Ctxt, attr: &Attribute) -> Option<TokenStream> {
    let list = match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(list) if !list.is_empty() => list,
        Ok(_) => {
            cx.error(attr, THROTTLE_HELP);
            return None;
        }
        Err(e) => {
            cx.push(e);
            return None;
        }
    };
    if list.iter().all(|m| matches!(m, Meta::NameValue(_))) {
        let limit = throttle_limit(cx, attr, &list)?;
        return Some(quote!({ "default": #limit }));
    }
    let mut named = Vec::new();
    for meta in &list {
        let Meta::List(l) = meta else {
            cx.error(
                meta,
                format!("either one unnamed limit or named ones; {THROTTLE_HELP}"),
            );
            return None;
        };
        let Some(name) = l.path.get_ident().map(|i| i.to_string()) else {
            cx.error(&l.path, "a limit's name is a plain name, e.g. `short`");
            return None;
        };
        let items = match l.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(items) => items,
            Err(e) => {
                cx.push(e);
                return None;
            }
        };
        let limit = throttle_limit(cx, l, &items)?;
        named.push(quote!(#name: #limit));
    }
    Some(quote!({ #(#named),* }))
}

/// `#[skip_throttle]` (every limit: `true`) or `#[skip_throttle(a, b)]` (those names).
fn read_skip_throttle(cx: &Ctxt, attr: &Attribute) -> Option<TokenStream> {
    let Meta::List(list) = &attr.meta else {
        return Some(quote!(true));
    };
    if list.tokens.is_empty() {
        return Some(quote!(true));
    }
    match list.parse_args_with(Punctuated::<syn::Ident, Token![,]>::parse_terminated) {
        Ok(names) => {
            let names = names.iter().map(|n| n.to_string());
            Some(quote!([#(#names),*]))
        }
        Err(_) => {
            cx.error(list, "write `#[skip_throttle]` (every limit) or `#[skip_throttle(short, long)]` (those limits)");
            None
        }
    }
}

/// Reads (and the caller then removes) the enhancer attributes of an item.
pub(crate) fn read(cx: &Ctxt, attrs: &[Attribute], allow_connection_guards: bool) -> Declared {
    let mut d = Declared::default();
    for attr in attrs {
        if attr.path().is_ident("set_metadata") {
            match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
                Ok(list) => {
                    for meta in list {
                        match meta {
                            Meta::NameValue(nv) => match nv.path.get_ident() {
                                Some(key) => d.metadata.push((key.to_string(), nv.value)),
                                None => cx.error(&nv.path, "metadata keys are plain names: `#[set_metadata(roles = [\"admin\"])]`"),
                            },
                            other => cx.error(other, "write metadata as `key = value`: `#[set_metadata(roles = [\"admin\"])]`"),
                        }
                    }
                }
                Err(e) => cx.push(e),
            }
            continue;
        }
        if attr.path().is_ident("throttle") {
            if let Some(json) = read_throttle(cx, attr) {
                d.json_metadata.push(("__throttle".into(), json));
            }
            continue;
        }
        if attr.path().is_ident("skip_throttle") {
            if let Some(json) = read_skip_throttle(cx, attr) {
                d.json_metadata.push(("__skip_throttle".into(), json));
            }
            continue;
        }
        let Some(kind) = Kind::from_attr(attr) else {
            continue;
        };
        if kind == Kind::ConnectionGuards && !allow_connection_guards {
            cx.error(attr, "`#[use_connection_guards]` goes on the gateway struct: connection guards run once per connection, not per message");
            continue;
        }
        let list = match &attr.meta {
            Meta::List(list) => {
                Punctuated::<Expr, Token![,]>::parse_terminated.parse2(list.tokens.clone())
            }
            other => {
                cx.error(
                    other,
                    "list the enhancers: `#[use_guards(AuthGuard, RolesGuard::new(\"admin\"))]`",
                );
                continue;
            }
        };
        match list {
            Ok(list) if list.is_empty() => cx.error(attr, "this list of enhancers is empty"),
            Ok(list) => {
                let target = match kind {
                    Kind::Guards => &mut d.guards,
                    Kind::ConnectionGuards => &mut d.connection_guards,
                    Kind::Pipes => &mut d.pipes,
                    Kind::Interceptors => &mut d.interceptors,
                    Kind::Filters => &mut d.filters,
                };
                target.extend(list);
            }
            Err(e) => cx.push(e),
        }
    }
    d
}

fn refs(list: &[Expr], by_type: TokenStream, by_value: TokenStream) -> TokenStream {
    let items = list.iter().map(|e| match e {
        // A path names a type: built by the container.
        Expr::Path(p) if p.qself.is_none() => {
            let span = e.span();
            quote_spanned!(span=> #by_type::<#p>())
        }
        // Anything else is an instance.
        other => {
            let span = other.span();
            quote_spanned!(span=> ::gateway_runtime::__private::EnhancerRef::Instance(|| #by_value(#other)))
        }
    });
    quote!(::std::vec![#(#items),*])
}

impl Declared {
    pub(crate) fn enhancers_expr(&self) -> TokenStream {
        let p = quote!(::gateway_runtime::__private);
        let guards = refs(&self.guards, quote!(#p::guard_type), quote!(#p::as_guard));
        let connection_guards = refs(
            &self.connection_guards,
            quote!(#p::guard_type),
            quote!(#p::as_guard),
        );
        let pipes = refs(&self.pipes, quote!(#p::pipe_type), quote!(#p::as_pipe));
        let interceptors = refs(
            &self.interceptors,
            quote!(#p::interceptor_type),
            quote!(#p::as_interceptor),
        );
        let filters = refs(
            &self.filters,
            quote!(#p::filter_type),
            quote!(#p::as_filter),
        );
        quote! {
            #p::Enhancers {
                guards: #guards,
                connection_guards: #connection_guards,
                pipes: #pipes,
                interceptors: #interceptors,
                filters: #filters,
            }
        }
    }

    pub(crate) fn metadata_expr(&self) -> TokenStream {
        let items = self
            .metadata
            .iter()
            .map(|(k, v)| quote!((#k, ::gateway_runtime::__private::json!(#v))))
            .chain(
                self.json_metadata
                    .iter()
                    .map(|(k, v)| quote!((#k, ::gateway_runtime::__private::json!(#v)))),
            );
        quote!(::std::vec![#(#items),*])
    }

    /// Whether `ValidationPipe` (or `ValidationPipe::with(..)`) is among the pipes.
    pub(crate) fn uses_validation_pipe(&self) -> bool {
        self.pipes.iter().any(|e| match e {
            Expr::Path(p) => p
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "ValidationPipe"),
            Expr::Call(call) => match &*call.func {
                Expr::Path(p) => p.path.segments.iter().any(|s| s.ident == "ValidationPipe"),
                _ => false,
            },
            _ => false,
        })
    }
}
