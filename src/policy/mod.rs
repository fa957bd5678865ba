//! Policy engine: decides allow / deny / prompt for each classified operation from the admin, user and
//! `--policy` YAML files and the approval mode. Pure apart from `Policy::load`; the format is docs/policy.md.

mod file;
mod rules;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub(crate) use rules::Origin;
use rules::{Layer, Outcome, Verdict, builtin_default};

/// How much an operation changes: decides the default verdict and what the approval modes block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OpClass {
    /// Looks only: `peer list`, `message inbox`, `mesh info` ...
    Read,
    /// Changes something that can be changed back: `message send`, `group join`, `profile set` ...
    Write,
    /// Hard or impossible to undo: `mesh leave`, `invite revoke`, forgetting data ...
    Destructive,
}

impl OpClass {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OpClass::Read => "read",
            OpClass::Write => "write",
            OpClass::Destructive => "destructive",
        }
    }
}

/// One classified operation, as the CLI is about to perform it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation<'a> {
    /// `message`, `peer`, `group`, `mesh`, `invite`, `profile`, `audit` ...
    pub resource: &'a str,
    /// `send`, `list`, `leave` ...
    pub verb: &'a str,
    pub class: OpClass,
    /// Targets exactly as written on the command line: `alice`, `@dev`, `*` (broadcast). Empty when the
    /// operation has no target.
    pub peers: Vec<String>,
}

/// `--approval-mode`: how much the user lets this invocation do without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ApprovalMode {
    /// Nothing is changed: writes and destructive operations are denied, reads follow the policy.
    Plan,
    /// Writes and destructive operations are denied, reads follow the policy.
    ReadOnly,
    /// The policy decides; destructive operations ask first unless a rule says otherwise.
    #[default]
    Write,
    /// Prompts become allows; a deny stays a deny.
    Yolo,
}

impl ApprovalMode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::Plan => "plan",
            ApprovalMode::ReadOnly => "read-only",
            ApprovalMode::Write => "write",
            ApprovalMode::Yolo => "yolo",
        }
    }

    /// Plan < read-only < write < yolo.
    fn permissiveness(self) -> u8 {
        match self {
            ApprovalMode::Plan => 0,
            ApprovalMode::ReadOnly => 1,
            ApprovalMode::Write => 2,
            ApprovalMode::Yolo => 3,
        }
    }
}

/// The engine's answer. `rule` names what decided (`path:line`, `name (path:line)`, `path: defaults.write`);
/// it is `None` when the approval mode or the built-in defaults decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow {
        rule: Option<String>,
    },
    Deny {
        rule: Option<String>,
        reason: String,
    },
    /// Ask the user; without a terminal the caller treats this as a deny.
    Prompt {
        rule: Option<String>,
        reason: String,
    },
}

impl Decision {
    /// `allow`, `deny` or `prompt`.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => "allow",
            Decision::Deny { .. } => "deny",
            Decision::Prompt { .. } => "prompt",
        }
    }

    #[cfg(test)]
    pub(crate) fn reason(&self) -> Option<&str> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny { reason, .. } | Decision::Prompt { reason, .. } => Some(reason),
        }
    }

    pub(crate) fn rule(&self) -> Option<&str> {
        match self {
            Decision::Allow { rule } | Decision::Deny { rule, .. } | Decision::Prompt { rule, .. } => rule.as_deref(),
        }
    }
}

/// Why a policy file could not be used. Line and column are 1-based (0 when the parser cannot tell).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    #[error("policy file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not YAML, or YAML that does not fit the schema (unknown key, bad decision, wrong type).
    #[error("{path}:{line}:{column}: {message}")]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    /// Well-formed but not acceptable (unsupported version, bad peer pattern, too many rules ...).
    #[error("{path}:{line}:{column}: {message}")]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
    #[error("policy file {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
}

/// The loaded policy: the admin file (optional), the user's file and an optional `--policy` file.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    admin: Option<Layer>,
    user: Layer,
    extra: Option<Layer>,
}

impl Policy {
    /// Loads the user's file (created 0600 with safe defaults when missing, in a 0700 parent), then an
    /// optional extra file (`--policy FILE`, which must exist and can only tighten the user's), then the
    /// admin file (`/etc/claudemesh/policy.yaml` or $CLAUDEMESH_ADMIN_POLICY, as the caller resolved it;
    /// a missing admin file means no admin policy), whose rules override both.
    pub(crate) fn load(user: &Path, extra: Option<&Path>, admin: Option<&Path>) -> Result<Policy, PolicyError> {
        file::ensure_user_file(user)?;
        let user_text = file::read_required(user)?;
        let user_layer = file::parse(user, &user_text, Origin::User)?;
        let extra_layer = match extra {
            Some(path) => Some(file::parse(path, &file::read_required(path)?, Origin::Extra)?),
            None => None,
        };
        let admin_layer = match admin {
            Some(path) => match file::read_optional(path)? {
                Some(text) => Some(file::parse(path, &text, Origin::Admin)?),
                None => None,
            },
            None => None,
        };
        Ok(Policy { admin: admin_layer, user: user_layer, extra: extra_layer })
    }

