//! The CLI's doors into the full-screen UI: `claudemesh dash`, and bare `claudemesh` on a terminal with no mesh
//! yet (the launch flow). Only wiring: what the TUI does lives in `crate::tui`.

use std::io::IsTerminal;

use crate::config::Env;
use crate::tui::{self, FlowId, FlowState, Start, TuiError};

use super::args::GlobalFlags;
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
