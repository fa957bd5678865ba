//! claudemesh: one binary, several roles (CLI verbs, broker). Everything lives in the library (`src/lib.rs`, where
//! the modules are declared); this only runs it.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    claudemesh::run()
}
