//! The CLI's doors into the full-screen UI: `claudemesh dash`, and bare `claudemesh` on a terminal with no mesh
//! yet (the launch flow). Only wiring: what the TUI does lives in `crate::tui`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::config::Env;
use crate::tui::{self, FlowId, FlowState, Start, TuiError};

use super::args::{Command, GlobalFlags};
use super::context::Ctx;
use super::error::{CliError, Exit};

/// `claudemesh dash [--mesh SLUG]`.
pub(crate) fn dash(ctx: &Ctx) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let mesh = ctx.select_mesh(&config, None)?;
    let mut start = Start::new(FlowId::Dash);
    start.home = Some(ctx.home.root().to_path_buf());
    start.mesh = Some(mesh.slug.clone());
    start.flow_state.mesh = Some(mesh.slug.clone());
    tui::run(&ctx.env, start).map(drop).map_err(CliError::from)
}

/// Bare `claudemesh` with no mesh selected: on a terminal (and without `--json`), runs the launch flow. Returns
/// when the flow ended without a handoff; the caller then prints the short help.
pub(crate) fn first_run(env: &Env, global: &GlobalFlags) -> Result<(), CliError> {
    if global.json || !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Ok(());
    }
    let mut start = Start::new(FlowId::Launch);
    start.flow_state = FlowState { first_run: true, ..FlowState::default() };
    start.home = None;
    tui::run(env, start).map(drop).map_err(CliError::from)
}

/// Where logs go when this run may take the screen (`dash`, bare `claudemesh` on a terminal):
/// `$CLAUDEMESH_HOME/logs/tui.log`. `None`: stderr as usual.
pub(crate) fn log_file(env: &Env, command: Option<&Command>, json: bool) -> Option<PathBuf> {
    let takes_screen = match command {
        Some(Command::Dash) => true,
        None => !json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal(),
        Some(_) => false,
    };
    takes_screen.then(|| env.home_dir()).flatten().map(|home| home.join("logs").join("tui.log"))
}

/// Logs (default level `warn`) appended to `path`, private to the user; when the file cannot be opened, no logs.
pub(crate) fn init_file_logging(filter: Option<&str>, path: &Path) {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    // The home and its logs are private (0700), like everything claudemesh creates there.
    let private_dirs = |dir: &Path| std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
    let opened = path
        .parent()
        .map_or(Ok(()), private_dirs)
        .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path));
    let Ok(file) = opened else { return };
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or("warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

impl From<TuiError> for CliError {
    fn from(e: TuiError) -> Self {
        match e {
            TuiError::NotATerminal => CliError::new(Exit::InvalidArgs, "not_a_terminal", "err-tui-not-a-terminal")
                .hint("hint-tui-not-a-terminal"),
            TuiError::Terminal(e) => {
                CliError::new(Exit::Internal, "terminal", "err-tui-terminal").arg("detail", e.to_string())
            }
            TuiError::Claude(e) => CliError::from(e),
        }
    }
}
