//! Command-line entry: parses argv (clap), builds the context from the environment snapshot, dispatches to the
//! verbs and turns every failure into one exit code and one message (`error`).

mod args;
mod audit_verbs;
mod bench_verbs;
mod claude_verbs;
mod context;
mod coord_access;
mod coord_call;
mod coord_data;
mod coord_gate;
mod coord_input;
mod coord_live;
mod coord_work;
mod daemon_verbs;
mod error;
mod gate;
mod live;
mod membership;
mod messaging;
mod resources;
mod shell;
mod tui_entry;
mod warm;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::config::Env;
use crate::daemon::DaemonAction;
use crate::i18n::{self, Lang};
use crate::output::{self, Printer, Shape, ShapeError, icon};
use crate::proto::Invite;

use crate::proto::cmethod;
use args::{
    AccessAction, AuditAction, BenchAction, Cli, ClockAction, Command, ContextAction, GroupAction, InviteAction,
    InviteCmd, MemoryAction, MeshAction, MessageAction, PeerAction, ProfileAction, ScheduleAction, StateAction,
    StatusAction, StreamAction, SummaryAction, TaskAction,
};
use context::Ctx;
use error::{CliError, Exit};

pub(crate) fn main() -> ExitCode {
    // Ignore the error: it only says a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::from_process();
    if let Some(skew) = env.clock_skew_ms {
        crate::clock::set_skew_ms(skew);
    }
    i18n::init(Lang::from_locale(env.locale.as_deref()));
    crate::tui::theme::init(crate::tui::theme::Theme::detect(env.no_color, env.ascii, env.ctype_locale.as_deref()));

    let argv = args::rewrite_bare_invite(std::env::args().collect(), Invite::looks_like_url);
    let wants_json = output::argv_wants_json(argv.get(1..).unwrap_or_default());
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return clap_failure(&e, wants_json, env.no_color),
    };

    // Generated from the clap definitions alone: no home, no logging, no runtime.
    let generated = match cli.command {
        Some(Command::Completions { shell: which }) => Some(Ok(shell::completion_script(which))),
        Some(Command::Man) => Some(shell::man_page()),
        _ => None,
    };
    if let Some(text) = generated {
        return match text.and_then(|bytes| shell::print(&bytes)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report(&Printer::new(cli.global.json, env.no_color), &e),
        };
    }

    let is_server = matches!(cli.command, Some(Command::Broker(_) | Command::Daemon(_)));
    // While the full-screen UI runs, stderr is the screen: logs go to a file instead.
    if let Some(log) = tui_entry::log_file(&env, cli.command.as_ref(), &cli.global) {
        tui_entry::init_file_logging(env.log_filter.as_deref(), &log);
    } else {
        init_logging(env.log_filter.as_deref(), if is_server { "info" } else { "warn" }, env.no_color);
    }
    if let Some(Command::Broker(broker_args)) = cli.command {
        return run_broker(broker_args, &env);
    }
    if let Some(Command::Mcp(mcp_args)) = cli.command {
        return crate::mcp::run(mcp_args, &env, cli.global.mesh);
    }
    if let Some(Command::Daemon(crate::daemon::DaemonArgs { action: None | Some(DaemonAction::Run { .. }) })) =
        &cli.command
    {
        let (wait_lock, build) = match &cli.command {
            Some(Command::Daemon(crate::daemon::DaemonArgs {
                action: Some(DaemonAction::Run { wait_lock, build }),
            })) => (*wait_lock, build.clone()),
            _ => (false, None),
        };
        return run_daemon(&env, wait_lock, build);
    }

    if let Some(Command::Hook { event }) = cli.command {
        return claude_verbs::hook(event, &env);
    }

    // A bad --jq program or template, or --output-format text with --json, fails before the verb runs.
    let printer = match Shape::compile(&cli.global.output) {
        Ok(shape) => Printer::shaped(shape.leak(), env.no_color),
        Err(e) => return report(&Printer::new(true, env.no_color), &shape_error(&e)),
    };
    let command = match cli.command {
        Some(command) => command,
        // Bare `claudemesh`: a returning user launches with zero frames; a first run, an invite in the clipboard or
        // an ambiguous mesh go through the launch flow on a terminal; without one, the short help.
        None => match tui_entry::bare(&env, &cli.global) {
            Ok(tui_entry::Bare::Launch) => Command::Launch { name: None, claude_args: Vec::new() },
            Ok(tui_entry::Bare::Help) => {
                print_short_help(&printer);
                return ExitCode::SUCCESS;
            }
            Ok(tui_entry::Bare::Ended) => return ExitCode::SUCCESS,
            Err(e) => return report(&printer, &e),
        },
    };
    let result = Ctx::new(env, cli.global.clone()).and_then(|mut ctx| {
        ctx.out = printer;
        ctx.warn_permissions();
        // The policy decides before any network I/O; the decision and every write's outcome go to the audit log.
        // A verb that opens a flow is gated inside it, after its confirm screen (`tui_entry::FlowEffects`).
        let passed = if tui_entry::opens_flow(&command, &ctx.global) { None } else { gate::check(&ctx, &command)? };
        if passed.as_ref().is_some_and(|p| p.confirmed) {
            ctx.global.yes = true;
        }
        let result = dispatch(&ctx, command);
        let recorded = gate::finish(&ctx, passed, &result);
        result.and(recorded)
    });
    // A document the output flags could not shape (unknown field, jq or template failure) fails the run.
    let result = result.and_then(|()| printer.failure().map_or(Ok(()), |e| Err(shape_error(e))));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&printer, &e),
    }
}

