//! Declared events as TypeScript and AsyncAPI: serde renames and enums honoured, 64-bit
//! integers as numbers, acknowledgements typed, every `$ref` resolvable.

use gateway_runtime::events::{asyncapi, typescript, AsyncApiInfo};
use gateway_runtime::prelude::*;
use serde_json::Value;

#[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub display_name: String,
    pub follower_count: u64,
    pub avatar: Option<String>,
    #[serde(rename = "isAdmin")]
    pub admin: bool,
}

#[derive(Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    Renamed { name: String },
    Deleted,
}

/// Profiles.
#[socket_events(namespace = "/profiles", ack_errors)]
pub trait ProfileEvents {
    /// Reads a profile.
    #[client("get")]
    fn get(id: u64) -> Profile;
    /// Two arguments.
    #[client("rename")]
    fn rename(id: u64, name: String);
    /// Nothing but the event.
    #[client("ping")]
    fn ping();
    /// A profile changed.
    #[server("update")]
    fn update(id: u64, update: Update);
    /// Same name as a client event.
    #[server("ping")]
    fn pong();
}

#[test]
fn typescript_honours_serde_and_types_acks() {
    let ts = typescript::<ProfileEvents>();
    for expected in [
        "displayName: string",
        "followerCount: number",
        "avatar: string | null",
        "isAdmin: boolean",
        r#""type": "renamed""#,
        r#""type": "deleted""#,
        r#""get": (id: number, callback: (response: Profile | ErrorResponse) => void) => void;"#,
        r#""rename": (id: number, name: string) => void;"#,
        r#""ping": () => void;"#,
        r#""update": (id: number, update: Update) => void;"#,
        r#""exception": (error: ErrorResponse) => void;"#,
        r#"export const NAMESPACE = "/profiles";"#,
        "/** Reads a profile. */",
    ] {
        assert!(ts.contains(expected), "missing {expected:?} in:\n{ts}");
    }
    assert!(!ts.contains("bigint"), "{ts}");
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').expect("a local $ref");
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} does not resolve"))
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn asyncapi_document_has_a_channel_messages_operations_and_schemas() {
    let info = AsyncApiInfo {
        title: "Profiles".into(),
        version: "1.2.3".into(),
        description: None,
    };
    let doc = asyncapi::<ProfileEvents>(&info);
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["channels"]["profiles"]["address"], "/profiles");
    let get = &doc["operations"]["profiles.client.get"];
    assert_eq!(get["action"], "receive");
    let reply = resolve(&doc, get["reply"]["messages"][0]["$ref"].as_str().unwrap());
    let reply = resolve(&doc, reply["$ref"].as_str().unwrap());
    assert_eq!(
        reply["payload"]["oneOf"][1]["$ref"],
        "#/components/schemas/ErrorResponse"
    );
    assert_eq!(
        doc["operations"]["profiles.server.update"]["action"],
        "send"
    );
    assert_eq!(doc["operations"]["profiles.server.ping"]["action"], "send");
    assert_eq!(
        doc["operations"]["profiles.client.ping"]["action"],
        "receive"
    );
    let rename = &doc["components"]["messages"]["profiles.client.rename"]["payload"];
    assert_eq!(rename["type"], "array");
    assert_eq!(rename["items"].as_array().unwrap().len(), 2);
    let profile = &doc["components"]["schemas"]["Profile"]["properties"];
    assert!(profile.get("displayName").is_some() && profile.get("isAdmin").is_some());
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 10);
    for r in &all {
        resolve(&doc, r);
    }
}
