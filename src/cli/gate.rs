//! The gate every broker-touching verb passes before any network I/O: classify the verb, evaluate the policy
//! (user, `--policy`, admin), prompt on a terminal or refuse, and record the decision — and later the outcome of
//! every write — in the hash-chained audit log.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use crate::audit::{self, ActionClass, AuditEvent, EventKind, Outcome};
use crate::i18n;
use crate::policy::{ApprovalMode, Decision, OpClass, Operation, Policy};

use super::args::{
    Command, GroupAction, InviteAction, InviteCmd, MeshAction, MessageAction, PeerAction, ProfileAction,
};
use super::context::{Ctx, now_ms};
use super::error::{CliError, Exit};

/// The admin policy read when `$CLAUDEMESH_ADMIN_POLICY` is not set.
const ADMIN_POLICY: &str = "/etc/claudemesh/policy.yaml";

/// What a verb is, for the policy and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classified {
    pub resource: &'static str,
    pub verb: &'static str,
    pub class: OpClass,
    pub peers: Vec<String>,
}

fn op(resource: &'static str, verb: &'static str, class: OpClass) -> Option<Classified> {
    Some(Classified { resource, verb, class, peers: Vec::new() })
}

impl Classified {
    /// `mesh new`: creating a mesh (the verb, `new` without a name, and a first run's personal mesh).
    pub(crate) fn mesh_new() -> Self {
        Classified { resource: "mesh", verb: "new", class: OpClass::Write, peers: Vec::new() }
    }

    /// `mesh join`: redeeming an invite (the verb, `claudemesh <url>`, and an invite from the clipboard).
    pub(crate) fn mesh_join() -> Self {
        Classified { resource: "mesh", verb: "join", class: OpClass::Write, peers: Vec::new() }
    }

    /// `invite create`.
    pub(crate) fn invite_create() -> Self {
        Classified { resource: "invite", verb: "create", class: OpClass::Write, peers: Vec::new() }
    }
}

/// The broker-touching verbs and what they are; `None` for local verbs and long-running roles.
pub(crate) fn classify(command: &Command) -> Option<Classified> {
    use OpClass::{Destructive, Read, Write};
    match command {
        Command::Send(a) | Command::Message { action: MessageAction::Send(a) } => {
            Some(Classified { resource: "message", verb: "send", class: Write, peers: vec![a.to.trim().to_string()] })
        }
        Command::Inbox(_) | Command::Message { action: MessageAction::Inbox(_) } => op("message", "inbox", Read),
        Command::MsgStatus(_) | Command::Message { action: MessageAction::Status(_) } => op("message", "status", Read),
        Command::Peers(_) | Command::Peer { action: PeerAction::List(_) } => op("peer", "list", Read),
        Command::New(_) | Command::Mesh { action: MeshAction::New(_) } => Some(Classified::mesh_new()),
        Command::Join { .. } => Some(Classified::mesh_join()),
        Command::Rename(_) | Command::Mesh { action: MeshAction::Rename(_) } => op("mesh", "rename", Write),
        Command::Leave(_) | Command::Mesh { action: MeshAction::Leave(_) } => op("mesh", "leave", Destructive),
        Command::Mesh { action: MeshAction::Info } => op("mesh", "info", Read),
        Command::Status { .. } | Command::Summary { .. } | Command::Profile { action: ProfileAction::Set(_) } => {
            op("profile", "set", Write)
        }
        Command::Profile { action: ProfileAction::Show } => op("profile", "show", Read),
        Command::Group { action: GroupAction::Join { .. } } => op("group", "join", Write),
        Command::Group { action: GroupAction::Leave { .. } } => op("group", "leave", Write),
        Command::Group { action: GroupAction::List } => op("group", "list", Read),
        Command::Invite(InviteCmd { action: None | Some(InviteAction::Create(_)), .. }) => {
            Some(Classified::invite_create())
        }
        Command::Invite(InviteCmd { action: Some(InviteAction::List), .. }) => op("invite", "list", Read),
        Command::Invite(InviteCmd { action: Some(InviteAction::Revoke { .. }), .. }) => {
            op("invite", "revoke", Destructive)
        }
        Command::Mesh { action: MeshAction::Delete } => op("mesh", "delete", Destructive),
        other => super::coord_gate::classify(other),
    }
}