/// Logs go to stderr (stdout carries results only); `CLAUDEMESH_LOG` / `RUST_LOG` override the level.
/// Colour only on a terminal: the daemon's log file and Claude Code's capture of the push-pipe's stderr get plain text.
fn init_logging(filter: Option<&str>, default: &str, no_color: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal() && !no_color;
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// `claudemesh daemon [run]`: serves `$CLAUDEMESH_HOME` in the foreground; logs go to stderr (the starter points
/// stderr at `logs/daemon.log`).
fn run_daemon(env: &Env, wait_lock: bool, build: Option<String>) -> ExitCode {
    let printer = Printer::new(false, env.no_color);
    let Some(home) = env.home_dir() else {
        let e = CliError::from(crate::config::ConfigError::NoHome);
        return report(&printer, &e);
    };
    match crate::daemon::run(home, wait_lock, build) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            printer.error("daemon", &e.to_string(), None);
            Exit::Internal.code()
        }
    }
}

/// `claudemesh broker`: its data defaults to `$CLAUDEMESH_HOME/broker`.
fn run_broker(args: crate::broker::BrokerArgs, env: &Env) -> ExitCode {
    let printer = Printer::new(false, env.no_color);
    let Some(home) = env.home_dir() else {
        let e = CliError::from(crate::config::ConfigError::NoHome);
        return report(&printer, &e);
    };
    match crate::broker::run(args, home.join("broker")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            printer.error("broker", &e.to_string(), None);
            Exit::Internal.code()
        }
    }
}

