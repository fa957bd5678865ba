//! The command line, defined once with clap derive: global flags, every verb and its flags.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::broker::BrokerArgs;
use crate::output::OutputFlags;

/// A peer mesh for Claude Code sessions.
#[derive(Debug, Parser)]
#[command(name = "claudemesh", version, about, long_about = None, disable_help_subcommand = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every verb takes. `json` is true for any JSON-shaped output (`--json[=FIELDS]`, `--jq`, `--template`,
/// `--output-format json|stream-json`), so verbs test one bool; `output` says how the Printer shapes the document.
#[derive(Debug, Clone)]
pub(crate) struct GlobalFlags {
    pub json: bool,
    pub output: OutputFlags,
    pub mesh: Option<String>,
    pub yes: bool,
    pub approval_mode: Option<crate::policy::ApprovalMode>,
    pub policy: Option<std::path::PathBuf>,
}

/// What clap parses into `GlobalFlags` (it derives `json` from the output flags).
#[derive(Debug, Clone, Args)]
struct GlobalArgs {
    #[command(flatten)]
    output: OutputFlags,
    /// The mesh to use (a slug from `claudemesh list`); default: $CLAUDEMESH_MESH, then the current mesh.
    #[arg(long, global = true, value_name = "SLUG")]
    mesh: Option<String>,
    /// Answer yes to confirmations (needed for destructive verbs without a terminal).
    #[arg(short = 'y', long, global = true)]
    yes: bool,
    /// How much verbs may change: plan (nothing), read-only, write (default: the policy decides), yolo (no
    /// prompts; denies stay denies).
    #[arg(long, global = true, value_enum, value_name = "MODE")]
    approval_mode: Option<crate::policy::ApprovalMode>,
    /// An extra policy file for this run (it can only make the user's policy stricter).
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<std::path::PathBuf>,
}

impl From<GlobalArgs> for GlobalFlags {
    fn from(a: GlobalArgs) -> Self {
        Self {
            json: a.output.wants_json(),
            output: a.output,
            mesh: a.mesh,
            yes: a.yes,
            approval_mode: a.approval_mode,
            policy: a.policy,
        }
    }
}

