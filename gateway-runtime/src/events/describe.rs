//! The declarations as data: what the TypeScript and AsyncAPI generators read.

use std::any::TypeId;

/// A namespace's declared events (implemented by `#[socket_events]`).
pub trait EventMap: 'static {
    /// The declaration's name (the trait's).
    const NAME: &'static str;
    /// The namespace the events belong to.
    const NAMESPACE: &'static str;
    /// Whether errors come back through the acknowledgement (`ack_errors`): the
    /// acknowledgement is then the declared type or an `ErrorResponse`.
    const ACK_ERRORS: bool;
    /// Every declared event, in declaration order.
    fn events() -> Vec<EventDoc>;
}

/// Who sends an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client emits it; a gateway handler receives it (`#[client]`).
    ClientToServer,
    /// The server emits it (`#[server]`).
    ServerToClient,
}

/// One declared event.
#[derive(Debug, Clone)]
pub struct EventDoc {
    /// The event name on the wire.
    pub name: &'static str,
    /// Who sends it.
    pub direction: Direction,
    /// Its doc comment.
    pub doc: &'static str,
    /// Its arguments: name and type.
    pub params: Vec<(&'static str, TypeDesc)>,
    /// The acknowledgement's type, when the sender gets one.
    pub ack: Option<TypeDesc>,
}

/// A payload type, for the generators: its TypeScript (ts-rs) and JSON Schema
/// (schemars).
#[derive(Clone, Copy)]
pub struct TypeDesc {
    /// The Rust type's id.
    pub type_id: fn() -> TypeId,
    /// Adds the type (and what it uses) to a TypeScript collector; its TypeScript name.
    pub typescript: fn(&mut super::typescript::Collector) -> String,
    /// Adds the type to a schema generator; the schema (a `$ref` for named types).
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

impl std::fmt::Debug for TypeDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypeDesc")
    }
}

impl TypeDesc {
    /// The description of `T`.
    pub fn of<T: ts_rs::TS + schemars::JsonSchema + 'static>() -> Self {
        Self {
            type_id: TypeId::of::<T>,
            typescript: |c| c.add::<T>(),
            schema: |g| g.subschema_for::<T>(),
        }
    }
}

/// A namespace's declaration as data ([`EventMap`] read once).
#[derive(Debug, Clone)]
pub struct Declaration {
    /// The declaration's name.
    pub name: &'static str,
    /// The namespace.
    pub namespace: &'static str,
    /// Whether errors come back through acknowledgements.
    pub ack_errors: bool,
    /// The events.
    pub events: Vec<EventDoc>,
}

impl Declaration {
    /// The declaration of `E`.
    pub fn of<E: EventMap>() -> Self {
        Self {
            name: E::NAME,
            namespace: E::NAMESPACE,
            ack_errors: E::ACK_ERRORS,
            events: E::events(),
        }
    }
}
