//! Dependency injection: providers are built once, at application start, in dependency
//! order; a missing or cyclic dependency is reported then, naming the chain.
//!
//! A provider is a value, a type that builds itself from other providers
//! ([`Injectable`]), or an async factory. Everything is a singleton shared as `Arc<T>`.
//!
//! ```
//! use std::sync::Arc;
//! use gateway_core::di::{Container, Dependency, DiError, Injectable, Registry};
//!
//! struct Store;
//! struct Service { store: Arc<Store> }
//! impl Injectable for Service {
//!     fn dependencies() -> Vec<Dependency> { vec![Dependency::of::<Store>("store")] }
//!     fn construct(c: &Container) -> Result<Self, DiError> { Ok(Service { store: c.get()? }) }
//! }
//!
//! # tokio_test_block_on(async {
//! let mut registry = Registry::new();
//! registry.value(Store);
//! registry.injectable::<Service>();
//! let container = registry.build().await.unwrap();
//! let service: Arc<Service> = container.get().unwrap();
//! # let _ = service.store.clone();
//! # });
//! # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) { futures_lite_block_on(f) }
//! # fn futures_lite_block_on(f: impl std::future::Future<Output = ()>) {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop { if let std::task::Poll::Ready(()) = f.as_mut().poll(&mut cx) { break } }
//! # }
//! ```

mod container;
mod error;
mod registry;

pub use container::Container;
pub use error::DiError;
pub use registry::{Dependency, Injectable, ModuleDef, Registry};