fn dispatch(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Broker(_) => Err(CliError::internal("broker dispatched twice")),
        Command::New(a) | Command::Mesh { action: MeshAction::New(a) } => match a.mesh_name.as_deref() {
            Some(name) => membership::new_mesh(ctx, name, a.broker.as_deref(), a.display_name.as_deref()),
            None => tui_entry::new_mesh(ctx, &a),
        },
        Command::Invite(InviteCmd { action: None, create: a })
            if !a.any_given() && tui_entry::interactive(&ctx.global) =>
        {
            tui_entry::invite(ctx)
        }
        Command::Invite(InviteCmd { action: None, create: a })
        | Command::Invite(InviteCmd { action: Some(InviteAction::Create(a)), .. }) => {
            membership::invite(ctx, a.role(), a.expires(), a.uses())
        }
        Command::Invite(InviteCmd { action: Some(InviteAction::List), .. }) => resources::invite_list(ctx),
        Command::Invite(InviteCmd { action: Some(InviteAction::Revoke { id }), .. }) => {
            resources::invite_revoke(ctx, &id)
        }
        Command::Join { url, display_name } if tui_entry::interactive(&ctx.global) => {
            tui_entry::join(ctx, &url, display_name.as_deref())
        }
        Command::Join { url, display_name } => membership::join(ctx, &url, display_name.as_deref()),
        Command::List | Command::Mesh { action: MeshAction::List } => membership::list(ctx),
        Command::Mesh { action: MeshAction::Info } => resources::mesh_info(ctx),
        Command::Mesh { action: MeshAction::Use { slug } } => resources::mesh_use(ctx, &slug),
        Command::Rename(a) | Command::Mesh { action: MeshAction::Rename(a) } => membership::rename(ctx, &a.name),
        Command::Leave(a) | Command::Mesh { action: MeshAction::Leave(a) } => {
            membership::leave(ctx, a.mesh_slug.as_deref())
        }
        Command::Whoami => membership::whoami(ctx),
        Command::Send(a) | Command::Message { action: MessageAction::Send(a) } => {
            messaging::send(ctx, &a.to, &a.text, a.priority, a.ttl)
        }
        Command::Inbox(a) | Command::Message { action: MessageAction::Inbox(a) } => {
            messaging::inbox(ctx, a.unread, a.follow)
        }
        Command::Peers(a) | Command::Peer { action: PeerAction::List(a) } => messaging::peers(ctx, a.watch),
        Command::MsgStatus(a) | Command::Message { action: MessageAction::Status(a) } => {
            messaging::msg_status(ctx, &a.id)
        }
        Command::Status { action: StatusAction::Set { status } } => messaging::status_set(ctx, status),
        Command::Summary { action: SummaryAction::Set { text } } => messaging::summary_set(ctx, &text),
        Command::Profile { action: ProfileAction::Show } => resources::profile_show(ctx),
        Command::Profile { action: ProfileAction::Set(a) } => resources::profile_set(ctx, a),
        Command::Group { action: GroupAction::Join { name, role } } => {
            messaging::group_join(ctx, &name, role.as_deref())
        }
        Command::Group { action: GroupAction::Leave { name } } => messaging::group_leave(ctx, &name),
        Command::Group { action: GroupAction::List } => resources::group_list(ctx),
        Command::Install => claude_verbs::install(ctx),
        Command::Uninstall => claude_verbs::uninstall(ctx),
        Command::Launch { name, claude_args } => claude_verbs::launch(ctx, name.as_deref(), &claude_args),
        Command::Dash => tui_entry::dash(ctx),
        Command::Audit { action: AuditAction::Show { limit } } => audit_verbs::show(ctx, limit),
        Command::Audit { action: AuditAction::Verify } => audit_verbs::verify(ctx),
        Command::Hook { .. } => Err(CliError::internal("hook dispatched as a verb")),
        Command::Daemon(crate::daemon::DaemonArgs { action: Some(DaemonAction::Status) }) => daemon_verbs::status(ctx),
        Command::Daemon(crate::daemon::DaemonArgs { action: Some(DaemonAction::Stop) }) => daemon_verbs::stop(ctx),
        Command::Daemon(_) | Command::Mcp(_) => Err(CliError::internal("long-running role dispatched as a verb")),
        Command::Completions { .. } | Command::Man => Err(CliError::internal("generated text dispatched as a verb")),
        Command::Bench { action: BenchAction::Load(a) } => bench_verbs::load(ctx, &a),
        Command::Bench { action: BenchAction::Recall(a) } => bench_verbs::recall(ctx, &a),
        Command::Bench { action: BenchAction::State(a) } => bench_verbs::state(ctx, &a),
        command => dispatch_coord(ctx, command),
    }
}

