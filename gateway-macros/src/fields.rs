//! Field roles in `#[injectable]` and `#[gateway]` structs.

use syn::{Field, GenericArgument, PathArguments, Type};

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
