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
    /// Always one line (the CLI's contract): an id or a cause holding a newline or another
    /// control character (a hostile id, a multi-line library error) is escaped, and an id
    /// longer than any valid one is cut.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = one_line(&self.cause);
        match &self.id {
            Some(id) => write!(f, "container {}: {}: {cause}", printable_id(id), self.step),
            None => write!(f, "{}: {cause}", self.step),
        }
    }
}

/// The id as given when it is printable, else quoted with escapes; cut past 1024 bytes.
fn printable_id(id: &str) -> String {
    let cut = if id.len() > isola_policy::id::MAX_ID_LEN {
        let end = (0..=64).rev().find(|i| id.is_char_boundary(*i)).unwrap_or(0);
        format!("{}... ({} bytes)", &id[..end], id.len())
    } else {
        id.to_string()
    };
    if cut.chars().any(char::is_control) {
        format!("{cut:?}")
    } else {
        cut
    }
}

/// Joins the lines of a multi-line cause with "; " and escapes other control characters.
fn one_line(cause: &str) -> String {
    let joined = cause.trim_end().lines().map(str::trim_end).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    if joined.chars().any(char::is_control) {
        joined.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
    } else {
        joined
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
