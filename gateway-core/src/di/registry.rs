use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Container, DiError};

type AnyArc = Arc<dyn Any + Send + Sync>;
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Factory = Box<dyn FnOnce(Container) -> BoxFuture<'static, Result<AnyArc, String>> + Send>;
type Construct = fn(&Container) -> Result<AnyArc, DiError>;
type AutoBuild = (fn() -> Vec<Dependency>, Construct);

/// A type that builds itself from other providers. `#[injectable]` implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not built by the container: it is not `#[injectable]`",
    label = "named by type here, so the container must build it",
    note = "put `#[injectable]` on `{Self}` (NestJS's `@Injectable()`), or pass an instance instead of the type: `#[use_guards({Self}::new(..))]`, `.provider({Self} {{ .. }})`"
)]
pub trait Injectable: Sized + Send + Sync + 'static {
    /// What `construct` will ask the container for.
    fn dependencies() -> Vec<Dependency>;
    /// Builds the value; every dependency is already in the container.
    fn construct(container: &Container) -> Result<Self, DiError>;
}

/// One dependency of a provider or gateway.
#[derive(Clone)]
pub struct Dependency {
    id: TypeId,
    name: &'static str,
    /// The field (or role) it is injected into, for error messages.
    pub field: &'static str,
    auto: Option<AutoBuild>,
}

impl std::fmt::Debug for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.name)
    }
}

fn construct_erased<T: Injectable>(c: &Container) -> Result<AnyArc, DiError> {
    Ok(Arc::new(T::construct(c)?))
}

impl Dependency {
    /// A dependency on a registered provider of type `T`.
    pub fn of<T: Send + Sync + 'static>(field: &'static str) -> Self {
        Self {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
            field,
            auto: None,
        }
    }

    /// A dependency on `T`, built on first use when nothing registers it (used for guards,
    /// pipes, interceptors and filters named by type).
    pub fn auto<T: Injectable>(field: &'static str) -> Self {
        Self {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
            field,
            auto: Some((T::dependencies, construct_erased::<T>)),
        }
    }

    /// The type's name.
    pub fn type_name(&self) -> &'static str {
        self.name
    }
}

enum Kind {
    Value(AnyArc),
    Type {
        deps: fn() -> Vec<Dependency>,
        construct: Construct,
    },
    Factory(Option<Factory>),
}

struct Entry {
    name: &'static str,
    module: usize,
    position: usize,
    kind: Kind,
}

/// A module: a named group of providers with imports, exports and an optional global flag.
#[derive(Debug, Clone)]
pub struct ModuleDef {
    /// The module's name, for error messages.
    pub name: String,
    /// Indexes of imported modules.
    pub imports: Vec<usize>,
    /// Exported provider types.
    pub exports: HashSet<TypeId>,
    /// Exports to every module without being imported.
    pub global: bool,
}

struct Root {
    name: &'static str,
    module: usize,
    deps: Vec<Dependency>,
}

/// Providers and their modules, before the graph is built.
pub struct Registry {
    entries: HashMap<TypeId, Entry>,
    order: Vec<TypeId>,
    modules: Vec<ModuleDef>,
    roots: Vec<Root>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field(
                "providers",
                &self.entries.values().map(|e| e.name).collect::<Vec<_>>(),
            )
            .field("modules", &self.modules)
            .finish()
    }
}

impl Registry {
    /// An empty registry with its root module (index 0, visible everywhere).
    pub fn new() -> Self {
        Self {
            entries: HashMap::new(),
            order: Vec::new(),
            modules: vec![ModuleDef {
                name: "AppModule".into(),
                imports: Vec::new(),
                exports: HashSet::new(),
                global: true,
            }],
            roots: Vec::new(),
        }
    }

    fn add(&mut self, id: TypeId, name: &'static str, module: usize, kind: Kind) {
        let position = self.order.len();
        if self
            .entries
            .insert(
                id,
                Entry {
                    name,
                    module,
                    position,
                    kind,
                },
            )
            .is_none()
        {
            self.order.push(id);
        }
    }

    /// Adds a module; returns its index.
    pub fn module(&mut self, def: ModuleDef) -> usize {
        self.modules.push(def);
        self.modules.len() - 1
    }

    /// The module at `index`.
    pub fn module_mut(&mut self, index: usize) -> Option<&mut ModuleDef> {
        self.modules.get_mut(index)
    }

