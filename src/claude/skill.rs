//! The claudemesh skill Claude Code loads from `~/.claude/skills/claudemesh/`: the CLI's verbs, flags, JSON shapes
//! and etiquette, written for Claude. The text lives in `assets/skill/`.

/// File name and contents of every file in the skill directory.
pub(super) const FILES: [(&str, &str); 2] = [
    ("SKILL.md", include_str!("../../assets/skill/SKILL.md")),
    ("reference.md", include_str!("../../assets/skill/reference.md")),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn frontmatter(text: &str) -> &str {
        let rest = text.strip_prefix("---\n").unwrap();
        &rest[..rest.find("\n---\n").unwrap()]
    }

    #[test]
    fn skill_md_has_the_frontmatter_claude_code_reads() {
        let skill = FILES[0].1;
        let front = frontmatter(skill);
        assert!(front.lines().any(|l| l == "name: claudemesh"), "{front}");
        assert!(front.lines().any(|l| l == "allowed-tools: Bash(claudemesh *)"), "{front}");
        let description: usize = front
            .lines()
            .filter(|l| l.starts_with("description:") || l.starts_with("when_to_use:"))
            .map(str::len)
            .sum();
        assert!(description > 100 && description < 1_536, "description + when_to_use: {description} chars");
    }

    #[test]
    fn skill_files_stay_within_claude_codes_budget() {
        assert!(FILES[0].1.lines().count() < 500);
        for verb in [
            "send",
            "inbox",
            "peers",
            "msg-status",
            "status set",
            "summary set",
            "group join",
            "group leave",
            "whoami",
            "list",
            "invite",
            "join",
            "new",
            "rename",
            "leave",
        ] {
            assert!(FILES[0].1.contains(&format!("claudemesh {verb}")), "SKILL.md does not mention {verb}");
        }
        assert!(FILES[0].1.contains("reference.md"));
    }

    #[test]
    fn the_skill_covers_every_coordination_verb() {
        for verb in [
            "task create",
            "task claim",
            "task complete",
            "task release",
            "task list",
            "state set",
            "state get",
            "state list",
            "remember",
            "recall",
            "context share",
            "context list",
            "remind",
            "schedule msg",
            "access list",
            "grant",
            "revoke",
        ] {
            assert!(FILES[0].1.contains(&format!("claudemesh {verb}")), "SKILL.md does not mention {verb}");
        }
        let reference = FILES[1].1;
        for verb in [
            "state get",
            "state set",
            "state list",
            "state delete",
            "state watch",
            "remember",
            "recall",
            "forget",
            "task create",
            "show",
            "claim",
            "release",
            "complete",
            "cancel",
            "context share",
            "context get",
            "context list",
            "stream create",
            "publish",
            "subscribe",
            "schedule msg",
            "remind",
            "schedule list",
            "schedule cancel",
            "clock get",
            "clock set",
            "clock pause",
            "clock resume",
            "grant",
            "revoke",
            "block",
            "unblock",
            "kick",
            "ban",
            "unban",
            "role",
            "access list",
            "mesh delete",
        ] {
            assert!(reference.contains(verb), "reference.md does not cover {verb}");
        }
    }
}
