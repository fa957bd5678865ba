//! The CLI's doors into the full-screen UI: `claudemesh dash`; bare `claudemesh` (first run, an invite in the
//! clipboard, an ambiguous mesh); `claudemesh <url>`/`join`, `new` without a name and `invite` without flags on a
//! terminal. Each decides between the flow and the plain verb (`-y`, `--json` or no terminal: never a frame), and
//! supplies the flows' effects from the same functions the verbs use. What the TUI does lives in `crate::tui`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{Config, Env};
use crate::i18n;
use crate::tui::{self, Effects, Expiry, FlowId, FlowState, InviteCard, InviteRole, JoinFailure, Start, TuiError};

use super::args::{Command, GlobalFlags, InviteCmd, NewArgs};
use super::context::Ctx;
use super::error::{CliError, Exit};
use super::gate::{self, Ask, Classified, Passed};
use super::membership;

/// How long bare `claudemesh` waits for a clipboard tool before going on without it.
const CLIPBOARD_WAIT: Duration = Duration::from_millis(300);

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

fn is_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// A person at a terminal who did not ask for scripted behaviour: stdin and stdout are terminals, no `--json`,
/// no `-y`. Only then does a verb show a flow.
pub(crate) fn interactive(global: &GlobalFlags) -> bool {
    !global.json && !global.yes && is_terminal()
}

/// The verb opens a flow whose work (create, join, invite) passes the policy gate inside the flow, once the person
/// has confirmed on its screen (`FlowEffects`), so `cli::main` does not gate it again before dispatch.
pub(crate) fn opens_flow(command: &Command, global: &GlobalFlags) -> bool {
    use super::args::MeshAction;
    match command {
        Command::Join { .. } => interactive(global),
        Command::New(a) | Command::Mesh { action: MeshAction::New(a) } => a.mesh_name.is_none() && interactive(global),
        Command::Invite(InviteCmd { action: None, create }) => !create.any_given() && interactive(global),
        _ => false,
    }
}

/// What bare `claudemesh` does after `bare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bare {
    /// A mesh is selected: `launch` it (zero frames).
    Launch,
    /// Nothing to launch and no terminal to ask on: the short help.
    Help,
    /// A flow ran and ended without handing off (a handoff never returns).
    Ended,
}