/// The coordination verbs (docs/coordination.md): state, memory, tasks, contexts, streams, schedules, clock,
/// access.
fn dispatch_coord(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::State { action } => match action {
            StateAction::Get { key } => coord_data::state_get(ctx, &key),
            StateAction::Set(a) => coord_data::state_set(ctx, &a),
            StateAction::List { prefix, limit } => coord_data::state_list(ctx, prefix.as_deref(), limit),
            StateAction::Delete { key, if_version } => coord_data::state_delete(ctx, &key, if_version),
            StateAction::Watch { prefix } => coord_live::state_watch(ctx, prefix.as_deref()),
        },
        Command::Remember(a) | Command::Memory { action: MemoryAction::Remember(a) } => coord_data::remember(ctx, &a),
        Command::Recall(a) | Command::Memory { action: MemoryAction::Recall(a) } => coord_data::recall(ctx, &a),
        Command::Forget(a) | Command::Memory { action: MemoryAction::Forget(a) } => coord_data::forget(ctx, &a.id),
        Command::Task { action } => match action {
            TaskAction::Create(a) => coord_work::task_create(ctx, &a),
            TaskAction::List(a) => coord_work::task_list(ctx, &a),
            TaskAction::Show(a) => coord_work::task_show(ctx, &a.id),
            TaskAction::Claim(a) => coord_work::task_claim(ctx, &a.id),
            TaskAction::Release(a) => coord_work::task_step(ctx, cmethod::TASK_RELEASE, &a.id, None),
            TaskAction::Complete { id, result } => {
                coord_work::task_step(ctx, cmethod::TASK_COMPLETE, &id, result.as_deref())
            }
            TaskAction::Cancel(a) => coord_work::task_step(ctx, cmethod::TASK_CANCEL, &a.id, None),
        },
        Command::Context { action } => match action {
            ContextAction::Share(a) => coord_data::context_share(ctx, &a),
            ContextAction::Get { peer } => coord_data::context_get(ctx, &peer),
            ContextAction::List { query } => coord_data::context_list(ctx, &query),
        },
        Command::Stream { action } => match action {
            StreamAction::Create { name } => coord_live::stream_create(ctx, &name),
            StreamAction::Publish { name, data } => coord_live::stream_publish(ctx, &name, &data),
            StreamAction::Subscribe { name } => coord_live::stream_subscribe(ctx, &name),
            StreamAction::List => coord_live::stream_list(ctx),
        },
        Command::Remind(a) | Command::Schedule { action: ScheduleAction::Msg(a) } => coord_work::schedule_msg(ctx, &a),
        Command::Schedule { action: ScheduleAction::List } => coord_work::schedule_list(ctx),
        Command::Schedule { action: ScheduleAction::Cancel(a) } => coord_work::schedule_cancel(ctx, &a.id),
        Command::Clock { action } => match action {
            ClockAction::Get => coord_live::clock(ctx, cmethod::CLOCK_GET, None, None),
            ClockAction::Set { time, rate } => coord_live::clock(ctx, cmethod::CLOCK_SET, Some(&time), rate),
            ClockAction::Pause => coord_live::clock(ctx, cmethod::CLOCK_PAUSE, None, None),
            ClockAction::Resume => coord_live::clock(ctx, cmethod::CLOCK_RESUME, None, None),
        },
        Command::Grant(a) => coord_access::caps(ctx, cmethod::ACCESS_GRANT, &a.peer, &a.caps),
        Command::Revoke(a) => coord_access::caps(ctx, cmethod::ACCESS_REVOKE, &a.peer, &a.caps),
        Command::Block(a) => coord_access::member_step(ctx, cmethod::ACCESS_BLOCK, &a.peer),
        Command::Unblock(a) => coord_access::member_step(ctx, cmethod::ACCESS_UNBLOCK, &a.peer),
        Command::Ban(a) => coord_access::member_step(ctx, cmethod::ACCESS_BAN, &a.peer),
        Command::Unban(a) => coord_access::member_step(ctx, cmethod::ACCESS_UNBAN, &a.peer),
        Command::Kick(a) => coord_access::kick(ctx, &a.peer),
        Command::Role(a) => coord_access::role(ctx, &a.peer, a.role),
        Command::Access { action: AccessAction::List { peer } } => coord_access::access_list(ctx, peer.as_deref()),
        Command::Mesh { action: MeshAction::Delete } => coord_access::mesh_delete(ctx),
        _ => Err(CliError::internal("a verb without a handler")),
    }
}

