use std::fmt;

/// Why the provider graph could not be built. The message names the chain of types that
/// led to the problem, e.g. `ChatGateway -> ChatService -> MessageStore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiError {
    /// No provider is registered for a type that something depends on.
    Missing {
        /// The type nobody provides.
        missing: &'static str,
        /// Who needed it, outermost first.
        chain: Vec<&'static str>,
    },
    /// The dependencies form a cycle.
    Cycle {
        /// The cycle, first type repeated at the end.
        chain: Vec<&'static str>,
    },
    /// The provider exists in a module that does not export it to the one that needs it.
    NotVisible {
        /// The provider's type.
        provider: &'static str,
        /// The module that registers it.
        module: String,
        /// The module that needs it.
        needed_in: String,
        /// Who needed it, outermost first.
        chain: Vec<&'static str>,
    },
    /// A factory returned an error.
    Factory {
        /// The type the factory builds.
        provider: &'static str,
        /// The factory's message.
        message: String,
    },
    /// A value was asked for before the graph was built, or with the wrong type.
    NotBuilt(&'static str),
}

fn chain(c: &[&'static str]) -> String {
    c.join(" -> ")
}

impl fmt::Display for DiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiError::Missing { missing, chain: c } if c.is_empty() => write!(
                f,
                "no provider for `{missing}`: register it with `.provider(..)`, `.provider_type::<{missing}>()` or `.factory(..)`"
            ),
            DiError::Missing { missing, chain: c } => write!(
                f,
                "no provider for `{missing}`, needed by {} — register it with `.provider(..)`, `.provider_type::<{missing}>()` or `.factory(..)`",
                chain(c)
            ),
            DiError::Cycle { chain: c } => write!(f, "cyclic dependency: {}", chain(c)),
            DiError::NotVisible { provider, module, needed_in, chain: c } => write!(
                f,
                "`{provider}` is provided by module `{module}`, which does not export it to `{needed_in}` (needed by {}); export it from `{module}` and import `{module}` in `{needed_in}`",
                chain(c)
            ),
            DiError::Factory { provider, message } => {
                write!(f, "the factory of `{provider}` failed: {message}")
            }
            DiError::NotBuilt(t) => write!(f, "`{t}` was asked for before it was built"),
        }
    }
}

impl std::error::Error for DiError {}
