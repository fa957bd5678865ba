//! What each coordination verb is for the policy gate and the audit log: resource, verb, class and targets.
//! Deletes, forgets, task cancels, kicks, bans and `mesh delete` are destructive (the default policy asks).

use crate::policy::OpClass::{self, Destructive, Read, Write};

use super::args::{
    AccessAction, ClockAction, Command, ContextAction, MemoryAction, ScheduleAction, StateAction, StreamAction,
    TaskAction,
};
use super::gate::Classified;

fn op(resource: &'static str, verb: &'static str, class: OpClass, peers: &[&str]) -> Option<Classified> {
    let peers = peers.iter().map(|p| p.trim().to_string()).collect();
    Some(Classified { resource, verb, class, peers })
}

/// The coordination verbs; `None` for anything else.
pub(crate) fn classify(command: &Command) -> Option<Classified> {
    match command {
        Command::State { action } => match action {
            StateAction::Get { .. } => op("state", "get", Read, &[]),
            StateAction::Set(_) => op("state", "set", Write, &[]),
            StateAction::List { .. } => op("state", "list", Read, &[]),
            StateAction::Delete { .. } => op("state", "delete", Destructive, &[]),
            StateAction::Watch { .. } => op("state", "watch", Read, &[]),
        },
        Command::Remember(_) | Command::Memory { action: MemoryAction::Remember(_) } => {
            op("memory", "remember", Write, &[])
        }
        Command::Recall(_) | Command::Memory { action: MemoryAction::Recall(_) } => op("memory", "recall", Read, &[]),
        Command::Forget(_) | Command::Memory { action: MemoryAction::Forget(_) } => {
            op("memory", "forget", Destructive, &[])
        }
        Command::Task { action } => match action {
            TaskAction::Create(_) => op("task", "create", Write, &[]),
            TaskAction::List(_) => op("task", "list", Read, &[]),
            TaskAction::Show(_) => op("task", "show", Read, &[]),
            TaskAction::Claim(_) => op("task", "claim", Write, &[]),
            TaskAction::Release(_) => op("task", "release", Write, &[]),
            TaskAction::Complete { .. } => op("task", "complete", Write, &[]),
            TaskAction::Cancel(_) => op("task", "cancel", Destructive, &[]),
        },
        Command::Context { action } => match action {
            ContextAction::Share(_) => op("context", "share", Write, &[]),
            ContextAction::Get { peer } => op("context", "get", Read, &[peer]),
            ContextAction::List { .. } => op("context", "list", Read, &[]),
        },
        Command::Stream { action } => match action {
            StreamAction::Create { .. } => op("stream", "create", Write, &[]),
            StreamAction::Publish { .. } => op("stream", "publish", Write, &[]),
            StreamAction::Subscribe { .. } => op("stream", "subscribe", Read, &[]),
            StreamAction::List => op("stream", "list", Read, &[]),
        },
        Command::Remind(a) | Command::Schedule { action: ScheduleAction::Msg(a) } => {
            let to: Vec<&str> = if a.words.len() == 2 { vec![a.words[0].as_str()] } else { Vec::new() };
            op("schedule", "msg", Write, &to)
        }
        Command::Schedule { action: ScheduleAction::List } => op("schedule", "list", Read, &[]),
        Command::Schedule { action: ScheduleAction::Cancel(_) } => op("schedule", "cancel", Write, &[]),
        Command::Clock { action } => match action {
            ClockAction::Get => op("clock", "get", Read, &[]),
            ClockAction::Set { .. } => op("clock", "set", Write, &[]),
            ClockAction::Pause => op("clock", "pause", Write, &[]),
            ClockAction::Resume => op("clock", "resume", Write, &[]),
        },
        Command::Grant(a) => op("access", "grant", Write, &[&a.peer]),
        Command::Revoke(a) => op("access", "revoke", Write, &[&a.peer]),
        Command::Block(a) => op("access", "block", Write, &[&a.peer]),
        Command::Unblock(a) => op("access", "unblock", Write, &[&a.peer]),
        Command::Unban(a) => op("access", "unban", Write, &[&a.peer]),
        Command::Role(a) => op("access", "role", Write, &[&a.peer]),
        Command::Kick(a) => op("access", "kick", Destructive, &[&a.peer]),
        Command::Ban(a) => op("access", "ban", Destructive, &[&a.peer]),
        Command::Access { action: AccessAction::List { .. } } => op("access", "list", Read, &[]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Cli;
    use clap::Parser;

    fn class(argv: &[&str]) -> Option<OpClass> {
        let cli = Cli::try_parse_from(argv).expect("parses");
        crate::cli::gate::classify(&cli.command.expect("a verb")).map(|c| c.class)
    }

    #[test]
    fn destructive_coordination_verbs_are_classified_destructive() {
        for argv in [
            &["cm", "state", "delete", "k"][..],
            &["cm", "forget", "abcdefgh2345"],
            &["cm", "memory", "forget", "abcdefgh2345"],
            &["cm", "task", "cancel", "abcdefgh2345"],
            &["cm", "kick", "bob"],
            &["cm", "ban", "bob"],
            &["cm", "mesh", "delete"],
        ] {
            assert_eq!(class(argv), Some(Destructive), "{argv:?}");
        }
        assert_eq!(class(&["cm", "state", "get", "k"]), Some(Read));
        assert_eq!(class(&["cm", "remind", "hi", "--in", "1m"]), Some(Write));
        assert_eq!(class(&["cm", "grant", "bob", "clock-write"]), Some(Write));
        assert_eq!(class(&["cm", "access", "list"]), Some(Read));
    }
}
