use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use super::DiError;

/// The built providers, by type. Reading is a hash lookup; it happens at build time
/// (constructors, gateway wiring), never per message.
#[derive(Default, Clone)]
pub struct Container {
    values: HashMap<TypeId, (Arc<dyn Any + Send + Sync>, &'static str)>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.values.values().map(|(_, name)| name))
            .finish()
    }
}

impl Container {
    /// The provider of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Result<Arc<T>, DiError> {
        self.try_get()
            .ok_or(DiError::NotBuilt(std::any::type_name::<T>()))
    }

    /// The provider of type `T`, if built.
    pub fn try_get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let (value, _) = self.values.get(&TypeId::of::<T>())?;
        value.clone().downcast::<T>().ok()
    }

    /// Whether a provider of type `id` was built.
    pub fn contains(&self, id: TypeId) -> bool {
        self.values.contains_key(&id)
    }

    /// Adds a built value (replacing one of the same type).
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        self.values
            .insert(TypeId::of::<T>(), (value, std::any::type_name::<T>()));
    }

    pub(crate) fn insert_erased(
        &mut self,
        id: TypeId,
        name: &'static str,
        value: Arc<dyn Any + Send + Sync>,
    ) {
        self.values.insert(id, (value, name));
    }

    /// Names of the built providers.
    pub fn type_names(&self) -> Vec<&'static str> {
        self.values.values().map(|(_, n)| *n).collect()
    }
}
