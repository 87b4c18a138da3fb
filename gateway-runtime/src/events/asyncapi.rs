//! An AsyncAPI 3.0 document of the declared events: a channel per namespace, a message per
//! event, payload JSON Schemas from schemars.

use serde_json::{json, Map, Value};

use super::describe::{Declaration, Direction, EventMap};

/// The document's `info`.
#[derive(Debug, Clone)]
pub struct AsyncApiInfo {
    /// `info.title`.
    pub title: String,
    /// `info.version` (the application's version).
    pub version: String,
    /// `info.description`.
    pub description: Option<String>,
}

/// The AsyncAPI 3.0 document of one namespace's events. For several namespaces, see
/// [`asyncapi_of`].
///
/// Each namespace is a channel whose `address` is the namespace; each event a message
/// (keyed `client.<event>` or `server.<event>`; `name`: the event name, `payload`: the JSON
/// Schema of its argument, or a tuple schema of its arguments when there are not one); each event an operation (`receive` for
/// client→server events, `send` for server→client ones) whose `reply` is the
/// acknowledgement when there is one. Payload types are in `components.schemas`.
pub fn asyncapi<E: EventMap>(info: &AsyncApiInfo) -> Value {
    asyncapi_of(info, &[Declaration::of::<E>()])
}

/// [`asyncapi`] for several namespaces.
pub fn asyncapi_of(info: &AsyncApiInfo, declarations: &[Declaration]) -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator();
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages_all = Map::new();
    for decl in declarations {
        let channel = key(decl.namespace.trim_start_matches('/'));
        let channel = if channel.is_empty() {
            "root".to_string()
        } else {
            channel
        };
        let mut channel_messages = Map::new();
        for event in &decl.events {
            // Both directions may use one name ("typing" sent and received).
            let message_key = match event.direction {
                Direction::ClientToServer => format!("client.{}", key(event.name)),
                Direction::ServerToClient => format!("server.{}", key(event.name)),
            };
            let component = format!("{channel}.{message_key}");
            let payload = match event.params.as_slice() {
                [(_, ty)] => (ty.schema)(&mut generator).to_value(),
                params => {
                    let items: Vec<Value> = params
                        .iter()
                        .map(|(_, ty)| (ty.schema)(&mut generator).to_value())
                        .collect();
                    // A tuple, as draft-07 writes one.
                    json!({ "type": "array", "items": items, "additionalItems": false, "minItems": items.len() })
                }
            };
            let mut message = json!({
                "name": event.name,
                "title": event.name,
                "payload": payload,
            });
            if !event.doc.is_empty() {
                message["summary"] = Value::String(event.doc.to_string());
            }
            messages_all.insert(component.clone(), message);
            channel_messages.insert(
                message_key.clone(),
                json!({ "$ref": format!("#/components/messages/{component}") }),
            );
            let mut operation = json!({
                "action": match event.direction {
                    Direction::ClientToServer => "receive",
                    Direction::ServerToClient => "send",
                },
                "channel": { "$ref": format!("#/channels/{channel}") },
                "messages": [{ "$ref": format!("#/channels/{channel}/messages/{message_key}") }],
            });
            if !event.doc.is_empty() {
                operation["summary"] = Value::String(event.doc.to_string());
            }
            if let Some(ack) = &event.ack {
                let ack_key = format!("{component}.ack");
                let mut payload = (ack.schema)(&mut generator).to_value();
                if decl.ack_errors && event.direction == Direction::ClientToServer {
                    payload = json!({ "oneOf": [payload, { "$ref": "#/components/schemas/ErrorResponse" }] });
                }
                messages_all.insert(
                    ack_key.clone(),
                    json!({ "name": format!("{} (acknowledgement)", event.name), "payload": payload }),
                );
                channel_messages.insert(
                    format!("{message_key}.ack"),
                    json!({ "$ref": format!("#/components/messages/{ack_key}") }),
                );
                operation["reply"] = json!({
                    "channel": { "$ref": format!("#/channels/{channel}") },
                    "messages": [{ "$ref": format!("#/channels/{channel}/messages/{message_key}.ack") }],
                });
            }
            operations.insert(component, operation);
        }
        let exception_key = format!("{channel}.server.exception");
        messages_all.insert(
            exception_key.clone(),
            json!({
                "name": "exception",
                "summary": "An exception raised while handling an event (NestJS's `exception` event).",
                "payload": { "$ref": "#/components/schemas/ErrorResponse" },
            }),
        );
        channel_messages.insert(
            "server.exception".into(),
            json!({ "$ref": format!("#/components/messages/{exception_key}") }),
        );
        operations.insert(
            exception_key,
            json!({
                "action": "send",
                "channel": { "$ref": format!("#/channels/{channel}") },
                "messages": [{ "$ref": format!("#/channels/{channel}/messages/server.exception") }],
            }),
        );
        channels.insert(
            channel,
            json!({
                "address": decl.namespace,
                "title": format!("Socket.IO namespace {}", decl.namespace),
                "messages": channel_messages,
            }),
        );
    }
    let mut schemas = generator.take_definitions(true);
    schemas.insert("ErrorResponse".into(), error_response_schema());
    let mut info_value = json!({ "title": info.title, "version": info.version });
    if let Some(d) = &info.description {
        info_value["description"] = Value::String(d.clone());
    }
    json!({
        "asyncapi": "3.0.0",
        "info": info_value,
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": { "messages": messages_all, "schemas": schemas },
    })
}

/// A component key AsyncAPI accepts (`^[A-Za-z0-9.\-_]+$`).
fn key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn error_response_schema() -> Value {
    json!({
        "type": "object",
        "description": "An error from the server (NestJS's `exception` payload, or a `WsException` object).",
        "properties": {
            "status": { "const": "error" },
            "message": { "type": "string" },
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": { "type": "string" },
                        "constraints": { "type": "array", "items": { "type": "string" } },
                        "messages": { "type": "array", "items": { "type": "string" } }
                    },
                    "required": ["field", "constraints"]
                }
            },
            "cause": {
                "type": "object",
                "properties": { "pattern": { "type": "string" }, "data": {} },
                "required": ["pattern"]
            }
        },
        "required": ["message"]
    })
}
