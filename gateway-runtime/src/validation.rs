//! [`ValidationPipe`]: checks `#[message_body]` values whose type derives
//! `validator::Validate`, and refuses invalid ones with a [`WsException`] listing every
//! field and constraint. [`ValidationPipe::with`] takes NestJS's `ValidationPipe` options.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use validator::{ValidationErrors, ValidationErrorsKind};

use crate::app::{
    ArgumentMetadata, Checkable, Container, Dependency, DiError, Exception, Injectable, Pipe,
    WsException,
};

/// Validates message bodies with the `validator` crate. Types without `Validate` pass
/// through untouched (as NestJS skips primitives).
///
/// The client receives (on `exception`, or through the ack when errors go there):
/// `{"status":"error","message":"Validation failed: text (length)","errors":[{"field":"text","constraints":["length"],"messages":[...]}]}`.
/// Fields are named as the client wrote them: under `#[serde(rename_all = "camelCase")]`
/// a Rust `room_id` is reported as `roomId` (NestJS's ValidationPipe names the
/// properties it received).
///
/// A body that does not even fit the type (a number for a string, a missing field) is
/// refused before any pipe with `Invalid message: `room`: invalid type: integer `5`,
/// expected a string` (the field's JSON path, never a Rust type name or byte position).
///
/// `ValidationPipe` is the pipe with the default options; [`ValidationPipe::with`] sets
/// NestJS's `new ValidationPipe({ .. })` options ([`ValidationOptions`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationPipe;

impl Injectable for ValidationPipe {
    fn dependencies() -> Vec<Dependency> {
        Vec::new()
    }
    fn construct(_: &Container) -> Result<Self, DiError> {
        Ok(ValidationPipe)
    }
}

impl ValidationPipe {
    /// The pipe with `options`, NestJS's `new ValidationPipe({ forbidNonWhitelisted: true })`:
    ///
    /// ```
    /// use gateway_runtime::prelude::*;
    /// use gateway_runtime::validation::ValidationOptions;
    ///
    /// #[derive(Deserialize, Validate)]
    /// struct NewMessage {
    ///     #[validate(length(min = 1))]
    ///     text: String,
    /// }
    ///
    /// #[gateway(namespace = "/chat")]
    /// struct ChatGateway;
    ///
    /// #[gateway]
    /// impl ChatGateway {
    ///     #[subscribe_message("send")]
    ///     #[use_pipes(ValidationPipe::with(ValidationOptions {
    ///         forbid_non_whitelisted: true,
    ///         stop_at_first_error: true,
    ///         ..Default::default()
    ///     }))]
    ///     fn send(&self, #[message_body] msg: NewMessage) -> usize {
    ///         msg.text.len()
    ///     }
    /// }
    /// ```
    pub fn with(options: ValidationOptions) -> ConfiguredValidationPipe {
        ConfiguredValidationPipe { options }
    }
}

/// Builds the exception for a refused body from its errors ([`ValidationOptions::exception_factory`]).
pub type ExceptionFactory = Arc<dyn Fn(Vec<FieldError>) -> Exception + Send + Sync>;

/// NestJS's `ValidationPipe` options, for [`ValidationPipe::with`].
///
/// NestJS options that need no setting here: `whitelist` (a body is read into its Rust
/// type, so properties the type does not declare are always left out), `transform`
/// (handlers always get the typed value) and `skipMissingProperties` (declare the field
/// as an `Option`).
#[derive(Clone, Default)]
pub struct ValidationOptions {
    /// NestJS's `forbidNonWhitelisted`: a body with a property its type does not declare
    /// is refused (constraint `whitelistValidation`, message "property x should not
    /// exist"). For struct types (`#[derive(Deserialize)]` without `#[serde(flatten)]`);
    /// nested objects are not looked into. Default `false`: unknown properties are
    /// ignored.
    pub forbid_non_whitelisted: bool,
    /// NestJS's `stopAtFirstError`: only the first failing field is reported.
    pub stop_at_first_error: bool,
    /// NestJS's `disableErrorMessages`: the client gets "Validation failed" with no
    /// field, constraint or message (the `errors` list is left out).
    pub disable_error_messages: bool,
    /// NestJS's `exceptionFactory`: makes the exception from the errors (fields named as
    /// the client sent them). See [`ValidationOptions::exception_factory`].
    pub exception_factory: Option<ExceptionFactory>,
}

