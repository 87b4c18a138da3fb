//! `#[gateway]` on an impl block: one registration per `#[subscribe_message]` method.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, Lit, LitStr, Pat, ReturnType, Type};

use crate::ctxt::Ctxt;
use crate::enhancers;

const PARAM_ATTRS: &[&str] = &[
    "message_body",
    "connected_socket",
    "ack",
    "event_name",
    "handshake",
    "claims",
    "context",
];

enum Param {
    Body {
        field: Option<LitStr>,
        index: Option<syn::LitInt>,
        ty: Type,
    },
    Socket,
    Ack {
        optional: bool,
    },
    EventName,
    Handshake,
    Claims(Type),
    Context,
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => last_ident(&r.elem),
        _ => None,
    }
}

const BODY_HELP: &str = "write `#[message_body]` for the whole body, `#[message_body(\"field\")]` for one property, `#[message_body(index = 1)]` for the second argument, or `#[message_body(\"field\", index = 1)]`";

/// The `"field"` and `index = n` of `#[message_body(..)]`.
fn body_args(cx: &Ctxt, attr: &syn::Attribute) -> (Option<LitStr>, Option<syn::LitInt>) {
    let parser = syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
    let Ok(items) = attr.parse_args_with(parser) else {
        cx.error(attr, BODY_HELP);
        return (None, None);
    };
    let (mut field, mut index) = (None, None);
    for item in items {
        match &item {
            syn::Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) if field.is_none() => field = Some(s.clone()),
            syn::Expr::Assign(a)
                if matches!(&*a.left, syn::Expr::Path(p) if p.path.is_ident("index"))
                    && index.is_none() =>
            {
                match &*a.right {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: Lit::Int(i), ..
                    }) if i.base10_parse::<usize>().is_ok() => {
                        index = Some(syn::LitInt::new(
                            &format!("{}usize", i.base10_digits()),
                            i.span(),
                        ))
                    }
                    other => cx.error(
                        other,
                        "`index` is the argument's position, a number: `index = 1` for the second argument",
                    ),
                }
            }
            other => cx.error(other, BODY_HELP),
        }
    }
    (field, index)
}

fn parse_param(cx: &Ctxt, arg: &mut syn::PatType) -> Option<Param> {
    let mut found: Option<Param> = None;
    let mut count = 0;
    let ty = (*arg.ty).clone();
    for attr in &arg.attrs {
        let Some(ident) = attr.path().get_ident().map(|i| i.to_string()) else {
            continue;
        };
        if !PARAM_ATTRS.contains(&ident.as_str()) {
            continue;
        }
        count += 1;
        found = match ident.as_str() {
            "message_body" => {
                let (field, index) = match &attr.meta {
                    syn::Meta::Path(_) => (None, None),
                    syn::Meta::List(_) => body_args(cx, attr),
                    other => {
                        cx.error(other, BODY_HELP);
                        (None, None)
                    }
                };
                Some(Param::Body {
                    field,
                    index,
                    ty: ty.clone(),
                })
            }
            "connected_socket" => Some(Param::Socket),
            "ack" => match last_ident(&ty).as_deref() {
                Some("Option") => Some(Param::Ack { optional: true }),
                Some("AckSender") => Some(Param::Ack { optional: false }),
                _ => {
                    cx.error(
                        &arg.ty,
                        "an `#[ack]` parameter is `AckSender` or `Option<AckSender>`",
                    );
                    None
                }
            },
            "event_name" => Some(Param::EventName),
            "handshake" => Some(Param::Handshake),
            "claims" => Some(Param::Claims(ty.clone())),
            "context" => Some(Param::Context),
            _ => None,
        };
    }
    arg.attrs.retain(|a| {
        !a.path()
            .get_ident()
            .is_some_and(|i| PARAM_ATTRS.contains(&i.to_string().as_str()))
    });
    if count > 1 {
        cx.error(&arg.pat, "a parameter takes one role: keep only one of #[message_body], #[connected_socket], #[ack], ...");
        return None;
    }
    if count == 0 {
        cx.error(
            &arg.pat,
            "annotate this parameter with its role: #[message_body], #[message_body(\"field\")], #[connected_socket], #[ack], #[event_name], #[handshake], #[claims] or #[context]",
        );
        return None;
    }
    found
}

