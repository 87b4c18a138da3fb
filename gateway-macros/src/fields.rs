//! Field roles in `#[injectable]` and `#[gateway]` structs.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Field, Fields, GenericArgument, PathArguments, Type};

use crate::ctxt::Ctxt;

pub(crate) enum FieldKind {
    /// `Arc<T>`: injected.
    Provider(Box<Type>),
    /// `#[default]`: `Default::default()`.
    Default,
    /// `#[websocket_server]`.
    Server,
    /// An error was reported.
    Invalid,
}

/// The `T` of `Arc<T>` (also `std::sync::Arc<T>`).
pub(crate) fn arc_inner(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Arc" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t.clone()),
        _ => None,
    }
}

/// Classifies a field and strips our attributes from it.
pub(crate) fn classify(cx: &Ctxt, field: &mut Field, allow_server: bool) -> FieldKind {
    let mut server = false;
    let mut default = false;
    field.attrs.retain(|a| {
        if a.path().is_ident("websocket_server") {
            server = true;
            false
        } else if a.path().is_ident("default") {
            default = true;
            false
        } else {
            true
        }
    });
    if server {
        if !allow_server {
            cx.error(
                &field.ty,
                "`#[websocket_server]` only works in a `#[gateway]` struct",
            );
            return FieldKind::Invalid;
        }
        return FieldKind::Server;
    }
    if default {
        return FieldKind::Default;
    }
    match arc_inner(&field.ty) {
        Some(inner) => FieldKind::Provider(Box::new(inner)),
        None => {
            let hint = if allow_server {
                "a gateway field is an injected provider: write `Arc<T>`; mark the server handle `#[websocket_server]` and other fields `#[default]`"
            } else {
                "an injectable's field is an injected provider: write `Arc<T>`, or mark it `#[default]` to build it with `Default`"
            };
            cx.error(&field.ty, hint);
            FieldKind::Invalid
        }
    }
}

/// The generated pieces for a struct whose fields are injected.
pub(crate) struct Wiring {
    /// `Dependency::of::<T>("field")` for each provider field.
    pub(crate) deps: Vec<TokenStream>,
    /// Span-carrying checks that each provider is `Send + Sync`.
    pub(crate) asserts: Vec<TokenStream>,
    /// `Self { .. }` (or `Self` for a unit struct), reading from `container`.
    pub(crate) construct: TokenStream,
}

/// Classifies every field; `server` gives the initializer of a `#[websocket_server]` field
/// (`None` where such a field is not allowed).
pub(crate) fn wire(
    cx: &Ctxt,
    fields: &mut Fields,
    server: Option<&dyn Fn(&Type) -> TokenStream>,
) -> Wiring {
    let p = quote!(::gateway_runtime::__private);
    let unit = matches!(fields, Fields::Unit);
    let (mut deps, mut inits, mut asserts) = (Vec::new(), Vec::new(), Vec::new());
    for (i, field) in fields.iter_mut().enumerate() {
        let member = match &field.ident {
            Some(id) => quote!(#id),
            None => {
                let idx = syn::Index::from(i);
                quote!(#idx)
            }
        };
        let label = field
            .ident
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_else(|| i.to_string());
        match classify(cx, field, server.is_some()) {
            FieldKind::Provider(ty) => {
                let span = ty.span();
                asserts.push(quote_spanned!(span=> #p::assert_provider::<#ty>();));
                deps.push(quote!(#p::Dependency::of::<#ty>(#label)));
                inits.push(quote!(#member: container.get::<#ty>()?));
            }
            FieldKind::Default => inits.push(quote!(#member: ::std::default::Default::default())),
            FieldKind::Server => {
                if let Some(init) = server {
                    let value = init(&field.ty);
                    inits.push(quote!(#member: #value));
                }
            }
            FieldKind::Invalid => {}
        }
    }
    let construct = if unit {
        quote!(Self)
    } else {
        quote!(Self { #(#inits),* })
    };
    Wiring {
        deps,
        asserts,
        construct,
    }
}