/// Bare `claudemesh`. In order: an invite in the clipboard (a person at a terminal who named no mesh) → the join
/// confirm; a selected mesh → launch, zero frames; no mesh yet → create the personal mesh (the welcome on a
/// terminal, silently with `-y`) and launch; one mesh → launch it; several and none selected → the picker, or with
/// `-y`/no terminal a usage error naming `--mesh`.
pub(crate) fn bare(env: &Env, global: &GlobalFlags) -> Result<Bare, CliError> {
    if global.json {
        return Ok(Bare::Help);
    }
    let Ok(ctx) = Ctx::new(env.clone(), global.clone()) else { return Ok(Bare::Help) };
    let config = ctx.load_config()?;
    let tty = is_terminal();
    let explicit = global.mesh.is_some() || env.mesh.is_some();
    let selected = ctx.select_mesh(&config, None).ok().map(|m| m.slug.clone());
    let only = (config.meshes.len() == 1).then(|| config.meshes.first().map(|m| m.slug.clone())).flatten();

    if tty
        && !global.yes
        && !explicit
        && let Some(card) = clipboard_invite(&ctx, &config)
    {
        let mut state = FlowState::join(card, selected.clone().or(only.clone()));
        state.meshes = config.meshes.iter().map(|m| m.slug.clone()).collect();
        if config.meshes.is_empty() {
            state.new_name = Some(personal_mesh_name(env));
        }
        return run_flow(&ctx, FlowId::Launch, state, FlowEffects::new(&ctx, None, None)).map(|()| Bare::Ended);
    }
    if selected.is_some() {
        return Ok(Bare::Launch);
    }
    if explicit {
        // `--mesh` or $CLAUDEMESH_MESH names a mesh that is not there: say so.
        return ctx.select_mesh(&config, None).map(|_| Bare::Launch);
    }
    if config.meshes.is_empty() {
        let name = personal_mesh_name(env);
        if global.yes {
            crate::claude::ClaudeBinary::find(env)?;
            // The same gate as `new NAME` (`--yes` answers a prompt), decided and recorded before any network I/O.
            let passed = gate::check_op(&ctx, Classified::mesh_new(), Ask::Terminal)?;
            let created = membership::create_mesh(&ctx, &name, None, None).map(drop);
            gate::finish_op(&ctx, passed, created.as_ref().err())?;
            return created.map(|()| Bare::Launch);
        }
        if !tty {
            return Ok(Bare::Help);
        }
        // The first run creates the personal mesh without a keystroke, so there is no screen to confirm on: the
        // policy decides (and a prompt asks, on the still cooked terminal) before the welcome is drawn; a deny
        // stops here with its message and next action, and nothing is created.
        crate::claude::ClaudeBinary::find(env)?;
        let passed = gate::check_op(&ctx, Classified::mesh_new(), Ask::Terminal)?;
        let effects = FlowEffects::new(&ctx, None, None).approved(passed);
        return run_flow(&ctx, FlowId::Launch, FlowState::first_run(&name), effects).map(|()| Bare::Ended);
    }
    if let Some(slug) = only {
        // One mesh and none current: it is the one (the flow resolves straight to the handoff, no frame).
        let state = FlowState { mesh: Some(slug), ..FlowState::default() };
        return run_flow(&ctx, FlowId::Launch, state, FlowEffects::new(&ctx, None, None)).map(|()| Bare::Ended);
    }
    let known: Vec<String> = config.meshes.iter().map(|m| m.slug.clone()).collect();
    if global.yes || !tty {
        return Err(CliError::invalid("err-mesh-ambiguous").arg("known", known.join(", ")).hint("hint-mesh-flag"));
    }
    let state = FlowState { meshes: known, ..FlowState::default() };
    run_flow(&ctx, FlowId::Launch, state, FlowEffects::new(&ctx, None, None)).map(|()| Bare::Ended)
}

/// `claudemesh new` without a name: the one question on a terminal; otherwise a usage error naming the argument.
pub(crate) fn new_mesh(ctx: &Ctx, args: &NewArgs) -> Result<(), CliError> {
    if !interactive(&ctx.global) {
        return Err(CliError::invalid("err-new-needs-name").hint("hint-new-name"));
    }
    let effects = FlowEffects::new(ctx, args.broker.clone(), args.display_name.clone());
    run_flow(ctx, FlowId::New, FlowState::default(), effects)
}

/// `claudemesh invite` on a terminal without flags: role and expiry, then the link (copied) and its QR code.
pub(crate) fn invite(ctx: &Ctx) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    membership::require_admin(entry, "err-invite-needs-admin")?;
    let state = FlowState { invite_mesh: Some(entry.name.clone()), ..FlowState::default() };
    run_flow(ctx, FlowId::Invite, state, FlowEffects::new(ctx, None, None))
}

/// `claudemesh <url>` / `join <url>` on a terminal: the confirm screen; an invite that fails its local checks opens
/// on the invite-invalid overlay; a mesh already joined hands off at once.
pub(crate) fn join(ctx: &Ctx, url: &str, display: Option<&str>) -> Result<(), CliError> {
    let effects = FlowEffects::new(ctx, None, display.map(str::to_string));
    let invite = match membership::check_invite(url) {
        Ok(invite) => invite,
        Err(e) if membership::is_invite_refusal(&e) => {
            let mut start = start(ctx, FlowId::Join, FlowState { failed: true, ..FlowState::default() }, effects);
            start.invite_invalid = Some(describe(&e));
            return tui::run(&ctx.env, start).map(drop).map_err(CliError::from);
        }
        Err(e) => return Err(e),
    };
    let config = ctx.load_config()?;
    let mut state = FlowState::join(card(url, &invite, false), None);
    if let Some(existing) = config.by_id(invite.mesh.as_str()) {
        state.mesh = Some(existing.slug.clone());
        state.welcomed = true;
    }
    run_flow(ctx, FlowId::Join, state, effects)
}

