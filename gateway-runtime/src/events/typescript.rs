//! TypeScript for socket.io-client's typed sockets, with the payload types from ts-rs.

use std::any::TypeId;
use std::collections::HashSet;
use std::fmt::Write;

use ts_rs::{TypeVisitor, TS};

use super::describe::{Declaration, Direction, EventMap};

/// The shape of the errors a NestJS-style gateway sends: the `exception` event, and
/// acknowledgements when errors go there (`ack_errors`).
const ERROR_RESPONSE: &str =
    "/** An error from the server (NestJS's `exception` payload, or a `WsException` object). */
export type ErrorResponse = {
  status?: \"error\";
  message: string;
  errors?: Array<{ field: string; constraints: Array<string>; messages?: Array<string> }>;
  cause?: { pattern: string; data?: unknown };
  [key: string]: unknown;
};";

/// Gathers the TypeScript declarations of payload types and of the types they use.
pub struct Collector {
    cfg: ts_rs::Config,
    seen: HashSet<TypeId>,
    decls: Vec<String>,
}

impl Collector {
    fn new() -> Self {
        Self {
            // JSON numbers, not `bigint`, for 64-bit integers: that is what clients receive.
            cfg: ts_rs::Config::new().with_large_int("number"),
            seen: HashSet::new(),
            decls: Vec::new(),
        }
    }

    /// Adds `T` (a declaration when it is a named type) and what it uses; its name.
    pub fn add<T: TS + 'static>(&mut self) -> String {
        self.visit::<T>();
        T::name(&self.cfg)
    }
}

impl TypeVisitor for Collector {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if T::output_path().is_none() {
            // Not a declared type (a primitive, `Vec`, `Option`…): what it contains may be.
            T::visit_dependencies(self);
            T::visit_generics(self);
            return;
        }
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let decl = T::decl(&self.cfg);
        self.decls.push(format!("export {decl}"));
        T::visit_dependencies(self);
    }
}

/// The TypeScript of `E`'s events: the payload types, then `ServerToClientEvents` and
/// `ClientToServerEvents` for `io(url) as Socket<ServerToClientEvents, ClientToServerEvents>`.
/// See the [module](super) for an example.
pub fn typescript<E: EventMap>() -> String {
    typescript_of(&Declaration::of::<E>())
}

/// [`typescript`] for a [`Declaration`].
pub fn typescript_of(decl: &Declaration) -> String {
    let mut types = Collector::new();
    let mut server = String::new();
    let mut client = String::new();
    for event in &decl.events {
        let params: Vec<String> = event
            .params
            .iter()
            .map(|(name, ty)| format!("{}: {}", ts_ident(name), (ty.typescript)(&mut types)))
            .collect();
        let mut params = params.join(", ");
        if let Some(ack) = &event.ack {
            let mut ack_ty = (ack.typescript)(&mut types);
            if decl.ack_errors && event.direction == Direction::ClientToServer {
                ack_ty = format!("{ack_ty} | ErrorResponse");
            }
            if !params.is_empty() {
                params.push_str(", ");
            }
            let _ = write!(params, "callback: (response: {ack_ty}) => void");
        }
        let out = match event.direction {
            Direction::ServerToClient => &mut server,
            Direction::ClientToServer => &mut client,
        };
        if !event.doc.is_empty() {
            let _ = writeln!(out, "  /** {} */", event.doc.replace("*/", "* /"));
        }
        let _ = writeln!(out, "  {}: ({params}) => void;", json_string(event.name));
    }
    let _ = writeln!(
        server,
        "  /** An exception raised while handling an event (NestJS's `exception` event). */\n  \"exception\": (error: ErrorResponse) => void;"
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// The events of namespace {} (`{}`), generated from their Rust declaration: do not edit.\n",
        json_string(decl.namespace),
        decl.name
    );
    for d in &types.decls {
        let _ = writeln!(out, "{d}\n");
    }
    let _ = writeln!(out, "{ERROR_RESPONSE}\n");
    let _ = writeln!(
        out,
        "/** Events the server emits on {}. */\nexport interface ServerToClientEvents {{\n{server}}}\n",
        json_string(decl.namespace)
    );
    let _ = writeln!(
        out,
        "/** Events the client emits on {}. */\nexport interface ClientToServerEvents {{\n{client}}}",
        json_string(decl.namespace)
    );
    let _ = writeln!(
        out,
        "\n/** The namespace these events belong to. */\nexport const NAMESPACE = {};",
        json_string(decl.namespace)
    );
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A parameter name TypeScript accepts.
fn ts_ident(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "default", "function", "class", "delete", "new", "var", "this", "in",
    ];
    let name = name.trim_start_matches("r#");
    if RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}