/// Prints the error (localized text for people, English JSON for programs) and returns its exit code.
fn report(printer: &Printer, e: &CliError) -> ExitCode {
    let lang = if printer.json { Lang::En } else { i18n::current() };
    printer.error(e.reason, &e.message_in(lang), e.hint_in(lang).as_deref());
    e.exit.code()
}

/// The output contract's failures: all are invalid arguments (exit 3), with the parser's or renderer's words.
fn shape_error(e: &ShapeError) -> CliError {
    let error = match e {
        ShapeError::UnknownField { unknown, valid } => CliError::invalid("err-output-unknown-field")
            .arg("fields", unknown.as_str())
            .arg("valid", valid.as_str())
            .hint("hint-output-fields"),
        ShapeError::TextWithJson => CliError::invalid("err-output-text-with-json").hint("hint-output-text"),
        ShapeError::JqSyntax(detail) => CliError::invalid("err-output-jq-syntax").arg("detail", detail.as_str()),
        ShapeError::JqRun(detail) => CliError::invalid("err-output-jq-run").arg("detail", detail.as_str()),
        ShapeError::TemplateSyntax(detail) => {
            CliError::invalid("err-output-template-syntax").arg("detail", detail.as_str())
        }
        ShapeError::TemplateRender(detail) => {
            CliError::invalid("err-output-template-render").arg("detail", detail.as_str())
        }
    };
    match e {
        ShapeError::JqSyntax(_) | ShapeError::JqRun(_) => error.hint("hint-output-jq"),
        ShapeError::TemplateSyntax(_) | ShapeError::TemplateRender(_) => error.hint("hint-output-template"),
        ShapeError::UnknownField { .. } | ShapeError::TextWithJson => error,
    }
}

/// clap's own outcomes: help and version exit 0; usage errors exit 3 (clap's default 2 means "auth failed" here).
fn clap_failure(e: &clap::Error, json: bool, no_color: bool) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ if json => {
            // clap's first paragraph, on one line ("unexpected argument '--x' found", "… not provided: <TO>").
            let rendered = e.render().to_string();
            let first: Vec<&str> = rendered.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
            let message = first.join(" ").trim_start_matches("error: ").to_string();
            let printer = Printer::new(true, no_color);
            printer.error("invalid_arguments", &message, Some(&i18n::t_in(Lang::En, "hint-help", &[])));
            Exit::InvalidArgs.code()
        }
        _ => {
            let _ = e.print();
            Exit::InvalidArgs.code()
        }
    }
}

/// The names of the visible top-level verbs.
fn visible_commands() -> Vec<String> {
    use clap::CommandFactory;
    Cli::command().get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name().to_string()).collect()
}

fn print_short_help(printer: &Printer) {
    if printer.json {
        printer.json(serde_json::json!({
            "name": "claudemesh",
            "version": env!("CARGO_PKG_VERSION"),
            // From the clap definition, so a new verb is listed without anyone remembering to.
            "commands": visible_commands(),
        }));
        return;
    }
    printer.line(&format!("claudemesh {}", env!("CARGO_PKG_VERSION")));
    printer.line(&i18n::t("help-tagline"));
    printer.line("");
    for id in ["help-start-new", "help-start-join", "help-daily", "help-all"] {
        printer.line(&format!("  {} {}", icon::NEXT, i18n::t(id)));
    }
}