fn card(url: &str, invite: &crate::proto::Invite, from_clipboard: bool) -> InviteCard {
    InviteCard {
        url: url.trim().to_string(),
        mesh: invite.mesh_name.clone(),
        inviter: invite.inviter.clone(),
        role: invite.role.as_str().to_string(),
        broker: invite.broker.clone(),
        from_clipboard,
    }
}

/// An invite link in the clipboard that passes the local checks and is for a mesh not joined yet. Anything else
/// (no tool, no link, an expired one) is skipped without a word: nobody asked for it.
fn clipboard_invite(ctx: &Ctx, config: &Config) -> Option<InviteCard> {
    let text = match &ctx.env.clipboard {
        Some(text) => text.clone(),
        None => tui::read_clipboard(ctx.env.path.as_deref(), CLIPBOARD_WAIT)?,
    };
    let text = text.trim();
    if !crate::proto::Invite::looks_like_url(text) {
        return None;
    }
    let invite = membership::check_invite(text).ok()?;
    if config.by_id(invite.mesh.as_str()).is_some() {
        return None;
    }
    Some(card(text, &invite, true))
}

/// The personal mesh's name on first run: this machine's host name (seed §2.1: "alejandro-mbp"), else
/// `<user>-mesh`, else `my-mesh`.
fn personal_mesh_name(env: &Env) -> String {
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().split('.').next().unwrap_or("").to_string())
        .filter(|h| crate::proto::is_valid_name(h));
    host.or_else(|| env.user.as_ref().map(|u| format!("{u}-mesh")).filter(|n| crate::proto::is_valid_name(n)))
        .unwrap_or_else(|| "my-mesh".to_string())
}

fn start(ctx: &Ctx, flow: FlowId, state: FlowState, effects: FlowEffects) -> Start {
    let mut start = Start::new(flow);
    start.flow_state = state;
    start.effects = Some(Arc::new(effects));
    start.name = ctx.env.session_name.clone();
    start
}

/// Runs a flow; returns when it ended without a handoff (which execs `claude` and returns only on failure). A flow
/// that ends in Claude Code first checks that `claude` is there, so nothing is created or joined for a handoff that
/// cannot happen (seed §2.8: "Claude Code isn't installed …", exit 9).
fn run_flow(ctx: &Ctx, flow: FlowId, state: FlowState, effects: FlowEffects) -> Result<(), CliError> {
    if flow != FlowId::Invite {
        crate::claude::ClaudeBinary::find(&ctx.env)?;
    }
    tui::run(&ctx.env, start(ctx, flow, state, effects)).map(drop).map_err(CliError::from)
}

/// The flows' effects, done by the verbs' own functions (`membership::create_mesh`, `redeem`, `create_invite`).
/// Each call builds its context afresh on the effect's thread and prints nothing. Each passes the policy gate
/// (`gate::check_op`) before any network I/O and records its outcome as soon as it is done, so the audit log is
/// complete before the handoff's exec.
struct FlowEffects {
    env: Env,
    global: GlobalFlags,
    broker: Option<String>,
    display: Option<String>,
    /// Work the gate let through before the terminal was entered (a first run's personal mesh).
    approved: Mutex<Option<Passed>>,
}

impl FlowEffects {
    fn new(ctx: &Ctx, broker: Option<String>, display: Option<String>) -> Self {
        Self { env: ctx.env.clone(), global: ctx.global.clone(), broker, display, approved: Mutex::new(None) }
    }

    fn approved(self, passed: Passed) -> Self {
        Self { approved: Mutex::new(Some(passed)), ..self }
    }

