//! `#[injectable]`: a struct whose `Arc<T>` fields are injected providers.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemStruct;

use crate::ctxt::Ctxt;
use crate::fields::{wire, Wiring};

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
    let Wiring {
        deps,
        asserts,
        construct,
    } = wire(&cx, &mut item.fields, None);
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
