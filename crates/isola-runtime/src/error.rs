//! The runtime's one error type: which container, which step, what went wrong.

use std::fmt;

/// An error of a lifecycle verb. Displays as `container ID: STEP: CAUSE`.
#[derive(Debug, thiserror::Error)]
pub struct RuntimeError {
    pub id: Option<String>,
    pub step: &'static str,
    pub cause: String,
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "container {id}: {}: {}", self.step, self.cause),
            None => write!(f, "{}: {}", self.step, self.cause),
        }
    }
}

impl RuntimeError {
    pub fn new(id: &str, step: &'static str, cause: impl fmt::Display) -> Self {
        Self { id: Some(id.to_string()), step, cause: cause.to_string() }
    }

    pub fn global(step: &'static str, cause: String) -> Self {
        Self { id: None, step, cause }
    }
}

/// Attaches the container and step to any displayable error.
pub(crate) trait Step<T> {
    fn step(self, id: &str, step: &'static str) -> Result<T, RuntimeError>;
}

impl<T, E: fmt::Display> Step<T> for Result<T, E> {
    fn step(self, id: &str, step: &'static str) -> Result<T, RuntimeError> {
        self.map_err(|e| RuntimeError::new(id, step, e))
    }
}
