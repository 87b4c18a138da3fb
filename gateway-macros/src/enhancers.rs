//! `#[use_guards(..)]`, `#[use_pipes(..)]`, `#[use_interceptors(..)]`, `#[use_filters(..)]`,
//! `#[use_connection_guards(..)]` and `#[set_metadata(key = value)]`.

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
}

pub(crate) fn is_enhancer_attr(attr: &Attribute) -> bool {
    Kind::from_attr(attr).is_some() || attr.path().is_ident("set_metadata")
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
            .map(|(k, v)| quote!((#k, ::gateway_runtime::__private::json!(#v))));
        quote!(::std::vec![#(#items),*])
    }

    pub(crate) fn uses_validation_pipe(&self) -> bool {
        self.pipes.iter().any(|e| match e {
            Expr::Path(p) => p
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "ValidationPipe"),
            _ => false,
        })
    }
}