    fn ctx(&self) -> Result<Ctx, CliError> {
        Ctx::new(self.env.clone(), self.global.clone())
    }

    /// Runs `work` behind the gate: a pass given before the terminal was entered, else the policy's decision now
    /// (a `prompt` counts as answered: the person just confirmed this very operation on the flow's screen). A
    /// deny returns its error (message and next action, shown on the screen) and `work` never runs.
    fn gated<T>(&self, what: Classified, work: impl FnOnce(&Ctx) -> Result<T, CliError>) -> Result<T, CliError> {
        let ctx = self.ctx()?;
        let approved = self.approved.lock().ok().and_then(|mut a| a.take_if(|p| p.covers(&what)));
        let passed = match approved {
            Some(passed) => passed,
            None => gate::check_op(&ctx, what, Ask::Screen)?,
        };
        let result = work(&ctx);
        let recorded = gate::finish_op(&ctx, passed, result.as_ref().err());
        let value = result?;
        recorded.map(|()| value)
    }
}

/// The error as one text for a screen: the message, then its hint (the one next action). An invite's own fault
/// without a hint of its own gets the one that always applies: ask for a new invite.
fn describe(e: &CliError) -> String {
    let lang = i18n::current();
    let hint = e.hint_in(lang).or_else(|| membership::is_invite_refusal(e).then(|| i18n::t("hint-ask-new-invite")));
    match hint {
        Some(hint) => format!("{} {hint}", e.message_in(lang)),
        None => e.message_in(lang),
    }
}

impl Effects for FlowEffects {
    fn create_mesh(&self, name: &str) -> Result<String, String> {
        self.gated(Classified::mesh_new(), |ctx| {
            membership::create_mesh(ctx, name, self.broker.as_deref(), self.display.as_deref())
        })
        .map(|(entry, _)| entry.slug)
        .map_err(|e| describe(&e))
    }

    fn join(&self, url: &str) -> Result<String, JoinFailure> {
        let failure = |e: CliError| {
            if membership::is_invite_refusal(&e) {
                JoinFailure::Refused(describe(&e))
            } else {
                JoinFailure::Other(describe(&e))
            }
        };
        // The link's own checks are local (decode, signature, expiry); the gate decides before the broker is asked.
        let invite = membership::check_invite(url).map_err(failure)?;
        self.gated(Classified::mesh_join(), |ctx| membership::redeem(ctx, &invite, self.display.as_deref()))
            .map(|(entry, ..)| entry.slug)
            .map_err(failure)
    }

    fn create_invite(&self, role: InviteRole, expiry: Expiry) -> Result<String, String> {
        let made = self.gated(Classified::invite_create(), |ctx| {
            let config = ctx.load_config()?;
            let entry = ctx.select_mesh(&config, None)?;
            let role = match role {
                InviteRole::Admin => super::args::InviteRole::Admin,
                InviteRole::Member => super::args::InviteRole::Member,
                InviteRole::Guest => super::args::InviteRole::Guest,
            };
            membership::create_invite(ctx, entry, role, expiry.duration(), 1)
        });
        made.map(|(url, ..)| url).map_err(|e| describe(&e))
    }
}

/// Where logs go when this run may take the screen (`dash`, and bare `claudemesh`, `join`, `new` without a name
/// and `invite` without flags on a terminal): `$CLAUDEMESH_HOME/logs/tui.log`. `None`: stderr as usual.
pub(crate) fn log_file(env: &Env, command: Option<&Command>, global: &GlobalFlags) -> Option<PathBuf> {
    let takes_screen = match command {
        Some(Command::Dash) => true,
        None => !global.json && is_terminal(),
        Some(Command::Join { .. }) => interactive(global),
        Some(Command::New(a)) => a.mesh_name.is_none() && interactive(global),
        Some(Command::Invite(InviteCmd { action: None, create })) => !create.any_given() && interactive(global),
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
