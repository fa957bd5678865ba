//! Command-line entry: argv parsing and dispatch (under construction).

pub(crate) fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