fn is_result(ret: &ReturnType) -> bool {
    match ret {
        ReturnType::Type(_, ty) => last_ident(ty).as_deref() == Some("Result"),
        ReturnType::Default => false,
    }
}

struct Handler {
    event: LitStr,
    tokens: TokenStream,
}

fn handler(cx: &Ctxt, self_ty: &Type, method: &mut ImplItemFn, index: usize) -> Option<Handler> {
    let p = quote!(::gateway_runtime::__private);
    let pos = method
        .attrs
        .iter()
        .position(|a| a.path().is_ident("subscribe_message"))?;
    let attr = method.attrs.remove(pos);
    let event = match attr.parse_args::<LitStr>() {
        Ok(e) if e.value().is_empty() => {
            cx.error(&e, "the event name cannot be empty");
            e
        }
        Ok(e) => e,
        Err(_) => {
            cx.error(&attr, "name the event: `#[subscribe_message(\"event\")]`");
            return None;
        }
    };
    const RESERVED: [&str; 6] = [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ];
    if RESERVED.contains(&event.value().as_str()) {
        cx.error(&event, "this event name is reserved by Socket.IO; use the lifecycle hooks (OnGatewayConnection, OnGatewayDisconnect) instead");
    }
    let declared = enhancers::read(cx, &method.attrs, false);
    method.attrs.retain(|a| !enhancers::is_enhancer_attr(a));
    if !method.sig.generics.params.is_empty() {
        cx.error(&method.sig.generics, "a message handler cannot be generic");
    }
    let mut has_self = false;
    let mut extracts = Vec::new();
    let mut call_args = Vec::new();
    let mut asserts = Vec::new();
    let mut manual_ack = false;
    let mut whole_body: Option<Type> = None;
    let validate = declared.uses_validation_pipe();
    for (i, input) in method.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(r) => {
                if r.reference.is_none() || r.mutability.is_some() {
                    cx.error(
                        r,
                        "a message handler takes `&self`: gateways are shared between connections",
                    );
                }
                has_self = true;
            }
            FnArg::Typed(arg) => {
                let var = format_ident!("__arg{}", i);
                let Some(param) = parse_param(cx, arg) else {
                    continue;
                };
                let ty = &*arg.ty;
                let span = ty.span();
                let expr = match param {
                    Param::Body { field, index, ty } => {
                        if field.is_none() && index.is_none() && whole_body.is_none() {
                            whole_body = Some(ty.clone());
                        }
                        asserts.push(quote_spanned!(span=> #p::assert_body::<#ty>();));
                        if validate {
                            asserts.push(quote_spanned!(span=> #p::assert_validate::<#ty>();));
                        }
                        let field = match field {
                            Some(f) => quote!(::std::option::Option::Some(#f)),
                            None => quote!(::std::option::Option::None),
                        };
                        let index = match index {
                            Some(i) => quote!(::std::option::Option::Some(#i)),
                            None => quote!(::std::option::Option::None),
                        };
                        quote! {{
                            fn __validate(v: &#ty) -> ::std::option::Option<&dyn #p::Validate> {
                                #[allow(unused_imports)]
                                use #p::{ValidateNo as _, ValidateYes as _};
                                (&&#p::ValidateProbe(v)).probe()
                            }
                            #p::extract::<#ty>(
                                &inv,
                                #p::ArgumentMetadata { field: #field, index: #index, type_name: #p::type_name::<#ty>() },
                                ::std::option::Option::Some(__validate),
                            )?
                        }}
                    }
                    Param::Socket => quote!(::std::clone::Clone::clone(inv.ctx.socket())),
                    Param::Ack { optional } => {
                        manual_ack = true;
                        if optional {
                            quote!(inv.ack.take())
                        } else {
                            quote!(#p::require_ack(inv.ack.take())?)
                        }
                    }
                    Param::EventName => quote!(::std::string::String::from(inv.ctx.event())),
                    Param::Handshake => {
                        quote!(::std::clone::Clone::clone(inv.ctx.socket().handshake()))
                    }
                    Param::Claims(ty) => quote!(#p::claims::<#ty>(&inv)?),
                    Param::Context => quote!(::std::clone::Clone::clone(&inv.ctx)),
                };
                extracts.push(quote_spanned!(span=> let #var: #ty = #expr;));
                call_args.push(var);
            }
        }
        let _ = &input;
    }
    if !has_self {
        cx.error(
            &method.sig.ident,
            "a message handler takes `&self` as its first parameter",
        );
    }
    for input in method.sig.inputs.iter() {
        if let FnArg::Typed(arg) = input {
            if !matches!(*arg.pat, Pat::Ident(_) | Pat::Wild(_)) {
                cx.error(&arg.pat, "use a plain name for handler parameters");
            }
        }
    }
    let name = &method.sig.ident;
    let method_str = name.to_string();
    let map = if is_result(&method.sig.output) {
        quote!(#p::reply_result(__ret))
    } else if names_any_value(&method.sig.output) {
        // An `AnyValue` is written by the direct JSON writer: the probe picks it by type
        // (another type of that name falls back to `IntoReply`).
        quote! {{
            #[allow(unused_imports)]
            use #p::{ReplyAny as _, ReplyOther as _};
            (&&#p::ReplyProbe::new(__ret)).reply()
        }}
    } else {
        // Spanned: a type that cannot be returned is reported at the return type.
        let span = match &method.sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => name.span(),
        };
        quote_spanned!(span=> #p::IntoReply::into_reply(__ret))
    };
    // A plain `fn` handler is called directly; an `async fn` one makes a boxed future.
    let bound = if method.sig.asyncness.is_some() {
        quote! {
            #p::BoundHandler::Async(#p::StdArc::new(move |mut inv: #p::Invocation| {
                let gateway = ::std::clone::Clone::clone(&gateway);
                ::std::boxed::Box::pin(async move {
                    #(#asserts)*
                    #(#extracts)*
                    let __ret = gateway.#name(#(#call_args),*).await;
                    #map
                }) as #p::BoxFuture<'static, ::std::result::Result<#p::Reply, #p::Exception>>
            }))
        }
    } else {
        quote! {
            #p::BoundHandler::Direct(#p::StdArc::new(
                move |mut inv: #p::Invocation| -> ::std::result::Result<#p::Reply, #p::Exception> {
                    #(#asserts)*
                    #(#extracts)*
                    let __ret = gateway.#name(#(#call_args),*);
                    #map
                },
            ))
        }
    };
    let enhancers = declared.enhancers_expr();
    let metadata = declared.metadata_expr();
    let bind = format_ident!("__gateway_bind_{}_{}", index, name);
    let checks = typed_checks(
        self_ty,
        &event,
        whole_body.as_ref(),
        if manual_ack {
            None
        } else {
            returned_type(&method.sig.output, method.sig.ident.span())
        },
    );
    let check_fn = format_ident!("__gateway_events_{}_{}", index, name);
    let tokens = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code, clippy::all)]
        fn #check_fn() {
            #checks
        }
        #[doc(hidden)]
        #[allow(non_snake_case, unused_mut, clippy::all)]
        fn #bind(gateway: #p::AnyArc) -> ::std::option::Option<#p::BoundHandler> {
            let gateway: #p::StdArc<#self_ty> = gateway.downcast::<#self_ty>().ok()?;
            ::std::option::Option::Some(#bound)
        }
        #p::inventory::submit! {
            #p::HandlerRegistration {
                gateway: || #p::TypeId::of::<#self_ty>(),
                event: #event,
                method: #method_str,
                manual_ack: #manual_ack,
                enhancers: || #enhancers,
                metadata: || #metadata,
                bind: #bind,
            }
        }
    };
    Some(Handler { event, tokens })
}