    /// Registers a ready value in the root module.
    pub fn value<T: Send + Sync + 'static>(&mut self, value: T) {
        self.value_in(0, Arc::new(value));
    }

    /// Registers a ready value in module `module`.
    pub fn value_in<T: Send + Sync + 'static>(&mut self, module: usize, value: Arc<T>) {
        self.add(
            TypeId::of::<T>(),
            std::any::type_name::<T>(),
            module,
            Kind::Value(value),
        );
    }

    /// Registers a type built from its dependencies, in the root module.
    pub fn injectable<T: Injectable>(&mut self) {
        self.injectable_in::<T>(0);
    }

    /// Registers a type built from its dependencies, in module `module`.
    pub fn injectable_in<T: Injectable>(&mut self, module: usize) {
        let kind = Kind::Type {
            deps: T::dependencies,
            construct: construct_erased::<T>,
        };
        self.add(TypeId::of::<T>(), std::any::type_name::<T>(), module, kind);
    }

    /// Registers an async factory in module `module`. It receives the container with
    /// every provider registered before it.
    pub fn factory_in<T, F, Fut, E>(&mut self, module: usize, factory: F)
    where
        T: Send + Sync + 'static,
        F: FnOnce(Container) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let boxed: Factory = Box::new(move |c| {
            Box::pin(async move {
                factory(c)
                    .await
                    .map(|v| Arc::new(v) as AnyArc)
                    .map_err(|e| e.to_string())
            })
        });
        self.add(
            TypeId::of::<T>(),
            std::any::type_name::<T>(),
            module,
            Kind::Factory(Some(boxed)),
        );
    }

    /// Declares something built outside the registry (a gateway) that needs `deps`: they
    /// are checked and built with everything else.
    pub fn require(&mut self, name: &'static str, module: usize, deps: Vec<Dependency>) {
        self.roots.push(Root { name, module, deps });
    }

    /// Whether a provider of type `T` is registered.
    pub fn contains<T: 'static>(&self) -> bool {
        self.entries.contains_key(&TypeId::of::<T>())
    }

    /// Builds every provider, in dependency order.
    pub async fn build(mut self) -> Result<Container, DiError> {
        let mut container = Container::default();
        let order = self.order.clone();
        for id in order {
            let (name, module) = match self.entries.get(&id) {
                Some(e) => (e.name, e.module),
                None => continue,
            };
            let mut stack = Vec::new();
            let dep = Dependency {
                id,
                name,
                field: "",
                auto: None,
            };
            self.resolve(dep, module, &mut stack, &mut container)
                .await?;
        }
        let roots = std::mem::take(&mut self.roots);
        for root in roots {
            for dep in root.deps {
                let mut stack = vec![(root.name, TypeId::of::<()>())];
                self.resolve(dep, root.module, &mut stack, &mut container)
                    .await?;
            }
        }
        Ok(container)
    }

    fn visible(&self, provider_module: usize, needed_in: usize, id: TypeId) -> bool {
        if provider_module == 0 || provider_module == needed_in {
            return true;
        }
        let Some(p) = self.modules.get(provider_module) else {
            return false;
        };
        if !p.exports.contains(&id) {
            return false;
        }
        p.global
            || self
                .modules
                .get(needed_in)
                .is_some_and(|m| m.imports.contains(&provider_module))
    }

    fn resolve<'a>(
        &'a mut self,
        dep: Dependency,
        needed_in: usize,
        stack: &'a mut Vec<(&'static str, TypeId)>,
        container: &'a mut Container,
    ) -> BoxFuture<'a, Result<(), DiError>> {
        Box::pin(async move {
            let chain = |stack: &[(&'static str, TypeId)]| {
                stack.iter().map(|(n, _)| *n).collect::<Vec<_>>()
            };
            if let Some(pos) = stack.iter().position(|(_, id)| *id == dep.id) {
                let mut cycle: Vec<_> = stack[pos..].iter().map(|(n, _)| *n).collect();
                cycle.push(dep.name);
                return Err(DiError::Cycle { chain: cycle });
            }
            if !self.entries.contains_key(&dep.id) {
                match dep.auto {
                    Some((deps, construct)) => {
                        let position = self.order.len();
                        self.order.push(dep.id);
                        self.entries.insert(
                            dep.id,
                            Entry {
                                name: dep.name,
                                // Built on demand for whoever names it: shared app-wide,
                                // like a root provider.
                                module: 0,
                                position,
                                kind: Kind::Type { deps, construct },
                            },
                        );
                    }
                    None => {
                        return Err(DiError::Missing {
                            missing: dep.name,
                            chain: chain(stack),
                        })
                    }
                }
            }
            let (module, position) = {
                let e = &self.entries[&dep.id];
                (e.module, e.position)
            };
            if !self.visible(module, needed_in, dep.id) {
                return Err(DiError::NotVisible {
                    provider: dep.name,
                    module: self.modules[module].name.clone(),
                    needed_in: self.modules[needed_in].name.clone(),
                    chain: chain(stack),
                });
            }
            if container.contains(dep.id) {
                return Ok(());
            }
            stack.push((dep.name, dep.id));
            let result = self
                .construct(dep.id, module, position, stack, container)
                .await;
            stack.pop();
            result
        })
    }

    async fn construct(
        &mut self,
        id: TypeId,
        module: usize,
        position: usize,
        stack: &mut Vec<(&'static str, TypeId)>,
        container: &mut Container,
    ) -> Result<(), DiError> {
        let name = self.entries[&id].name;
        let value = match &mut self.entries.get_mut(&id).expect("entry exists").kind {
            Kind::Value(v) => v.clone(),
            Kind::Type { deps, construct } => {
                let (deps, construct) = (*deps, *construct);
                for d in deps() {
                    self.resolve(d, module, stack, container).await?;
                }
                construct(container)?
            }
            Kind::Factory(f) => {
                let factory = f.take().ok_or(DiError::Cycle {
                    chain: vec![name, name],
                })?;
                let earlier: Vec<(TypeId, &'static str)> = self
                    .order
                    .iter()
                    .filter(|other| {
                        self.entries
                            .get(other)
                            .is_some_and(|e| e.position < position)
                    })
                    .map(|other| (*other, self.entries[other].name))
                    .collect();
                for (other, other_name) in earlier {
                    let d = Dependency {
                        id: other,
                        name: other_name,
                        field: "",
                        auto: None,
                    };
                    let on_stack = stack.iter().any(|(_, id)| *id == other);
                    let in_scope =
                        self.entries[&other].module == module || self.entries[&other].module == 0;
                    // Providers that are being built (and may need this factory's value)
                    // are skipped rather than reported as a cycle.
                    if in_scope && !on_stack {
                        self.resolve(d, module, stack, container).await?;
                    }
                }
                factory(container.clone())
                    .await
                    .map_err(|message| DiError::Factory {
                        provider: name,
                        message,
                    })?
            }
        };
        container.insert_erased(id, name, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    struct A;
    struct B(#[allow(dead_code)] Arc<A>);
    struct C(#[allow(dead_code)] Arc<B>);
    impl Injectable for B {
        fn dependencies() -> Vec<Dependency> {
            vec![Dependency::of::<A>("a")]
        }
        fn construct(c: &Container) -> Result<Self, DiError> {
            Ok(B(c.get()?))
        }
    }
    impl Injectable for C {
        fn dependencies() -> Vec<Dependency> {
            vec![Dependency::of::<B>("b")]
        }
        fn construct(c: &Container) -> Result<Self, DiError> {
            Ok(C(c.get()?))
        }
    }

    struct X;
    struct Y;
    impl Injectable for X {
        fn dependencies() -> Vec<Dependency> {
            vec![Dependency::of::<Y>("y")]
        }
        fn construct(_: &Container) -> Result<Self, DiError> {
            Ok(X)
        }
    }
    impl Injectable for Y {
        fn dependencies() -> Vec<Dependency> {
            vec![Dependency::of::<X>("x")]
        }
        fn construct(_: &Container) -> Result<Self, DiError> {
            Ok(Y)
        }
    }

    #[test]
    fn builds_in_dependency_order_whatever_the_registration_order() {
        let mut r = Registry::new();
        r.injectable::<C>();
        r.injectable::<B>();
        r.value(A);
        let c = block_on(r.build()).unwrap();
        assert!(c.try_get::<C>().is_some());
        // Singletons: C's B is the registered B.
        assert!(Arc::ptr_eq(
            &c.get::<B>().unwrap(),
            &c.get::<C>().unwrap().0
        ));
    }

    #[test]
    fn missing_dependency_names_the_chain() {
        let mut r = Registry::new();
        r.injectable::<C>();
        r.injectable::<B>();
        let err = block_on(r.build()).unwrap_err();
        match &err {
            DiError::Missing { missing, chain } => {
                assert!(missing.ends_with("::A"));
                assert_eq!(chain.len(), 2);
                assert!(chain[0].ends_with("::C") && chain[1].ends_with("::B"));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("needed by"));
    }

    #[test]
    fn cycles_are_reported() {
        let mut r = Registry::new();
        r.injectable::<X>();
        r.injectable::<Y>();
        let err = block_on(r.build()).unwrap_err();
        let DiError::Cycle { chain } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(chain.len(), 3);
        assert!(err.to_string().starts_with("cyclic dependency: "));
    }

    #[test]
    fn required_roots_are_checked() {
        let mut r = Registry::new();
        r.require("ChatGateway", 0, vec![Dependency::of::<A>("store")]);
        let err = block_on(r.build()).unwrap_err();
        assert_eq!(
            err,
            DiError::Missing {
                missing: std::any::type_name::<A>(),
                chain: vec!["ChatGateway"]
            }
        );
        let mut r = Registry::new();
        r.require("G", 0, vec![Dependency::auto::<B>("guard")]);
        r.value(A);
        let c = block_on(r.build()).unwrap();
        assert!(
            c.try_get::<B>().is_some(),
            "auto dependencies are built on demand"
        );
    }

    #[test]
    fn module_visibility() {
        let mut r = Registry::new();
        let users = r.module(ModuleDef {
            name: "Users".into(),
            imports: vec![],
            exports: HashSet::new(),
            global: false,
        });
        let chat = r.module(ModuleDef {
            name: "Chat".into(),
            imports: vec![users],
            exports: HashSet::new(),
            global: false,
        });
        r.value_in(users, Arc::new(A));
        r.require("ChatGateway", chat, vec![Dependency::of::<A>("a")]);
        let err = block_on(r.build()).unwrap_err();
        assert!(matches!(err, DiError::NotVisible { .. }), "{err}");

        let mut r = Registry::new();
        let users = r.module(ModuleDef {
            name: "Users".into(),
            imports: vec![],
            exports: HashSet::from([TypeId::of::<A>()]),
            global: false,
        });
        let chat = r.module(ModuleDef {
            name: "Chat".into(),
            imports: vec![users],
            exports: HashSet::new(),
            global: false,
        });
        let other = r.module(ModuleDef {
            name: "Other".into(),
            imports: vec![],
            exports: HashSet::new(),
            global: false,
        });
        r.value_in(users, Arc::new(A));
        r.require("ChatGateway", chat, vec![Dependency::of::<A>("a")]);
        assert!(block_on(r.build()).is_ok());

        let mut r = Registry::new();
        let users = r.module(ModuleDef {
            name: "Users".into(),
            imports: vec![],
            exports: HashSet::from([TypeId::of::<A>()]),
            global: false,
        });
        r.value_in(users, Arc::new(A));
        let _ = other;
        let other = r.module(ModuleDef {
            name: "Other".into(),
            imports: vec![],
            exports: HashSet::new(),
            global: false,
        });
        r.require("G", other, vec![Dependency::of::<A>("a")]);
        assert!(block_on(r.build()).is_err(), "not imported");
        r = Registry::new();
        let users = r.module(ModuleDef {
            name: "Users".into(),
            imports: vec![],
            exports: HashSet::from([TypeId::of::<A>()]),
            global: true,
        });
        r.value_in(users, Arc::new(A));
        let other = r.module(ModuleDef {
            name: "Other".into(),
            imports: vec![],
            exports: HashSet::new(),
            global: false,
        });
        r.require("G", other, vec![Dependency::of::<A>("a")]);
        assert!(
            block_on(r.build()).is_ok(),
            "global modules export everywhere"
        );
    }

    #[test]
    fn a_factory_registered_after_its_dependent_is_not_a_cycle() {
        struct Db;
        struct Svc(#[allow(dead_code)] Arc<Db>);
        impl Injectable for Svc {
            fn dependencies() -> Vec<Dependency> {
                vec![Dependency::of::<Db>("db")]
            }
            fn construct(c: &Container) -> Result<Self, DiError> {
                Ok(Svc(c.get()?))
            }
        }
        let mut r = Registry::new();
        r.injectable::<Svc>();
        r.factory_in(0, |_c: Container| async move { Ok::<_, String>(Db) });
        assert!(block_on(r.build()).unwrap().try_get::<Svc>().is_some());
    }

    #[test]
    fn auto_built_enhancers_are_shared_by_modules() {
        let mut r = Registry::new();
        let a = r.module(ModuleDef {
            name: "A".into(),
            imports: vec![],
            exports: HashSet::new(),
            global: false,
        });
        let b = r.module(ModuleDef {
            name: "B".into(),
            imports: vec![],
            exports: HashSet::new(),
            global: false,
        });
        r.value(A);
        r.require("GatewayA", a, vec![Dependency::auto::<B>("guard")]);
        r.require("GatewayB", b, vec![Dependency::auto::<B>("guard")]);
        assert!(block_on(r.build()).is_ok());
    }

    #[test]
    fn factories_see_earlier_providers_and_report_errors() {
        let mut r = Registry::new();
        r.value(A);
        r.factory_in(0, |c: Container| async move {
            Ok::<_, String>(B(c.get::<A>().map_err(|e| e.to_string())?))
        });
        r.injectable::<C>();
        let c = block_on(r.build()).unwrap();
        assert!(c.try_get::<C>().is_some());

        let mut r = Registry::new();
        r.factory_in(0, |_c: Container| async move { Err::<A, _>("db down") });
        let err = block_on(r.build()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the factory of `{}` failed: db down",
                std::any::type_name::<A>()
            )
        );
    }
}
