//! What every verb starts from: the environment snapshot, the home directory, the printer, global flags, and the
//! helpers that select a mesh and load its identity.

use std::io::{BufRead, IsTerminal, Write};

use crate::client::Identity;
use crate::config::{Config, Env, Home, MeshEntry, sanitize_session_id};
use crate::crypto::{SigningKey, random_bytes};
use crate::i18n::{self, Arg};
use crate::output::Printer;
use crate::proto::{MeshId, is_valid_name};

use super::args::GlobalFlags;
use super::error::{CliError, Exit};

pub(crate) struct Ctx {
    pub env: Env,
    pub home: Home,
    pub out: Printer,
    pub global: GlobalFlags,
}

impl Ctx {
    pub(crate) fn new(env: Env, global: GlobalFlags) -> Result<Self, CliError> {
        let out = Printer::new(global.json, env.no_color);
        let root = env.home_dir().ok_or(crate::config::ConfigError::NoHome)?;
        Ok(Self { home: Home::new(root), out, env, global })
    }

    /// Warns (once per run) about private paths with loose permissions.
    pub(crate) fn warn_permissions(&self) {
        for w in self.home.permission_warnings() {
            self.out.warn(&i18n::t_args(
                "warn-permissions",
                &[
                    ("path", w.path.display().to_string().into()),
                    ("mode", format!("{:o}", w.mode).into()),
                    ("expected", format!("{:o}", w.expected).into()),
                ],
            ));
        }
    }

    pub(crate) fn load_config(&self) -> Result<Config, CliError> {
        Ok(Config::load(&self.home)?)
    }

    /// Saves the configuration and tightens any loose permissions in the home.
    pub(crate) fn save_config(&self, config: &Config) -> Result<(), CliError> {
        config.save(&self.home)?;
        self.home.fix_permissions()?;
        Ok(())
    }

    /// The mesh a verb acts on: `explicit` (a positional slug), else `--mesh`, else `$CLAUDEMESH_MESH`, else current.
    pub(crate) fn select_mesh<'c>(
        &self,
        config: &'c Config,
        explicit: Option<&str>,
    ) -> Result<&'c MeshEntry, CliError> {
        let wanted = explicit.or(self.global.mesh.as_deref()).or(self.env.mesh.as_deref());
        if config.meshes.is_empty() {
            return Err(CliError::new(Exit::NotFound, "no_mesh", "err-no-meshes").hint("hint-new-or-join"));
        }
        match wanted {
            Some(slug) => config.by_slug(slug).ok_or_else(|| {
                let known: Vec<&str> = config.meshes.iter().map(|m| m.slug.as_str()).collect();
                let err = CliError::new(Exit::NotFound, "mesh_not_found", "err-mesh-not-found")
                    .arg("slug", slug)
                    .arg("known", known.join(", "));
                // A typo (edit distance ≤ 2) gets a "did you mean"; otherwise the list.
                match crate::client::closest_names(&known, slug).first() {
                    Some(close) if crate::client::edit_distance(&close.to_lowercase(), &slug.to_lowercase()) <= 2 => {
                        err.arg("closest", close.as_str()).hint("hint-did-you-mean-mesh")
                    }
                    _ => err.hint("hint-known-meshes"),
                }
            }),
            None => config
                .current
                .as_deref()
                .and_then(|c| config.by_slug(c))
                .ok_or_else(|| CliError::new(Exit::NotFound, "no_mesh", "err-no-current").hint("hint-pick-mesh")),
        }
    }

    /// `CLAUDE_CODE_SESSION_ID`, sanitised, or `cli`.
    pub(crate) fn session_id(&self) -> String {
        sanitize_session_id(self.env.session_id.as_deref())
    }

    /// `--name`, else `$USER`, else `peer`; must be a valid name.
    pub(crate) fn display_name(&self, flag: Option<&str>) -> Result<String, CliError> {
        let name = flag.map(str::to_string).or_else(|| self.env.user.clone()).unwrap_or_else(|| "peer".to_string());
        if !is_valid_name(&name) {
            return Err(CliError::invalid("err-bad-display-name").arg("name", name).hint("hint-name-rules"));
        }
        Ok(name)
    }

    /// Loads the member key and this session's key (created on first use and kept forever).
    pub(crate) fn identity(&self, entry: &MeshEntry) -> Result<Identity, CliError> {
        let mesh_id = MeshId::try_from(entry.id.clone()).map_err(|reason| {
            CliError::from(crate::config::ConfigError::Invalid { path: self.home.config_path(), reason })
        })?;
        let member = SigningKey::from_seed(&*self.home.read_member_seed(&entry.id)?);
        let fresh = random_bytes::<32>()?;
        let session_seed = self.home.load_or_create_session_seed(&entry.id, &self.session_id(), &fresh)?;
        Ok(Identity {
            mesh_id,
            member,
            session: SigningKey::from_seed(&session_seed),
            name: entry.name_requested.clone(),
        })
    }

    /// Asks for typed confirmation of a destructive action. Without a terminal, `-y` is required.
    pub(crate) fn confirm(&self, word: &'static str, flag_hint_args: &[(&'static str, Arg)]) -> Result<(), CliError> {
        if self.global.yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            let mut err = CliError::invalid("err-needs-yes").arg("word", word).hint("hint-needs-yes");
            for (k, v) in flag_hint_args {
                err = err.arg(k, v.clone());
            }
            return Err(err);
        }
        let prompt = i18n::t_args("prompt-type-to-confirm", &[("word", word.into())]);
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{prompt} ");
        let _ = stderr.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(CliError::internal)?;
        if line.trim() == word { Ok(()) } else { Err(CliError::new(Exit::Cancelled, "cancelled", "err-cancelled")) }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    crate::clock::now_ms()
}

/// A current-thread tokio runtime for one verb's network conversation.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CliError::internal)
}