/// A verb let through, to record its outcome after it ran.
pub(crate) struct Passed {
    what: Classified,
    /// The policy asked and the answer (or `--yes`) was yes: the verb's own confirmation need not ask again.
    pub confirmed: bool,
}

impl Passed {
    /// This pass was for `what` (a flow takes a pass given before the terminal was entered only for its own work).
    pub(crate) fn covers(&self, what: &Classified) -> bool {
        self.what == *what
    }
}

fn audit_class(class: OpClass) -> ActionClass {
    match class {
        OpClass::Read => ActionClass::Read,
        OpClass::Write => ActionClass::Write,
        OpClass::Destructive => ActionClass::Destructive,
    }
}

fn event(ctx: &Ctx, what: &Classified, kind: EventKind) -> AuditEvent {
    AuditEvent {
        ts_ms: now_ms(),
        kind,
        resource: what.resource.to_string(),
        verb: what.verb.to_string(),
        class: audit_class(what.class),
        decision: None,
        target: (!what.peers.is_empty()).then(|| what.peers.join(",")),
        mesh: ctx.global.mesh.clone().or_else(|| ctx.env.mesh.clone()),
        session: ctx.session_id(),
        outcome: None,
        detail: None,
    }
}

/// Appends to the audit log; a log that cannot be written stops the verb (an unrecorded write is not allowed).
fn record(ctx: &Ctx, e: AuditEvent) -> Result<(), CliError> {
    audit::append(&audit::log_path(&ctx.home), e).map_err(CliError::from)
}

/// Who answers a `prompt` decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// `[y/N]` on the terminal (stdin and stderr), unless `--yes` answered in advance; without a terminal the
    /// prompt is a refusal.
    Terminal,
    /// A flow's own confirm screen, already accepted with Enter for exactly this operation ("Join …", the new
    /// mesh's name, "Create invite"). The full-screen UI owns stdin in raw mode, so it must never be read here.
    Screen,
}

/// Evaluates the policy for `command` before anything touches the network. `Ok(None)`: nothing to check.
pub(crate) fn check(ctx: &Ctx, command: &Command) -> Result<Option<Passed>, CliError> {
    let Some(what) = classify(command) else { return Ok(None) };
    check_op(ctx, what, Ask::Terminal).map(Some)
}

/// Evaluates the policy for one operation and records the decision: the same gate for a typed verb and for work a
/// flow of the full-screen UI starts (create, join, invite). `ask` says who answers a `prompt`.
pub(crate) fn check_op(ctx: &Ctx, what: Classified, answer: Ask) -> Result<Passed, CliError> {
    let admin = ctx.env.admin_policy.clone().unwrap_or_else(|| PathBuf::from(ADMIN_POLICY));
    let user = ctx.home.root().join("policy.yaml");
    let policy = Policy::load(&user, ctx.global.policy.as_deref(), Some(&admin)).map_err(|e| {
        CliError::new(Exit::InvalidArgs, "policy_invalid", "err-policy-invalid")
            .arg("detail", e.to_string())
            .hint("hint-policy-invalid")
    })?;
    let mode = policy.effective_mode(ctx.global.approval_mode.unwrap_or(ApprovalMode::Write));
    let operation =
        Operation { resource: what.resource, verb: what.verb, class: what.class, peers: what.peers.clone() };
    let decision = policy.evaluate(&operation, mode);
    let mut e = event(ctx, &what, EventKind::Policy);
    e.detail = decision.rule().map(str::to_string).or_else(|| Some(format!("approval-mode {}", mode.as_str())));
    let action = format!("{} {}", what.resource, what.verb);
    match decision {
        Decision::Allow { .. } => {
            e.decision = Some(audit::Decision::Allow);
            record(ctx, e)?;
            Ok(Passed { what, confirmed: false })
        }
        Decision::Deny { reason, .. } => {
            e.decision = Some(audit::Decision::Deny);
            record(ctx, e)?;
            Err(CliError::new(Exit::Forbidden, "policy_denied", "err-policy-denied")
                .arg("action", action)
                .arg("reason", reason)
                .hint("hint-policy-denied"))
        }
        Decision::Prompt { reason, .. } => {
            let allowed = if answer == Ask::Screen {
                e.detail = Some(format!("{reason} (confirmed on screen)"));
                true
            } else if ctx.global.yes {
                // `--yes` is the answer given in advance.
                e.detail = Some(format!("{reason} (--yes)"));
                true
            } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
                ask(&action, &what.peers, &reason)?
            } else {
                e.decision = Some(audit::Decision::PromptDenied);
                e.detail = Some(format!("{reason} (no terminal to ask)"));
                record(ctx, e)?;
                return Err(CliError::new(Exit::Forbidden, "policy_prompt", "err-policy-prompt-no-tty")
                    .arg("action", action)
                    .arg("reason", reason)
                    .hint("hint-policy-prompt"));
            };
            e.decision = Some(if allowed { audit::Decision::PromptAllowed } else { audit::Decision::PromptDenied });
            record(ctx, e)?;
            if allowed {
                Ok(Passed { what, confirmed: true })
            } else {
                Err(CliError::new(Exit::Forbidden, "policy_declined", "err-policy-declined").arg("action", action))
            }
        }
    }
}