/// The type a handler acknowledges with: its return type, `Result<T, E>` read as `T`;
/// `None` for replies that are not an acknowledgement of one declared type
/// (`WsResponse`, `Reply`, `ReplyStream`, `Arguments`, `AnyValue`, `Value`, `impl ..`).
fn returned_type(output: &ReturnType, name: proc_macro2::Span) -> Option<Type> {
    let mut ty = match output {
        ReturnType::Default => return Some(syn::parse_quote_spanned!(name=> ())),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Some(ok) = last_segment(&ty)
        .filter(|last| last.ident == "Result")
        .and_then(|last| match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                Some(syn::GenericArgument::Type(ok)) => Some(ok.clone()),
                _ => None,
            },
            _ => None,
        })
    {
        ty = ok;
    }
    const NOT_AN_ACK: &[&str] = &[
        "WsResponse",
        "Reply",
        "ReplyStream",
        "Arguments",
        "AnyValue",
        "Value",
    ];
    if matches!(ty, Type::ImplTrait(_)) {
        return None;
    }
    match last_segment(&ty) {
        Some(last) if NOT_AN_ACK.iter().any(|n| last.ident == n) => None,
        _ => Some(ty),
    }
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) => p.path.segments.last(),
        _ => None,
    }
}

/// The compile-time checks of a handler against its gateway's declared events (nothing
/// for an untyped gateway): the event is declared, the body and acknowledgement types
/// are the declared ones. Each is spanned at what it checks.
fn typed_checks(
    self_ty: &Type,
    event: &LitStr,
    body: Option<&Type>,
    returned: Option<Type>,
) -> TokenStream {
    // Every token spanned at what is checked, so that the error points there (not at
    // `#[gateway]`).
    let at = |span: proc_macro2::Span| {
        let events = quote_spanned!(span=> <#self_ty as ::gateway_runtime::__private::GatewayEvents>::Events);
        let key = quote_spanned!(span=> { ::gateway_runtime::__private::event_key(#event) });
        (events, key)
    };
    let (events, key) = at(event.span());
    let mut out = quote_spanned!(event.span()=> ::gateway_runtime::__private::check_declared::<#events, #key>(););
    if let Some(body) = body {
        let (events, key) = at(body.span());
        out.extend(quote_spanned!(body.span()=> ::gateway_runtime::__private::check_body::<#events, #key, #body>();));
    }
    if let Some(ret) = returned {
        let (events, key) = at(ret.span());
        out.extend(quote_spanned!(ret.span()=> ::gateway_runtime::__private::check_ack::<#events, #key, #ret>();));
    }
    out
}

/// Whether the return type is written `AnyValue` (any path ending in it, no generics).
fn names_any_value(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(p) => {
                p.qself.is_none()
                    && p.path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "AnyValue" && s.arguments.is_none())
            }
            _ => false,
        },
        ReturnType::Default => false,
    }
}

pub(crate) fn expand(attr: TokenStream, mut item: ItemImpl) -> TokenStream {
    let cx = Ctxt::new();
    if !attr.is_empty() {
        cx.error(&attr, "options go on the struct: `#[gateway(namespace = \"/chat\")] struct ...`; the impl block takes a bare `#[gateway]`");
    }
    if let Some((_, path, _)) = &item.trait_ {
        cx.error(path, "put `#[gateway]` on the gateway's own impl block (`impl MyGateway { ... }`), not on a trait impl");
    }
    if !item.generics.params.is_empty() {
        cx.error(&item.generics, "a gateway cannot be generic");
    }
    let self_ty = (*item.self_ty).clone();
    let mut registrations = Vec::new();
    let mut events: Vec<LitStr> = Vec::new();
    for (index, impl_item) in item.items.iter_mut().enumerate() {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        for attr in &method.attrs {
            if enhancers::is_enhancer_attr(attr)
                && !method
                    .attrs
                    .iter()
                    .any(|a| a.path().is_ident("subscribe_message"))
            {
                cx.error(
                    attr,
                    "enhancers apply to `#[subscribe_message]` methods (or to the gateway struct)",
                );
            }
        }
        let handler = handler(&cx, &self_ty, method, index);
        method.attrs.retain(|a| !enhancers::is_enhancer_attr(a));
        if let Some(h) = handler {
            if let Some(previous) = events.iter().find(|e| e.value() == h.event.value()) {
                cx.error(
                    &h.event,
                    format!(
                        "event \"{}\" already has a handler in this block",
                        previous.value()
                    ),
                );
            }
            events.push(h.event.clone());
            registrations.push(h.tokens);
        }
    }
    match cx.check() {
        Some(errors) => quote!(#item #errors),
        None => quote! {
            #item
            #[doc(hidden)]
            const _: () = {
                #(#registrations)*
            };
        },
    }
}
