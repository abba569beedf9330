//! The workload seam: libcontainer's `Executor`, wrapped so that isola's precompiled seccomp
//! filter is installed as the very last step before the workload runs (after capabilities
//! are dropped and no_new_privs is set, and after the start signal).

use std::collections::HashMap;

use libcontainer::workload::{Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError};
use oci_spec::runtime::Spec;

use crate::seccomp::{self, CompiledFilter};

/// An executor that installs `filter` (if any) and then runs `inner`.
#[derive(Clone)]
pub struct FilteredExecutor<E> {
    pub filter: Option<CompiledFilter>,
    pub inner: E,
}

impl<E: Executor + Clone + 'static> Executor for FilteredExecutor<E> {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(filter) = &self.filter {
            seccomp::install(filter)
                .map_err(|e| ExecutorError::Other(format!("installing the seccomp filter: {e}")))?;
        }
        self.inner.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        self.inner.validate(spec)
    }

    fn setup_envs(&self, envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        self.inner.setup_envs(envs)
    }
}