/// Asks on the terminal: `y`/`yes` allows, anything else refuses.
fn ask(action: &str, peers: &[String], reason: &str) -> Result<bool, CliError> {
    let question = i18n::t_args(
        "prompt-policy",
        &[("action", action.into()), ("target", peers.join(", ").into()), ("reason", reason.into())],
    );
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{question} ");
    let _ = stderr.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(CliError::internal)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes" | "s" | "si" | "sí"))
}

/// Records how a write or destructive verb ended (reads are recorded by their policy decision only).
pub(crate) fn finish(ctx: &Ctx, passed: Option<Passed>, result: &Result<(), CliError>) -> Result<(), CliError> {
    let Some(passed) = passed else { return Ok(()) };
    finish_op(ctx, passed, result.as_ref().err())
}

/// Records how one operation let through by `check_op` ended (`error`: `None` when it succeeded). A flow calls this
/// as soon as its work is done, before any handoff: the exec into `claude` never returns to `finish`.
pub(crate) fn finish_op(ctx: &Ctx, passed: Passed, error: Option<&CliError>) -> Result<(), CliError> {
    let Passed { what, .. } = passed;
    if what.class == OpClass::Read {
        return Ok(());
    }
    let mut e = event(ctx, &what, EventKind::Verb);
    match error {
        None => e.outcome = Some(Outcome::Ok),
        Some(err) => {
            e.outcome = Some(Outcome::Error);
            e.detail = Some(err.reason.to_string());
        }
    }
    record(ctx, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Cli;
    use clap::Parser;

    fn classified(argv: &[&str]) -> Option<Classified> {
        let cli = Cli::try_parse_from(argv).expect("parses");
        classify(&cli.command.expect("a verb"))
    }

    #[test]
    fn every_broker_verb_is_classified_and_flat_aliases_match_their_nouns() {
        let send = classified(&["cm", "send", "@dev", "hi"]).unwrap();
        assert_eq!(
            (send.resource, send.verb, send.class, send.peers.clone()),
            ("message", "send", OpClass::Write, vec!["@dev".to_string()])
        );
        assert_eq!(classified(&["cm", "message", "send", "@dev", "hi"]), Some(send));
        assert_eq!(classified(&["cm", "peers"]), classified(&["cm", "peer", "list"]));
        assert_eq!(classified(&["cm", "leave"]).unwrap().class, OpClass::Destructive);
        assert_eq!(classified(&["cm", "invite", "revoke", "x"]).unwrap().class, OpClass::Destructive);
        assert_eq!(classified(&["cm", "invite"]).unwrap().verb, "create");
        assert_eq!(classified(&["cm", "status", "set", "dnd"]).unwrap().resource, "profile");
        // Local verbs and roles pass without a policy check.
        assert_eq!(classified(&["cm", "whoami"]), None);
        assert_eq!(classified(&["cm", "list"]), None);
        assert_eq!(classified(&["cm", "daemon", "status"]), None);
    }
}
