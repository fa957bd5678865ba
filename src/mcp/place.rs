//! Where this Claude Code session works: its directory (home shown as `~`) and the git branch checked out there,
//! read from `.git/HEAD` (no `git` process). The push-pipe reports both with `presence.set`, so peers and
//! `claudemesh dash` can show them.

use std::path::{Path, PathBuf};

/// Longest values the broker accepts.
const MAX_CWD: usize = 512;
const MAX_BRANCH: usize = 255;

/// `(cwd, branch)` for a session started in `cwd`.
pub(crate) fn place(cwd: &Path, home: Option<&Path>) -> (String, Option<String>) {
    let shown = match home.and_then(|h| cwd.strip_prefix(h).ok()) {
        Some(rest) if rest.as_os_str().is_empty() => "~".to_string(),
        Some(rest) => format!("~/{}", rest.display()),
        None => cwd.display().to_string(),
    };
    let clean = |s: String, max: usize| -> String { s.chars().filter(|c| !c.is_control()).take(max).collect() };
    (clean(shown, MAX_CWD), branch(cwd).map(|b| clean(b, MAX_BRANCH)).filter(|b| !b.is_empty()))
}

/// The branch of the git checkout holding `dir` (a short commit id when detached); `None` outside git.
fn branch(dir: &Path) -> Option<String> {
    let git = dir.ancestors().map(|d| d.join(".git")).find(|g| g.exists())?;
    let git_dir = if git.is_file() {
        // A worktree or submodule: `.git` is a file naming the real directory.
        let text = std::fs::read_to_string(&git).ok()?;
        let target = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
        if target.is_absolute() { target } else { git.parent()?.join(target) }
    } else {
        git
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    match head.strip_prefix("ref:") {
        Some(r) => Some(r.trim().trim_start_matches("refs/heads/").to_string()),
        None => head.get(..7).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_tilde_and_the_branch_comes_from_head() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("src/api");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/auth-v2\n").unwrap();
        std::fs::create_dir_all(repo.join("crates/core")).unwrap();
        let (cwd, branch) = place(&repo.join("crates/core"), Some(dir.path()));
        assert_eq!(cwd, "~/src/api/crates/core");
        assert_eq!(branch.as_deref(), Some("auth-v2"));
        assert_eq!(place(dir.path(), Some(dir.path())).0, "~");
        std::fs::write(repo.join(".git/HEAD"), "0123456789abcdef\n").unwrap();
        assert_eq!(place(&repo, None).1.as_deref(), Some("0123456"));
    }

    #[test]
    fn a_worktree_follows_its_gitdir_file_and_no_git_means_no_branch() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("main/.git/worktrees/wt");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("HEAD"), "ref: refs/heads/dash\n").unwrap();
        let wt = dir.path().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), format!("gitdir: {}\n", real.display())).unwrap();
        assert_eq!(place(&wt, None).1.as_deref(), Some("dash"));
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(place(plain.path(), None).1, None);
    }
}
