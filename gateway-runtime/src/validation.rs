//! [`ValidationPipe`]: checks `#[message_body]` values whose type derives
//! `validator::Validate`, and refuses invalid ones with a [`WsException`] listing every
//! field and constraint.

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

fn flatten(prefix: &str, errors: &ValidationErrors, out: &mut Vec<Value>) {
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
                out.push(
                    json!({ "field": path, "constraints": constraints, "messages": messages }),
                );
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

/// The exception for `errors`.
pub fn validation_exception(errors: &ValidationErrors) -> WsException {
    let mut list = Vec::new();
    flatten("", errors, &mut list);
    let summary: Vec<String> = list
        .iter()
        .map(|e| {
            let constraints: Vec<&str> = e["constraints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "{} ({})",
                e["field"].as_str().unwrap_or(""),
                constraints.join(", ")
            )
        })
        .collect();
    WsException::object(json!({
        "status": "error",
        "message": format!("Validation failed: {}", summary.join("; ")),
        "errors": list,
    }))
}

impl Pipe for ValidationPipe {
    fn check(&self, value: &dyn Checkable, _meta: &ArgumentMetadata) -> Result<(), Exception> {
        match value.as_validate() {
            Some(v) => v.validate().map_err(|e| validation_exception(&e).into()),
            None => Ok(()),
        }
    }
}
