//! `#[injectable]`: a struct whose `Arc<T>` fields are injected providers.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Fields, ItemStruct};

use crate::ctxt::Ctxt;
use crate::fields::{classify, FieldKind};

pub(crate) fn expand(attr: TokenStream, mut item: ItemStruct) -> TokenStream {
    let cx = Ctxt::new();
    if !attr.is_empty() {
        cx.error(&attr, "`#[injectable]` takes no arguments");
    }
    if !item.generics.params.is_empty() {
        cx.error(
            &item.generics,
            "an injectable cannot be generic: the container builds one value per type",
        );
    }
    let name = &item.ident;
    let mut deps = Vec::new();
    let mut inits = Vec::new();
    let mut asserts = Vec::new();
    let unit = matches!(item.fields, Fields::Unit);
    for (i, field) in item.fields.iter_mut().enumerate() {
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
        match classify(&cx, field, false) {
            FieldKind::Provider(ty) => {
                let span = ty.span();
                asserts.push(
                    quote_spanned!(span=> ::gateway_runtime::__private::assert_provider::<#ty>();),
                );
                deps.push(quote!(::gateway_runtime::__private::Dependency::of::<#ty>(#label)));
                inits.push(quote!(#member: container.get::<#ty>()?));
            }
            FieldKind::Default => inits.push(quote!(#member: ::std::default::Default::default())),
            FieldKind::Server => cx.error(
                &field.ty,
                "`#[websocket_server]` is for gateways; inject `Arc<T>` providers here",
            ),
            FieldKind::Invalid => {}
        }
    }
    let construct = if unit {
        quote!(Self)
    } else {
        quote!(Self { #(#inits),* })
    };
    let generated = quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            #[automatically_derived]
            impl ::gateway_runtime::__private::Injectable for #name {
                fn dependencies() -> ::std::vec::Vec<::gateway_runtime::__private::Dependency> {
                    ::std::vec![#(#deps),*]
                }
                fn construct(
                    container: &::gateway_runtime::__private::Container,
                ) -> ::std::result::Result<Self, ::gateway_runtime::__private::DiError> {
                    #(#asserts)*
                    ::std::result::Result::Ok(#construct)
                }
            }
        };
    };
    match cx.check() {
        Some(errors) => quote!(#item #errors),
        None => quote!(#item #generated),
    }
}
