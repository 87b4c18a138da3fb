//! Attribute macros of the gateway framework; use them through `gateway_runtime::prelude`.
