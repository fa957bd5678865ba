//! `claudemesh completions` and `claudemesh man`: generated from the clap definitions (`Cli::command()`), so every
//! verb, flag and help line appears in the scripts and the page without being listed twice.

use std::io::Write;

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use super::args::Cli;
use super::error::{CliError, Exit};

/// The shells `claudemesh completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

/// The completion script for `shell`, for the binary named `claudemesh`.
pub(crate) fn completion_script(shell: CompletionShell) -> Vec<u8> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    // Writing into a Vec cannot fail (clap_complete panics on a failed write, so it never sees stdout).
    clap_complete::generate(Shell::from(shell), &mut command, name, &mut script);
    script
}

/// The man page (section 1, roff) for `claudemesh`: clap_mangen's synopsis, description and global flags, then a
/// VERBS section with every visible verb's usage and flags (clap_mangen would point at one page per verb instead).
pub(crate) fn man_page() -> Result<Vec<u8>, CliError> {
    let mut command = Cli::command();
    command.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page).map_err(CliError::internal)?;
    let page = String::from_utf8(page).map_err(CliError::internal)?;
    let mut verbs = String::from(".SH VERBS\n");
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        verb_section(sub, &mut verbs);
    }
    Ok(arrange(&page, &verbs).into_bytes())
}

/// Puts `.TH` first (man-pages(7): the first command of a page) and swaps the SUBCOMMANDS section, which names
/// per-verb pages, for `verbs`.
fn arrange(page: &str, verbs: &str) -> String {
    let title = page.lines().find(|l| l.starts_with(".TH "));
    let mut out = String::with_capacity(page.len() + verbs.len());
    if let Some(title) = title {
        out.push_str(title);
        out.push('\n');
    }
    let mut in_subcommands = false;
    let mut verbs_written = false;
    for line in page.lines().filter(|l| Some(*l) != title) {
        if line.starts_with(".SH ") {
            in_subcommands = line == ".SH SUBCOMMANDS";
            if in_subcommands || (line == ".SH VERSION" && !verbs_written) {
                out.push_str(verbs);
                verbs_written = true;
            }
        }
        if !in_subcommands {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !verbs_written {
        out.push_str(verbs);
    }
    out
}

/// `.SS claudemesh <verb>`: what it does, its usage line and its own flags and arguments; then its sub-verbs.
fn verb_section(command: &clap::Command, out: &mut String) {
    let name = command.get_bin_name().unwrap_or_else(|| command.get_name());
    out.push_str(&format!(".SS \"{}\"\n", roff_text(name)));
    if let Some(about) = command.get_long_about().or_else(|| command.get_about()) {
        out.push_str(&roff_text(&about.to_string()));
        out.push('\n');
    }
    let usage = command.clone().render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    out.push_str(&format!(".PP\n\\fB{}\\fR\n", roff_text(usage)));
    let own = command.get_arguments().filter(|a| !a.is_hide_set() && !a.is_global_set());
    for arg in own.filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
        out.push_str(&format!(".TP\n{}\n", arg_label(arg)));
        let mut help = arg.get_long_help().or_else(|| arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
        let choices: Vec<String> =
            arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| v.get_name().to_string()).collect();
        if !choices.is_empty() {
            help.push_str(&format!(" [possible values: {}]", choices.join(", ")));
        }
        let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        if !defaults.is_empty() && arg.get_action().takes_values() {
            help.push_str(&format!(" [default: {}]", defaults.join(", ")));
        }
        if let Some(var) = arg.get_env().filter(|_| !arg.is_hide_env_set()) {
            help.push_str(&format!(" [env: {}]", var.to_string_lossy()));
        }
        out.push_str(&roff_text(help.trim()));
        out.push('\n');
    }
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        verb_section(sub, out);
    }
}

/// `\fB-s\fR, \fB--long\fR \fI<VALUE>\fR` for a flag, `\fI<NAME>\fR` for a positional argument.
fn arg_label(arg: &clap::Arg) -> String {
    let value_names: Vec<String> = arg
        .get_value_names()
        .map(|names| names.iter().map(|n| format!("<{n}>")).collect())
        .unwrap_or_else(|| vec![format!("<{}>", arg.get_id().as_str().to_uppercase())]);
    let takes_value = arg.get_action().takes_values();
    let value = if takes_value { roff_text(&value_names.join(" ")) } else { String::new() };
    let mut names = Vec::new();
    if let Some(short) = arg.get_short() {
        names.push(format!("\\fB{}\\fR", roff_text(&format!("-{short}"))));
    }
    if let Some(long) = arg.get_long() {
        names.push(format!("\\fB{}\\fR", roff_text(&format!("--{long}"))));
    }
    match (names.is_empty(), takes_value) {
        (true, _) => format!("\\fI{value}\\fR"),
        (false, true) => format!("{} \\fI{value}\\fR", names.join(", ")),
        (false, false) => names.join(", "),
    }
}

/// Text safe inside a roff line: backslashes and hyphens escaped, one line, and no leading control character.
fn roff_text(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let escaped = flat.replace('\\', "\\\\").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped }
}

/// Writes generated text to stdout. A reader that stops early (`claudemesh man | head`) is not a failure.
pub(crate) fn print(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::new(Exit::Internal, "io", "err-local-io")
            .arg("path", "stdout")
            .arg("detail", e.to_string())
            .hint("hint-check-disk")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_binary_and_its_verbs() {
        for shell in CompletionShell::value_variants() {
            let script = String::from_utf8(completion_script(*shell)).unwrap();
            assert!(script.contains("claudemesh"), "{shell:?}");
            for verb in ["send", "inbox", "completions", "man"] {
                assert!(script.contains(verb), "{shell:?} script lacks {verb}");
            }
        }
    }

    #[test]
    fn the_man_page_opens_with_its_title_and_documents_every_visible_verb() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.starts_with(".TH claudemesh 1"), "{}", &page[..page.len().min(80)]);
        assert_eq!(page.matches(".TH ").count(), 1);
        assert!(!page.contains("claudemesh\\-send(1)"), "points at per-verb pages that do not exist");
        assert!(page.contains(".SS \"claudemesh send\""));
        assert!(page.contains("\\fB\\-\\-priority\\fR \\fI<PRIORITY>\\fR"));
        assert!(page.contains("[possible values: now, next, low] [default: next]"));
        assert!(page.contains("[env: CLAUDEMESH_BROKER_LISTEN]"));
        assert!(!page.contains("[default: false]"), "a switch has no default to show");
        assert!(page.contains(".SS \"claudemesh completions\""));
        assert!(!page.contains("claudemesh hook"), "the hidden hook verb is in the man page");
        let verbs = page.find(".SH VERBS").unwrap();
        let version = page.find(".SH VERSION").unwrap();
        assert!(verbs < version);
    }

    #[test]
    fn roff_text_escapes_what_roff_would_interpret() {
        assert_eq!(roff_text("a-b \\x"), "a\\-b \\\\x");
        assert_eq!(roff_text(".starts with a dot"), "\\&.starts with a dot");
        assert_eq!(roff_text("two\n  lines"), "two lines");
    }
}