    /// The policy one file's bytes make, taken as `load` takes them after reading (size cap, UTF-8, YAML, schema):
    /// as the user's file alone, or as the `--policy` or admin file on top of the default user file. Pure: `path`
    /// only labels rules and errors (the fuzz target's entry).
    pub(crate) fn from_file_bytes(path: &Path, bytes: Vec<u8>, origin: Origin) -> Result<Policy, PolicyError> {
        let layer = file::parse(path, &file::decode(path, bytes)?, origin)?;
        let default_user = || file::parse(Path::new("default user policy"), file::DEFAULT_USER_POLICY, Origin::User);
        Ok(match origin {
            Origin::User => Policy { admin: None, user: layer, extra: None },
            Origin::Extra => Policy { admin: None, user: default_user()?, extra: Some(layer) },
            Origin::Admin => Policy { admin: Some(layer), user: default_user()?, extra: None },
        })
    }

    /// The approval mode actually applied: the requested one, capped by the admin's `max_approval_mode`.
    pub(crate) fn effective_mode(&self, requested: ApprovalMode) -> ApprovalMode {
        match self.admin.as_ref().and_then(|a| a.max_mode) {
            Some(cap) if cap.permissiveness() < requested.permissiveness() => cap,
            _ => requested,
        }
    }

    /// Decides one operation. Order: the approval mode's blocks (plan, read-only), then for each target
    /// the admin file (first matching rule, then its defaults), else the stricter of the user's file
    /// (first matching rule, then its defaults, then the built-in defaults) and the `--policy` file; the
    /// strictest target decides; finally yolo turns a prompt into an allow.
    pub(crate) fn evaluate(&self, op: &Operation<'_>, mode: ApprovalMode) -> Decision {
        let effective = self.effective_mode(mode);
        let cap_note = if effective == mode {
            String::new()
        } else {
            format!(" (the admin policy allows at most --approval-mode {})", effective.as_str())
        };
        if op.class != OpClass::Read {
            let blocked = match effective {
                ApprovalMode::Plan => {
                    Some(format!("plan mode: nothing is changed ({} {} was not run){cap_note}", op.resource, op.verb))
                }
                ApprovalMode::ReadOnly => {
                    Some(format!("read-only mode: {} {} would change the mesh{cap_note}", op.resource, op.verb))
                }
                ApprovalMode::Write | ApprovalMode::Yolo => None,
            };
            if let Some(reason) = blocked {
                return Decision::Deny { rule: None, reason };
            }
        }

        let targets: Vec<Option<&str>> =
            if op.peers.is_empty() { vec![None] } else { op.peers.iter().map(|t| Some(t.as_str())).collect() };
        let outcome = targets
            .into_iter()
            .map(|target| self.decide_target(op, target))
            .reduce(Outcome::stricter)
            .unwrap_or_else(|| builtin_default(op.class, None));

        let reason = outcome.reason.clone().unwrap_or_else(|| generated_reason(op, &outcome));
        match outcome.verdict {
            Verdict::Allow => Decision::Allow { rule: outcome.rule },
            Verdict::Deny => Decision::Deny { rule: outcome.rule, reason },
            Verdict::Prompt if effective == ApprovalMode::Yolo => Decision::Allow { rule: outcome.rule },
            Verdict::Prompt => Decision::Prompt { rule: outcome.rule, reason: format!("{reason}{cap_note}") },
        }
    }

    fn decide_target(&self, op: &Operation<'_>, target: Option<&str>) -> Outcome {
        if let Some(admin) = self.admin.as_ref().and_then(|a| a.decide(op, target)) {
            return admin;
        }
        let user = self.user.decide(op, target).unwrap_or_else(|| builtin_default(op.class, target));
        match self.extra.as_ref().and_then(|e| e.decide(op, target)) {
            Some(extra) => user.stricter(extra),
            None => user,
        }
    }
}

fn generated_reason(op: &Operation<'_>, outcome: &Outcome) -> String {
    let what = match &outcome.target {
        Some(target) => format!("{} {} {target}", op.resource, op.verb),
        None => format!("{} {}", op.resource, op.verb),
    };
    let class = op.class.as_str();
    match (outcome.verdict, outcome.from_default) {
        (Verdict::Deny, false) => format!("{what} is denied by the policy"),
        (Verdict::Deny, true) => {
            format!("{what} is denied by the policy default for {class} operations")
        }
        (Verdict::Prompt, true) if op.class == OpClass::Destructive => {
            format!("{what} is destructive and needs confirmation")
        }
        (Verdict::Prompt, true) => {
            format!("{what} needs confirmation (policy default for {class} operations)")
        }
        (Verdict::Prompt, false) => format!("{what} needs confirmation"),
        (Verdict::Allow, _) => format!("{what} is allowed"),
    }
}

#[cfg(test)]
mod tests;