impl clap::FromArgMatches for GlobalFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        <GlobalArgs as clap::FromArgMatches>::from_arg_matches(matches).map(Self::from)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for GlobalFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        GlobalArgs::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        GlobalArgs::augment_args_for_update(cmd)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a broker server (HTTP + WebSocket, embedded SQLite).
    Broker(BrokerArgs),
    /// Peers of the mesh: `peer list` (also `peers`).
    Peer {
        #[command(subcommand)]
        action: PeerAction,
    },
    /// Messages: `message send|inbox|status` (also `send`, `inbox`, `msg-status`).
    Message {
        #[command(subcommand)]
        action: MessageAction,
    },
    /// Meshes: `mesh new|list|info|use|rename|leave` (also `new`, `list`, `rename`, `leave`).
    Mesh {
        #[command(subcommand)]
        action: MeshAction,
    },
    /// Your peer in the mesh: `profile show|set` (status, summary, visibility).
    Profile {
        #[command(subcommand)]
        action: ProfileAction,
    },
    /// Groups: `group join|leave|list`.
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Invites: `invite [create] [--role --expires --uses]`, `invite list`, `invite revoke <id>`.
    Invite(InviteCmd),
    /// Create a mesh and make it current (same as `mesh new`).
    New(NewArgs),
    /// Join a mesh with an invite link (also: `claudemesh <url>`).
    Join {
        /// The invite link.
        url: String,
        /// Your display name in the mesh; default: $USER.
        #[arg(long = "name", value_name = "DISPLAY")]
        display_name: Option<String>,
    },
    /// List the meshes this machine has joined (same as `mesh list`).
    List,
    /// Rename the current mesh (same as `mesh rename`).
    Rename(RenameArgs),
    /// Leave a mesh and delete its keys from this machine (same as `mesh leave`).
    Leave(LeaveArgs),
    /// Show who you are in the current mesh (local, no network).
    Whoami,
    /// Send an end-to-end-encrypted message (same as `message send`).
    Send(SendArgs),
    /// Show received messages (same as `message inbox`).
    Inbox(InboxArgs),
    /// List the peers of the mesh (same as `peer list`).
    Peers(PeersArgs),
    /// Show the delivery state of a message you sent (same as `message status`).
    MsgStatus(MsgIdArgs),
    /// Set your status (same as `profile set --status`).
    Status {
        #[command(subcommand)]
        action: StatusAction,
    },
    /// Set your summary (same as `profile set --summary`).
    Summary {
        #[command(subcommand)]
        action: SummaryAction,
    },
    /// The full-screen mesh dashboard: peers, live messages, compose (`--mesh SLUG` picks the mesh).
    Dash,
    /// The per-user background daemon (started on demand): status, stop.
    Daemon(crate::daemon::DaemonArgs),
    /// The push-pipe Claude Code spawns (stdio MCP server; not for people).
    Mcp(crate::mcp::McpArgs),
    /// Register claudemesh with Claude Code: MCP server, skill and hooks.
    Install,
    /// Remove what `claudemesh install` added to Claude Code.
    Uninstall,
    /// Start Claude Code on a mesh (what bare `claudemesh` does when a mesh is selected).
    Launch {
        /// Display name of this session's peer.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Arguments for claude, after `--` (e.g. `-- --resume`).
        #[arg(last = true, value_name = "CLAUDE_ARGS")]
        claude_args: Vec<String>,
    },
    /// The local audit log of policy decisions and write verbs: `audit show`, `audit verify`.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// A Claude Code hook (run by Claude Code; not for people).
    #[command(hide = true)]
    Hook {
        #[arg(value_enum)]
        event: crate::claude::HookEvent,
    },
    /// Print a shell completion script (e.g. `claudemesh completions bash > /etc/bash_completion.d/claudemesh`).
    Completions {
        /// The shell the script is for.
        #[arg(value_enum)]
        shell: super::shell::CompletionShell,
    },
    /// Print the man page (roff; e.g. `claudemesh man > ~/.local/share/man/man1/claudemesh.1`).
    Man,
    /// Shared key/value state: `state get|set|list|delete|watch`.
    State {
        #[command(subcommand)]
        action: StateAction,
    },
    /// Shared notes with tags and ranked recall: `memory remember|recall|forget` (also `remember`, `recall`,
    /// `forget`).
    Memory {
        #[command(subcommand)]
        action: MemoryAction,
    },
    /// Remember a note for the whole mesh (same as `memory remember`).
    Remember(RememberArgs),
    /// Find notes by words, tags, author or age (same as `memory recall`).
    Recall(RecallArgs),
    /// Forget a note (same as `memory forget`).
    Forget(IdArgs),
    /// Claimable work: `task create|list|show|claim|release|complete|cancel`.
    Task {
        #[command(subcommand)]
        action: TaskAction,
    },
    /// What each session works on: `context share|get|list`.
    Context {
        #[command(subcommand)]
        action: ContextAction,
    },
    /// Live pub/sub channels: `stream create|publish|subscribe|list`.
    Stream {
        #[command(subcommand)]
        action: StreamAction,
    },
    /// Scheduled messages and reminders: `schedule msg|list|cancel` (also `remind`).
    Schedule {
        #[command(subcommand)]
        action: ScheduleAction,
    },
    /// Schedule a message to yourself or a peer (same as `schedule msg`).
    Remind(ScheduleMsgArgs),
    /// The mesh's simulation clock: `clock get|set|pause|resume`.
    Clock {
        #[command(subcommand)]
        action: ClockAction,
    },
    /// Give a member extra capabilities (admins and the owner).
    Grant(CapsArgs),
    /// Take capabilities from a member (admins and the owner).
    Revoke(CapsArgs),
    /// Stop a member's direct messages and broadcasts (admins and the owner).
    Block(PeerArgs),
    /// Lift a block (admins and the owner).
    Unblock(PeerArgs),
    /// Close a member's sessions; they may rejoin with a new invite (admins and the owner).
    Kick(PeerArgs),
    /// Ban a member key from the mesh (admins and the owner).
    Ban(PeerArgs),
    /// Lift a ban (admins and the owner).
    Unban(PeerArgs),
    /// Promote or demote a member: admin, member or guest (the owner only).
    Role(RoleArgs),
    /// Who may do what: `access list [PEER]` (members, roles, effective capabilities).
    Access {
        #[command(subcommand)]
        action: AccessAction,
    },
    /// Benchmarks on real parts: `bench load` (peers × messages through a broker: latency, delivery, broker cost).
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum BenchAction {
    /// N peers join a fresh mesh by invite and each sends M sealed messages to random peers; fails unless every
    /// message arrives exactly once, in each sender's order.
    Load(LoadArgs),
    /// Fills a mesh with many memories of varied text, then times `memory.recall` queries (p50/p95/p99/max).
    Recall(BenchRecallArgs),
    /// Writers set state keys at a paced rate while N watchers receive every change; fails unless every watcher
    /// got every change once, in order.
    State(BenchStateArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct LoadArgs {
    /// How many peers (each with its own member key and WebSocket).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=5000))]
    pub peers: u64,
    /// How many messages each peer sends.
    #[arg(long, value_name = "M", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub messages: u64,
    /// Use this broker (ws://… or wss://…) instead of starting one; its process figures are then unknown.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Sends each peer keeps in flight before waiting for the broker's answer.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub window: u64,
    /// Size of each message body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 200, value_parser = clap::value_parser!(u64).range(48..=16384))]
    pub body_bytes: u64,
    /// The whole run ends by then, delivered or not (`90s`, `10m`).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Seed for the random choice of targets (default: random).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct BenchRecallArgs {
    /// How many memories the mesh holds.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub memories: u64,
    /// How many recall queries to time.
    #[arg(long, value_name = "N", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub queries: u64,
    /// Use this broker (ws://… or wss://…) instead of starting one.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Seed for the generated text and queries.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct BenchStateArgs {
    /// How many peers watch every change.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=2000))]
    pub watchers: u64,
    /// State sets per second, in all.
    #[arg(long, value_name = "N", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub rate: u64,
    /// How long the writers write, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub secs: u64,
    /// Use this broker (ws://… or wss://…) instead of starting one.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct NewArgs {
    /// The mesh's name (1-64 characters); on a terminal without it (and without -y), one question asks for it.
    #[arg(value_name = "NAME")]
    pub mesh_name: Option<String>,
    /// Broker WebSocket URL (ws://HOST:PORT/ws or wss://…); default: $CLAUDEMESH_BROKER, else this machine's
    /// embedded broker.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Your display name in the mesh; default: $USER.
    #[arg(long = "name", value_name = "DISPLAY")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RenameArgs {
    /// The new name (1-64 characters).
    pub name: String,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct LeaveArgs {
    /// The mesh to leave (slug); default: the selected mesh.
    #[arg(value_name = "SLUG")]
    pub mesh_slug: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SendArgs {
    /// A peer name, @group, or * for every other peer.
    pub to: String,
    /// The message (several words are joined with spaces; `-` reads stdin).
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
    /// How urgently it should surface: now, next (default) or low.
    #[arg(long, value_enum, default_value_t = PriorityArg::Next)]
    pub priority: PriorityArg,
    /// How long it may wait for an offline recipient (default 7d, at most 30d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<Duration>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct InboxArgs {
    /// Only messages not shown before.
    #[arg(long)]
    pub unread: bool,
    /// Keep running and print messages as they arrive.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct MsgIdArgs {
    /// The message id printed by `send`.
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct InviteArgs {
    /// Role the invitee gets [default: member].
    #[arg(long, value_enum)]
    pub role: Option<InviteRole>,
    /// How long the invite stays valid (`30m`, `12h`, `7d`) [default: 7d].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires: Option<Duration>,
    /// How many times the invite can be used (1-10000) [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub uses: Option<u32>,
}

impl InviteArgs {
    /// Any flag given: `invite` on a terminal then runs without its screen.
    pub(crate) fn any_given(&self) -> bool {
        self.role.is_some() || self.expires.is_some() || self.uses.is_some()
    }

    pub(crate) fn role(&self) -> InviteRole {
        self.role.unwrap_or(InviteRole::Member)
    }

    pub(crate) fn expires(&self) -> Duration {
        self.expires.unwrap_or(Duration::from_secs(7 * 86_400))
    }

    pub(crate) fn uses(&self) -> u32 {
        self.uses.unwrap_or(1)
    }
}

/// `invite` alone creates one (the flags below); `invite create|list|revoke` name the action.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct InviteCmd {
    #[command(subcommand)]
    pub action: Option<InviteAction>,
    #[command(flatten)]
    pub create: InviteArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum InviteAction {
    /// Create an invite link for the current mesh (owners and admins).
    Create(InviteArgs),
    /// List this mesh's invites (owners and admins).
    List,
    /// Revoke an invite so nobody can use it any more (owners and admins).
    Revoke {
        /// The invite id (from `invite list` or `invite --json`). Ids are base64url, so one may start with `-`.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum PeerAction {
    /// List the peers of the mesh.
    List(PeersArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PeersArgs {
    /// Keep running and print each change (joined, updated, left) as it happens (one JSON object per line with
    /// --output-format stream-json).
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum MessageAction {
    /// Send an end-to-end-encrypted message to a peer, a @group or everyone (*).
    Send(SendArgs),
    /// Show received messages (and fetch new ones from the broker).
    Inbox(InboxArgs),
    /// Show the delivery state of a message you sent.
    Status(MsgIdArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum MeshAction {
    /// Create a mesh and make it current.
    New(NewArgs),
    /// List the meshes this machine has joined.
    List,
    /// Show the selected mesh as the broker sees it.
    Info,
    /// Make a mesh the current one (what verbs use without --mesh or $CLAUDEMESH_MESH).
    Use {
        /// The mesh's slug (from `mesh list`).
        #[arg(value_name = "SLUG")]
        slug: String,
    },
    /// Rename the selected mesh (owners and admins).
    Rename(RenameArgs),
    /// Leave a mesh and delete its keys from this machine.
    Leave(LeaveArgs),
    /// Delete the mesh on the broker for everyone (the owner only; destructive).
    Delete,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum ProfileAction {
    /// Your peer: name, status, summary, groups, keys.
    Show,
    /// Change your status, summary or visibility (any combination).
    Set(ProfileSetArgs),
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = true)]
pub(crate) struct ProfileSetArgs {
    /// idle, working or dnd.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// What you are working on (at most 280 characters).
    #[arg(long, value_name = "TEXT")]
    pub summary: Option<String>,
    /// Whether `*` broadcasts reach you and others see you listed.
    #[arg(long, value_name = "BOOL")]
    pub visible: Option<bool>,
    /// A new display name for this session's peer (unique in the mesh).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum StatusAction {
    /// Set your status: idle, working or dnd.
    Set { status: StatusArg },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SummaryAction {
    /// Set your summary (at most 280 characters).
    Set {
        #[arg(required = true, num_args = 1.., value_name = "TEXT")]
        text: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum GroupAction {
    /// Join a group (`dev` or `@dev`).
    Join {
        name: String,
        /// Your role in the group (free text, e.g. lead).
        #[arg(long)]
        role: Option<String>,
    },
    /// Leave a group.
    Leave { name: String },
    /// List the groups of the mesh and who is in them.
    List,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum AuditAction {
    /// Show the newest audit entries, newest last.
    Show {
        /// How many entries to show (0: all).
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: usize,
    },
    /// Check the hash chain: exits 3 naming the first bad line.
    Verify,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum StateAction {
    /// Print a key's value.
    Get {
        /// The key (1-256 characters of A-Z a-z 0-9 . _ : / -).
        key: String,
    },
    /// Set a key: VALUE is taken as JSON when it parses as JSON, else as a string.
    Set(StateSetArgs),
    /// List keys, sorted, optionally under a prefix.
    List {
        /// Only keys starting with this.
        prefix: Option<String>,
        /// At most this many entries (1-1000).
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Delete a key (destructive).
    Delete {
        key: String,
        /// Delete only if the key's version is exactly N.
        #[arg(long, value_name = "N")]
        if_version: Option<u64>,
    },
    /// Print every change as it happens until Ctrl-C (one JSON object per line with --json).
    Watch {
        /// Only keys starting with this.
        prefix: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct StateSetArgs {
    pub key: String,
    /// The value: JSON when it parses (`42`, `true`, `{"a":1}`, `"quoted"`), else the text as a string (several
    /// words are joined with spaces).
    #[arg(required = true, num_args = 1.., value_name = "VALUE", allow_negative_numbers = true)]
    pub value: Vec<String>,
    /// Write only if the key's version is exactly N (0: only if the key does not exist); else exit 6.
    #[arg(long, value_name = "N")]
    pub if_version: Option<u64>,
    /// VALUE must be JSON (exit 3 when it does not parse).
    #[arg(long, conflicts_with = "string")]
    pub json_value: bool,
    /// VALUE is a string even when it parses as JSON.
    #[arg(long)]
    pub string: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum MemoryAction {
    /// Remember a note for the whole mesh.
    Remember(RememberArgs),
    /// Find notes: ranked by the words of QUERY, newest first without one.
    Recall(RecallArgs),
    /// Forget a note (destructive).
    Forget(IdArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RememberArgs {
    /// The note (several words are joined with spaces; at most 8 KiB).
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
    /// A tag (1-64 characters of a-z 0-9 . _ : -); repeat for more (at most 16).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RecallArgs {
    /// Words that must all match (several words are joined).
    #[arg(num_args = 0.., value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only notes with this tag; repeat for notes with all of them.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only notes by this author (display name or session key).
    #[arg(long, value_name = "NAME")]
    pub author: Option<String>,
    /// Only notes newer than a duration ago (`2h`, `7d`) or a time (RFC 3339).
    #[arg(long, value_name = "DUR|TIME")]
    pub since: Option<String>,
    /// At most this many notes (1-200).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: u32,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct IdArgs {
    /// The id (12 characters, printed when it was made).
    pub id: String,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum TaskAction {
    /// Create a task anyone in the mesh can claim.
    Create(TaskCreateArgs),
    /// List tasks.
    List(TaskListArgs),
    /// Show one task.
    Show(IdArgs),
    /// Claim a task (exit 6 when someone else holds it).
    Claim(IdArgs),
    /// Give a claimed task back (it is open again).
    Release(IdArgs),
    /// Mark a task done; the creator gets a message.
    Complete {
        id: String,
        /// What came of it (at most 4 KiB).
        #[arg(long, value_name = "TEXT")]
        result: Option<String>,
    },
    /// Cancel a task (its creator or an admin; destructive).
    Cancel(IdArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct TaskCreateArgs {
    /// The title (1-200 characters; several words are joined).
    #[arg(required = true, num_args = 1.., value_name = "TITLE")]
    pub title: Vec<String>,
    /// Details (at most 16 KiB).
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
    /// A tag; repeat for more (at most 16).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// A task that must be done first; repeat for more (at most 32).
    #[arg(long = "dep", value_name = "ID")]
    pub deps: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct TaskListArgs {
    /// Only tasks in this state.
    #[arg(long, value_enum)]
    pub state: Option<TaskStateArg>,
    /// Only tasks with this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only tasks this session holds.
    #[arg(long)]
    pub mine: bool,
    /// At most this many tasks (1-1000).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TaskStateArg {
    Open,
    Claimed,
    Done,
    Cancelled,
}

impl TaskStateArg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum ContextAction {
    /// Tell the mesh what you are working on (replaces your previous context).
    Share(ContextShareArgs),
    /// Show a peer's context.
    Get {
        /// A display name or session key.
        peer: String,
    },
    /// List contexts, most recently updated first, or ranked by QUERY.
    List {
        /// Words to search summaries, files, branches and notes for.
        #[arg(num_args = 0.., value_name = "QUERY")]
        query: Vec<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ContextShareArgs {
    /// One line on what you are doing (1-500 characters; several words are joined).
    #[arg(required = true, num_args = 1.., value_name = "SUMMARY")]
    pub summary: Vec<String>,
    /// A file you are working on; repeat for more (at most 100).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<String>,
    /// Your branch; default: the current git branch, if any.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Free notes (at most 4 KiB).
    #[arg(long, value_name = "TEXT")]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum StreamAction {
    /// Create a stream (1-64 characters of a-z 0-9 . _ -).
    Create { name: String },
    /// Publish to a stream: DATA is JSON when it parses, else a string.
    Publish {
        name: String,
        #[arg(allow_negative_numbers = true)]
        data: String,
    },
    /// Print what is published to a stream until Ctrl-C (one JSON object per line with --json).
    Subscribe { name: String },
    /// List the mesh's streams.
    List,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum ScheduleAction {
    /// Schedule a message: `schedule msg [TO] MESSAGE --in 10m | --at TIME | --cron EXPR`.
    Msg(ScheduleMsgArgs),
    /// List your schedules (admins see all).
    List,
    /// Cancel a schedule.
    Cancel(IdArgs),
}

#[derive(Debug, Clone, Args)]
#[group(skip)]
#[command(group = clap::ArgGroup::new("when").required(true).multiple(false))]
pub(crate) struct ScheduleMsgArgs {
    /// `[TO] MESSAGE`: with two arguments the first is the recipient, a peer name or @group; with one, the
    /// message goes to yourself.
    #[arg(required = true, num_args = 1..=2, value_name = "MESSAGE")]
    pub words: Vec<String>,
    /// Deliver after this long (`90s`, `10m`, `2h`).
    #[arg(long = "in", value_name = "DURATION", value_parser = parse_duration, group = "when")]
    pub in_: Option<Duration>,
    /// Deliver at this time: RFC 3339, or HH:MM local (the next such time).
    #[arg(long, value_name = "TIME", group = "when")]
    pub at: Option<String>,
    /// Deliver on this 5-field cron schedule, in your local time (`0 9 * * 1-5`).
    #[arg(long, value_name = "EXPR", group = "when")]
    pub cron: Option<String>,
    /// How urgently it should surface: now, next (default) or low.
    #[arg(long, value_enum, default_value_t = PriorityArg::Next)]
    pub priority: PriorityArg,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum ClockAction {
    /// Show the mesh clock.
    Get,
    /// Set the mesh clock to TIME (RFC 3339, Unix milliseconds or `now`), optionally running at a rate.
    Set {
        time: String,
        /// Simulated milliseconds per real millisecond (above 0, at most 1000; default: unchanged).
        #[arg(long, value_name = "X")]
        rate: Option<f64>,
    },
    /// Stop the mesh clock.
    Pause,
    /// Start the mesh clock again.
    Resume,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CapsArgs {
    /// A display name, session key or member key.
    pub peer: String,
    /// Capabilities: dm, broadcast, state-read, state-write, memory-read, memory-write, task-read, task-write,
    /// context-read, context-write, stream-read, stream-write, schedule, clock-write, file-read, file-write.
    #[arg(required = true, num_args = 1.., value_name = "CAP")]
    pub caps: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PeerArgs {
    /// A display name, session key or member key.
    pub peer: String,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RoleArgs {
    /// A display name, session key or member key.
    pub peer: String,
    /// The new role.
    #[arg(value_enum)]
    pub role: InviteRole,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum AccessAction {
    /// Members, roles, grants and effective capabilities (one member with PEER).
    List {
        /// A display name, session key or member key.
        peer: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InviteRole {
    Admin,
    Member,
    Guest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PriorityArg {
    Now,
    Next,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusArg {
    Idle,
    Working,
    Dnd,
}

/// `30s`, `15m`, `12h`, `7d` (humantime syntax); zero is refused.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| e.to_string())?;
    if d.as_secs() == 0 {
        return Err("the duration must be at least 1s".into());
    }
    Ok(d)
}

/// Global flags that take a value (needed to find the first positional argument before clap runs).
const GLOBAL_VALUE_FLAGS: &[&str] = &["--mesh", "--approval-mode", "--policy", "--jq", "--template", "--output-format"];

/// `claudemesh [flags] <invite-url> [more]` means `claudemesh [flags] join <invite-url> [more]`.
pub(crate) fn rewrite_bare_invite(args: Vec<String>, looks_like_invite: impl Fn(&str) -> bool) -> Vec<String> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            break;
        }
        if GLOBAL_VALUE_FLAGS.contains(&a) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        if looks_like_invite(a) {
            let mut out = args;
            out.insert(i, "join".to_string());
            return out;
        }
        break;
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_invite_id_that_starts_with_a_dash_is_an_id_not_a_flag() {
        // One base64url id in 64 starts with `-` (docs_shapes met one in CI).
        let cli = Cli::try_parse_from(["claudemesh", "invite", "revoke", "-tN9gTErQd2gtJcDdqYGtw", "-y"]);
        let Ok(Cli { command: Some(Command::Invite(cmd)), global }) = cli else { panic!("not parsed: {cli:?}") };
        assert!(global.yes);
        assert!(format!("{cmd:?}").contains("-tN9gTErQd2gtJcDdqYGtw"), "{cmd:?}");
    }

    #[test]
    fn bare_invite_urls_become_join() {
        let looks = |s: &str| s.starts_with("http://");
        assert_eq!(rewrite_bare_invite(v(&["cm", "http://x/join/t"]), looks), v(&["cm", "join", "http://x/join/t"]));
        assert_eq!(
            rewrite_bare_invite(v(&["cm", "--mesh", "a", "--json", "http://x", "--name", "b"]), looks),
            v(&["cm", "--mesh", "a", "--json", "join", "http://x", "--name", "b"])
        );
        assert_eq!(rewrite_bare_invite(v(&["cm", "send", "http://x"]), looks), v(&["cm", "send", "http://x"]));
        assert_eq!(rewrite_bare_invite(v(&["cm"]), looks), v(&["cm"]));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn state_set_takes_negative_numbers_and_joins_words() {
        let cli = Cli::try_parse_from(["cm", "state", "set", "k", "-5", "--if-version", "2"]).unwrap();
        match cli.command {
            Some(Command::State { action: StateAction::Set(a) }) => {
                assert_eq!(a.value, vec!["-5"]);
                assert_eq!(a.if_version, Some(2));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["cm", "state", "set", "k", "ship", "it"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::State { action: StateAction::Set(a) }) if a.value == ["ship", "it"])
        );
    }

    #[test]
    fn launch_passes_everything_after_the_double_dash_to_claude() {
        let cli =
            Cli::try_parse_from(["cm", "--mesh", "team", "launch", "--name", "a", "--", "--json", "-p", "hi"]).unwrap();
        assert_eq!(cli.global.mesh.as_deref(), Some("team"));
        assert!(!cli.global.json);
        match cli.command {
            Some(Command::Launch { name, claude_args }) => {
                assert_eq!(name.as_deref(), Some("a"));
                assert_eq!(claude_args, vec!["--json", "-p", "hi"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn send_joins_words_and_parses_flags() {
        let cli = Cli::try_parse_from(["cm", "send", "bob", "hello", "there", "--priority", "now", "--json"]).unwrap();
        assert!(cli.global.json);
        match cli.command {
            Some(Command::Send(SendArgs { to, text, priority, ttl })) => {
                assert_eq!(to, "bob");
                assert_eq!(text, vec!["hello", "there"]);
                assert_eq!(priority, PriorityArg::Now);
                assert_eq!(ttl, None);
            }
            other => panic!("{other:?}"),
        }
    }
}
