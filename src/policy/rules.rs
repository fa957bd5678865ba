//! Parsed policy layers and rule matching: which rule or default of one file decides an operation.

use serde::Deserialize;

use super::{ApprovalMode, OpClass, Operation};

/// What a rule or default says, before the approval mode is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Allow,
    Prompt,
    Deny,
}

impl Verdict {
    /// Deny is stricter than prompt, prompt stricter than allow.
    fn strictness(self) -> u8 {
        match self {
            Verdict::Allow => 0,
            Verdict::Prompt => 1,
            Verdict::Deny => 2,
        }
    }
}

/// Which file is being parsed (only the admin file may cap the approval mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Admin,
    User,
    Extra,
}

/// One entry of a rule's `peers` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeerPattern {
    /// `*`: any target, including a broadcast written `*`.
    Any,
    /// `@*`: any target written as a group (`@name`).
    AnyGroup,
    /// A peer name or `@group`, compared with the target exactly as written.
    Exact(String),
}

impl PeerPattern {
    fn matches(&self, target: &str) -> bool {
        match self {
            PeerPattern::Any => true,
            PeerPattern::AnyGroup => target.len() > 1 && target.starts_with('@'),
            PeerPattern::Exact(name) => name == target,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// `None` matches every resource (`*` or key absent).
    pub resource: Option<String>,
    /// `None` matches every verb.
    pub verb: Option<String>,
    /// `None` matches every class.
    pub class: Option<OpClass>,
    /// `None` matches every operation, with or without targets; `Some` needs a target that matches.
    pub peers: Option<Vec<PeerPattern>>,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// `path:line`, or `name (path:line)` when the rule is named.
    pub label: String,
}

impl Rule {
    fn matches(&self, op: &Operation<'_>, target: Option<&str>) -> bool {
        self.resource.as_deref().is_none_or(|r| r == op.resource)
            && self.verb.as_deref().is_none_or(|v| v == op.verb)
            && self.class.is_none_or(|c| c == op.class)
            && match (&self.peers, target) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(patterns), Some(target)) => patterns.iter().any(|p| p.matches(target)),
            }
    }
}

/// A file's fallback per class: `(verdict, label)`, from `defaults.<class>` or else `default`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClassDefaults {
    pub read: Option<(Verdict, String)>,
    pub write: Option<(Verdict, String)>,
    pub destructive: Option<(Verdict, String)>,
}

impl ClassDefaults {
    fn get(&self, class: OpClass) -> Option<&(Verdict, String)> {
        match class {
            OpClass::Read => self.read.as_ref(),
            OpClass::Write => self.write.as_ref(),
            OpClass::Destructive => self.destructive.as_ref(),
        }
    }
}

/// One parsed policy file.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub rules: Vec<Rule>,
    pub defaults: ClassDefaults,
    /// Admin only: the most permissive approval mode the user may ask for.
    pub max_mode: Option<ApprovalMode>,
}

/// The verdict for one target, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub verdict: Verdict,
    /// `None` for the built-in defaults.
    pub rule: Option<String>,
    /// The rule's own `reason`, when it has one.
    pub reason: Option<String>,
    /// The target this outcome is about (`None` when the operation has no targets).
    pub target: Option<String>,
    /// True when the verdict is the built-in (or a file's) default rather than an explicit rule.
    pub from_default: bool,
}

impl Outcome {
    /// The stricter of two outcomes; on a tie the first one is kept.
    pub(crate) fn stricter(self, other: Outcome) -> Outcome {
        if other.verdict.strictness() > self.verdict.strictness() { other } else { self }
    }
}

impl Layer {
    /// The first matching rule, else this file's default for the class, else `None` (no opinion).
    pub(crate) fn decide(&self, op: &Operation<'_>, target: Option<&str>) -> Option<Outcome> {
        let outcome = |verdict, rule: &str, reason: Option<&String>, from_default| Outcome {
            verdict,
            rule: Some(rule.to_owned()),
            reason: reason.cloned(),
            target: target.map(str::to_owned),
            from_default,
        };
        if let Some(rule) = self.rules.iter().find(|r| r.matches(op, target)) {
            return Some(outcome(rule.verdict, &rule.label, rule.reason.as_ref(), false));
        }
        self.defaults.get(op.class).map(|(verdict, label)| outcome(*verdict, label, None, true))
    }
}

/// Built in, used when neither the admin file nor the user's file says anything about a class.
pub(crate) fn builtin_default(class: OpClass, target: Option<&str>) -> Outcome {
    Outcome {
        verdict: match class {
            OpClass::Read | OpClass::Write => Verdict::Allow,
            OpClass::Destructive => Verdict::Prompt,
        },
        rule: None,
        reason: None,
        target: target.map(str::to_owned),
        from_default: true,
    }
}