impl std::fmt::Debug for ValidationOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationOptions")
            .field("forbid_non_whitelisted", &self.forbid_non_whitelisted)
            .field("stop_at_first_error", &self.stop_at_first_error)
            .field("disable_error_messages", &self.disable_error_messages)
            .field("exception_factory", &self.exception_factory.is_some())
            .finish()
    }
}

impl ValidationOptions {
    /// Sets NestJS's `exceptionFactory`:
    ///
    /// ```
    /// use gateway_runtime::prelude::*;
    /// use gateway_runtime::validation::ValidationOptions;
    ///
    /// let options = ValidationOptions::default().exception_factory(|errors| {
    ///     let fields: Vec<_> = errors.iter().map(|e| e.field.clone()).collect();
    ///     WsException::object(serde_json::json!({ "code": "BAD_INPUT", "fields": fields })).into()
    /// });
    /// let pipe = ValidationPipe::with(options);
    /// ```
    pub fn exception_factory(
        mut self,
        factory: impl Fn(Vec<FieldError>) -> Exception + Send + Sync + 'static,
    ) -> Self {
        self.exception_factory = Some(Arc::new(factory));
        self
    }
}

/// One refused field, as the client sees it in `errors` (and an exception factory gets it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    /// The field's path as the client sent it: `roomId`, `items[0].name`.
    pub field: String,
    /// The failed constraints (`length`, `email`, `whitelistValidation`, …).
    pub constraints: Vec<String>,
    /// A message per constraint.
    pub messages: Vec<String>,
}

/// [`ValidationPipe`] with options; made by [`ValidationPipe::with`].
#[derive(Debug, Clone)]
pub struct ConfiguredValidationPipe {
    options: ValidationOptions,
}

fn flatten(prefix: &str, errors: &ValidationErrors, out: &mut Vec<FieldError>) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by_key(|(k, _)| k.to_string());
    for (field, kind) in fields {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                let constraints: Vec<_> = list.iter().map(|e| e.code.to_string()).collect();
                let messages: Vec<_> = list
                    .iter()
                    .map(|e| match &e.message {
                        Some(m) => m.to_string(),
                        None => format!("{path} failed the `{}` constraint", e.code),
                    })
                    .collect();
                out.push(FieldError {
                    field: path,
                    constraints,
                    messages,
                });
            }
            ValidationErrorsKind::Struct(inner) => flatten(&path, inner, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(&format!("{path}[{i}]"), inner, out);
                }
            }
        }
    }
}

/// The exception for `errors` (fields named as in Rust).
pub fn validation_exception(errors: &ValidationErrors) -> WsException {
    let mut list = Vec::new();
    flatten("", errors, &mut list);
    exception_for(list)
}

fn exception_for(list: Vec<FieldError>) -> WsException {
    let summary: Vec<String> = list
        .iter()
        .map(|e| format!("{} ({})", e.field, e.constraints.join(", ")))
        .collect();
    WsException::object(json!({
        "status": "error",
        "message": format!("Validation failed: {}", summary.join("; ")),
        "errors": list,
    }))
    .with_kind(crate::app::exception::WsKind::Validation)
}

/// The properties of `body` that its type does not declare.
fn undeclared(body: &Value, declared: &[&str]) -> Vec<FieldError> {
    let Some(object) = body.as_object() else {
        return Vec::new();
    };
    object
        .keys()
        .filter(|k| !declared.contains(&k.as_str()))
        .map(|k| FieldError {
            field: k.clone(),
            constraints: vec!["whitelistValidation".into()],
            messages: vec![format!("property {k} should not exist")],
        })
        .collect()
}

