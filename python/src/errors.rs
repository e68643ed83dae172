//! simgap's errors as Python exceptions: the CLI's message (file, line or record, key) and exit code, raised as
//! `simgap.SimgapConfigError` (bad settings or usage: the CLI's exit 2; also a `ValueError`) or `simgap.SimgapError`
//! (bad data, I/O: exit 1). The classes are defined in Python (`simgap/_errors.py`), where a class can have two bases.
//!
//! Consumes: any error of the engine. Produces: a `PyErr` with `exit_code` set.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The Python exception for `error`, with the CLI's text and its exit code.
pub fn to_python(error: anyhow::Error) -> PyErr {
    let message = simgap::cli::outcome::describe(&error);
    let usage = simgap::cli::outcome::exit_code_for(&error) == std::process::ExitCode::from(2);
    raise(message, usage)
}

/// A bad argument to a binding, as a `SimgapConfigError` (exit code 2).
pub fn config_error(message: impl Into<String>) -> PyErr {
    raise(message.into(), true)
}

/// Bad data in an argument (a table simgap cannot read), as a `SimgapError` (exit code 1).
pub fn data_error(message: impl Into<String>) -> PyErr {
    raise(message.into(), false)
}

fn raise(message: String, usage: bool) -> PyErr {
    Python::attach(|py| {
        let class = if usage { "SimgapConfigError" } else { "SimgapError" };
        let made = py
            .import("simgap._errors")
            .and_then(|module| module.getattr(class))
            .and_then(|class| class.call1((message.clone(), if usage { 2 } else { 1 })));
        match made {
            Ok(exception) => PyErr::from_value(exception),
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}
