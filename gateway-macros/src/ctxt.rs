//! Collects every error of an expansion so the user sees them all at once.

use std::cell::RefCell;

use proc_macro2::TokenStream;
use quote::ToTokens;

pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn error(&self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.errors
            .borrow_mut()
            .push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// The errors as `compile_error!`s, or `None`.
    pub(crate) fn check(self) -> Option<TokenStream> {
        let errors = self.errors.into_inner();
        if errors.is_empty() {
            return None;
        }
        Some(errors.into_iter().map(|e| e.to_compile_error()).collect())
    }
}