/// Runs the checks `options` ask for on `value`; the exception to send when it fails.
fn check_with(options: &ValidationOptions, value: &dyn Checkable) -> Result<(), Exception> {
    let mut list = Vec::new();
    let body = value.received();
    if options.forbid_non_whitelisted {
        if let (Some(body), Some(declared)) = (&body, value.declared_fields()) {
            list.extend(undeclared(body, declared));
        }
    }
    if let Some(Err(errors)) = value.as_validate().map(|v| v.validate()) {
        let mut found = Vec::new();
        flatten("", &errors, &mut found);
        if let Some(body) = &body {
            for e in &mut found {
                rename_to_json(e, body);
            }
        }
        list.extend(found);
    }
    if list.is_empty() {
        return Ok(());
    }
    if options.stop_at_first_error {
        list.truncate(1);
    }
    if let Some(factory) = &options.exception_factory {
        return Err(factory(list));
    }
    if options.disable_error_messages {
        return Err(WsException::object(json!({
            "status": "error",
            "message": "Validation failed",
        }))
        .with_kind(crate::app::exception::WsKind::Validation)
        .into());
    }
    Err(exception_for(list).into())
}

impl Pipe for ValidationPipe {
    fn check(&self, value: &dyn Checkable, _meta: &ArgumentMetadata) -> Result<(), Exception> {
        check_with(&ValidationOptions::default(), value)
    }
}

impl Pipe for ConfiguredValidationPipe {
    fn check(&self, value: &dyn Checkable, _meta: &ArgumentMetadata) -> Result<(), Exception> {
        check_with(&self.options, value)
    }
}

/// Names `e`'s field as the client wrote it: `validator` names Rust fields (`room_id`),
/// while the body may use serde's renames (`roomId` under
/// `#[serde(rename_all = "camelCase")]`). Each path segment is matched against the keys
/// of the received `body` ignoring case, `_` and `-`; a segment with no such key keeps
/// its Rust name.
fn rename_to_json(e: &mut FieldError, body: &Value) {
    let json_path = json_path(body, &e.field);
    if json_path == e.field {
        return;
    }
    for m in e.messages.iter_mut() {
        if let Some(text) = m.strip_prefix(e.field.as_str()) {
            *m = format!("{json_path}{text}");
        }
    }
    e.field = json_path;
}

/// The property names a `#[derive(Deserialize)]` struct reads (after serde's renames),
/// asked from its `Deserialize` impl; `None` for other types (maps, `#[serde(flatten)]`,
/// enums, primitives).
pub(crate) fn declared_fields<'de, T: serde::Deserialize<'de>>() -> Option<&'static [&'static str]>
{
    use serde::de::{Deserializer, Visitor};

    /// Stops at the first question; the fields are taken from `deserialize_struct`.
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields = None;
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// `path` (`a.b[0].c`, Rust names) with each name replaced by the key `body` has for it.
fn json_path(body: &Value, path: &str) -> String {
    fn fold(name: &str) -> String {
        name.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    }
    let mut out = String::with_capacity(path.len());
    let mut here = Some(body);
    for (i, segment) in path.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        let (name, index) = match segment.find('[') {
            Some(at) => (&segment[..at], Some(&segment[at..])),
            None => (segment, None),
        };
        let key = here.and_then(Value::as_object).and_then(|o| {
            o.get_key_value(name)
                .or_else(|| o.iter().find(|(k, _)| fold(k) == fold(name)))
        });
        match key {
            Some((k, v)) => {
                out.push_str(k);
                here = Some(v);
            }
            None => {
                out.push_str(name);
                here = None;
            }
        }
        if let Some(index) = index {
            out.push_str(index);
            let n: Option<usize> = index.trim_matches(|c| c == '[' || c == ']').parse().ok();
            here = here.and_then(|v| v.get(n?));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_field_names_become_the_keys_the_client_sent() {
        let body = json!({"roomId": "x", "items": [{"display-name": ""}], "plain": 1});
        assert_eq!(json_path(&body, "room_id"), "roomId");
        assert_eq!(
            json_path(&body, "items[0].display_name"),
            "items[0].display-name"
        );
        assert_eq!(json_path(&body, "plain"), "plain");
        assert_eq!(json_path(&body, "absent_field"), "absent_field");
    }

    #[test]
    fn declared_fields_come_from_the_deserialize_impl() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct Dto {
            room_id: String,
            text: Option<String>,
        }
        assert_eq!(declared_fields::<Dto>(), Some(&["roomId", "text"][..]));
        assert_eq!(declared_fields::<String>(), None);
        assert_eq!(declared_fields::<Value>(), None);
        assert_eq!(
            declared_fields::<std::collections::HashMap<String, u8>>(),
            None
        );
    }
}
