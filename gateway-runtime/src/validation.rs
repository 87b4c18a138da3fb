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
/// Fields are named as the client wrote them: under `#[serde(rename_all = "camelCase")]`
/// a Rust `room_id` is reported as `roomId` (NestJS's ValidationPipe names the
/// properties it received).
///
/// A body that does not even fit the type (a number for a string, a missing field) is
/// refused before any pipe with `Invalid message: `room`: invalid type: integer `5`,
/// expected a string` (the field's JSON path, never a Rust type name or byte position).
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
    exception_for(list)
}

fn exception_for(list: Vec<Value>) -> WsException {
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
    .with_kind(crate::app::exception::WsKind::Validation)
}

impl Pipe for ValidationPipe {
    fn check(&self, value: &dyn Checkable, _meta: &ArgumentMetadata) -> Result<(), Exception> {
        match value.as_validate() {
            Some(v) => v.validate().map_err(|e| validation_exception(&e).into()),
            None => Ok(()),
        }
    }
}

/// Field names as the client wrote them: `validator` names Rust fields (`room_id`), while
/// the body may use serde's renames (`roomId` under `#[serde(rename_all = "camelCase")]`).
/// Each path segment is matched against the keys of the received `body` ignoring case,
/// `_` and `-`; a segment with no such key keeps its Rust name.
pub(crate) fn with_json_field_names(
    exception: Exception,
    body: impl FnOnce() -> Value,
) -> Exception {
    let Some(list) = exception
        .as_ws()
        .and_then(|e| e.error().get("errors"))
        .and_then(Value::as_array)
    else {
        return exception;
    };
    let body = body();
    let mut renamed = false;
    let list: Vec<Value> = list
        .iter()
        .map(|entry| {
            let Some(field) = entry.get("field").and_then(Value::as_str) else {
                return entry.clone();
            };
            let json_path = json_path(&body, field);
            if json_path == field {
                return entry.clone();
            }
            renamed = true;
            let mut entry = entry.clone();
            if let Some(messages) = entry.get_mut("messages").and_then(Value::as_array_mut) {
                for m in messages.iter_mut() {
                    if let Some(text) = m.as_str().and_then(|t| t.strip_prefix(field)) {
                        *m = Value::String(format!("{json_path}{text}"));
                    }
                }
            }
            entry["field"] = Value::String(json_path);
            entry
        })
        .collect();
    if !renamed {
        return exception;
    }
    exception_for(list).into()
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
}
