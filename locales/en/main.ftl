# claudemesh — English messages. Every id here must exist in locales/es/main.ftl too (a unit test checks).
# Voice: one to three sentences — what happened, why, one next action. No "please", no "successfully".

## Short help (bare `claudemesh`)

help-tagline = A peer mesh for Claude Code sessions.
help-start-new = Start a mesh: claudemesh new <name> --broker ws://HOST:PORT/ws
help-start-join = Join one: claudemesh <invite-url>
help-daily = Then: claudemesh peers, claudemesh send <peer> <text>, claudemesh inbox
help-all = Every command and flag: claudemesh --help

## Membership

new-done = Your mesh is live. Anyone with the invite can join.
new-details = { $mesh } (slug { $slug }) on { $broker }; you are { $name }.
new-next = Invite someone: claudemesh invite
invite-done = Invite to { $mesh } as { $role }, { $uses ->
    [one] usable once
   *[other] usable { $uses } times
}, valid for { $span }:
invite-next = Share the link; the other person runs: claudemesh <link>
join-done = You're in.
join-details = { $mesh }: you are { $name } ({ $role }), invited by { $inviter }.
join-next = See who is here: claudemesh peers
join-already = You are already in { $mesh } (slug { $slug }); nothing changed.
list-empty = This machine has not joined any mesh yet.
rename-done = Renamed { $old } to { $new }.
leave-done = You left { $mesh }. Its keys and messages are deleted from this machine.
leave-now-current = Current mesh is now { $mesh }.
prompt-type-to-confirm = Type "{ $word }" to confirm:

## whoami

whoami-mesh = mesh
whoami-mesh-id = mesh id
whoami-name = name
whoami-role = role
whoami-member-key = member key
whoami-peer-id = peer id
whoami-session = session
whoami-broker = broker
whoami-no-peer-yet = (none yet: this session has not connected)

## Messaging

send-done = Sent.
send-details = id { $id } · to { $to } · { $count ->
    [one] 1 recipient
   *[other] { $count } recipients
}
send-next = Track it: claudemesh msg-status { $id }
inbox-empty = No messages in { $mesh }.
inbox-empty-unread = No unread messages in { $mesh }.
peers-online = online
peers-you = (you)
status-header = { $id } to { $to }: { $state }
status-attempts = { $count ->
    [one] 1 attempt
   *[other] { $count } attempts
}
status-set-done = Status set to { $status }.
summary-set-done = Summary updated.
group-join-done = Joined @{ $group }.
group-leave-done = Left @{ $group }.
time-just-now = just now
time-ago = { $span } ago

## Warnings (stderr)

warn-permissions = { $path } has mode { $mode }, looser than { $expected }; claudemesh tightens it on its next write.
warn-undecryptable = Dropped a message claiming to be from { $name }: { $detail }.
warn-skipped-unattested = Skipped { $name }: its session key is not attested by its member key.
warn-inbox-offline = The broker at { $broker } is unreachable, so this shows only messages already on this machine.
warn-reconnecting = Lost the connection to { $broker }; reconnecting.

## Errors: what happened and why (the hint below says what to do)

err-internal = claudemesh hit an internal error: { $detail }.
err-no-home = There is no home directory to keep keys in, because neither CLAUDEMESH_HOME nor HOME is set.
err-key-missing = The key file { $path } is missing, so this machine cannot speak for that membership.
err-config-invalid = { $path } cannot be read: { $detail }.
err-local-io = Cannot write { $path }: { $detail }.
err-store = The local message store failed: { $detail }.
err-store-too-new = The local message store was written by a newer claudemesh.
err-invite-not-invite = This is not a claudemesh invite link.
err-invite-malformed = The invite link is damaged (its token does not decode).
err-invite-version = The invite uses version { $version }, which this claudemesh does not know.
err-invite-forged = The invite's signature does not match its contents, so it was altered or forged.
err-invite-expired-broker = The broker says this invite has expired.
err-invite-exhausted = This invite has been used as many times as it allows.
err-invite-invalid = The broker does not accept this invite: it was revoked, never registered, or its issuer is no longer an admin.
err-bad-broker-url = { $url } is not a broker URL: { $detail }.
err-new-needs-broker = No broker given, and the zero-setup local broker is not available yet.
err-unreachable = Cannot reach the broker at { $url } ({ $detail }).
err-connect-timeout = The broker at { $url } did not answer within { $secs } s.
err-call-timeout = The broker did not answer { $method } within { $secs } s.
err-connection-lost = The connection to the broker dropped ({ $detail }).
err-removed = The broker closed the connection because this member is no longer in the mesh.
err-session-replaced = Another process connected with this session's key and took over the connection.
err-protocol = The broker sent something this claudemesh does not understand: { $detail }.
err-body-too-large = The message is { $bytes } bytes; the limit is { $max }.
err-body-empty = The message is empty.
err-stdin-not-text = Standard input is not UTF-8 text.
err-ttl-too-long = The TTL is longer than the 30 days a broker keeps messages.
err-unverified = No recipient could be verified: { $names } failed attestation.
err-no-such-peer = There is no peer named "{ $name }" in this mesh.
err-empty-group = No other peer is in @{ $group }.
err-nobody-else = No other peer is in this mesh yet.
err-send-to-self = "{ $name }" is this session.
err-empty-target = The recipient is empty.
err-auth-failed = The broker refused this session's keys ({ $detail }).
err-not-member = The broker says this member is not in the mesh ({ $detail }).
err-forbidden = Your role does not allow this ({ $detail }).
err-not-found = The broker has no such object ({ $detail }).
err-already-exists = That already exists on the broker ({ $detail }).
err-conflict = Someone else changed it first ({ $detail }).
err-rate-limited = The broker is rate-limiting this session ({ $detail }).
err-payload-too-large = The broker refused the message as too large ({ $detail }).
err-invalid-params = The broker refused the request ({ $detail }).
err-broker-unavailable = The broker's storage is unavailable, so nothing was stored ({ $detail }).
err-broker-internal = The broker failed to handle the request ({ $detail }).
err-invite-needs-admin = Only owners and admins can create invites to { $mesh }; you are { $role }.
err-rename-needs-admin = Only owners and admins can rename { $mesh }; you are { $role }.
err-leave-owner = The owner cannot leave { $mesh }, because a mesh always keeps its owner.
err-needs-yes = Leaving deletes this mesh's keys, and there is no terminal to confirm on.
err-cancelled = Cancelled; nothing changed.
err-bad-mesh-name = "{ $name }" is not a valid mesh name.
err-bad-display-name = "{ $name }" is not a valid display name.
err-bad-group-name = "{ $name }" is not a valid group name.
err-bad-summary = A summary is at most { $max } characters without control characters.
err-bad-message-id = "{ $id }" is not a message id.
err-no-meshes = This machine has not joined any mesh yet.
err-no-current = No mesh is selected.
err-mesh-not-found = There is no local mesh "{ $slug }".

## Hints: exactly one next action

hint-report-bug = Report it as a bug, with the command you ran and this message.
hint-set-home = Set CLAUDEMESH_HOME to a directory.
hint-rejoin = Join the mesh again with a new invite.
hint-fix-config = Fix or remove that file, then run the command again.
hint-check-disk = Check the disk and the file's permissions.
hint-upgrade = Upgrade claudemesh.
hint-ask-new-invite = Ask an admin of the mesh for a new invite.
hint-broker-flag = Pass --broker ws://HOST:PORT/ws (or set CLAUDEMESH_BROKER).
hint-start-broker = Start it with claudemesh broker, or check the URL.
hint-retry = Run the command again.
hint-session-id = Run one claudemesh command at a time per session, or give each its own CLAUDE_CODE_SESSION_ID.
hint-shorten = Send a shorter message (at most 32 KiB).
hint-send-usage = Usage: claudemesh send <peer|@group|*> <text>
hint-unverified = Ask them to reconnect; their keys are not what their membership signed.
hint-closest-peers = Did you mean: { $closest }?
hint-list-peers = See who is here: claudemesh peers
hint-invite = Invite someone: claudemesh invite
hint-ask-admin = Ask an owner or admin of the mesh.
hint-reread = Read it again, then retry with the version you saw.
hint-check-id = Check the id: claudemesh msg-status takes the id printed by send.
hint-check-args = Check the values with claudemesh --help.
hint-ttl = Use a TTL of at most 30d.
hint-leave-owner = Keep it for now: handing a mesh to a new owner is not available yet.
hint-needs-yes = Run it again with -y: claudemesh { $word } { $slug } -y
hint-name-rules = Use 1 to 64 characters without control characters.
hint-group-rules = Use 1 to 64 characters without spaces, like dev or @dev.
hint-message-id = Use the id printed by claudemesh send.
hint-new-or-join = Create one with claudemesh new <name> --broker ws://HOST:PORT/ws, or join with claudemesh <invite-url>.
hint-pick-mesh = Pick one with --mesh SLUG (see claudemesh list).
hint-known-meshes = Use one of: { $known }.
hint-help = See claudemesh --help.

# receipts
status-via = via { $via ->
    [channel] channel
    [inbox_socket] inbox socket
    [hook] hook
    [cli] CLI
   *[other] { $via }
} · { $ago }

# daemon and warm path
send-queued = Queued: the broker at { $broker } cannot be reached right now.
send-queued-full = Queued: the broker at { $broker } cannot store messages right now (its disk is full or its storage failed); this machine keeps it and tries again.
send-queued-details = id { $id } · it goes out, in order, as soon as the broker is back
status-outbox = { $id } is still in this machine's outbox: the broker at { $broker } has not taken it yet.
warn-daemon-reconnecting = Lost the claudemesh daemon; reconnecting.
daemon-not-running = The claudemesh daemon is not running.
daemon-starts-on-demand = It starts by itself with the next claudemesh command.
daemon-running = Daemon { $version } running (pid { $pid }), { $outbox } queued to send.
daemon-embedded = embedded broker { $url }
daemon-stopped = Daemon stopped (pid { $pid }).

# claude integration
install-done = claudemesh is installed in Claude Code: MCP server, skill and hooks.
install-already = claudemesh is already installed in Claude Code; nothing changed.
install-where = MCP server in { $mcp }, hooks in { $settings }, skill in { $skill }
install-moved = The claudemesh entries pointed to { $previous }; they now run { $binary }.
install-next = Start Claude Code on your mesh: claudemesh launch
uninstall-done = claudemesh is removed from Claude Code: MCP server, skill and hooks.
uninstall-none = claudemesh is not installed in Claude Code; nothing changed.
uninstall-next = Install it again with claudemesh install
claude-backups = Backups: { $paths }
warn-claude-not-installed = Claude Code has no claudemesh MCP server, so messages will not reach this session. Run claudemesh install first.
warn-daemon-not-started = The claudemesh daemon did not start ({ $detail }); Claude Code starts anyway.
err-claude-not-found = Claude Code is not installed: there is no claude on PATH.
err-claude-exec = Cannot start { $path }: { $detail }.
err-claude-no-home = Cannot find Claude Code's files because HOME is not set.
err-claude-config-malformed = { $path } is not valid JSON ({ $detail }), so claudemesh changed nothing.
err-claude-config-shape = In { $path }, { $pointer } is not a JSON { $expected }, so claudemesh changed nothing.
err-claude-config-busy = { $path } kept changing while claudemesh edited it, so claudemesh left it as it is.
hint-install-claude = Install it with npm install -g @anthropic-ai/claude-code, then run the command again.
hint-fix-json = Fix that file, then run the command again.
hint-set-home-claude = Set HOME (or CLAUDE_CONFIG_DIR), then run the command again.
err-daemon = The claudemesh daemon did not complete the request: { $detail }.
hint-daemon = See what it is doing with claudemesh daemon status; set CLAUDEMESH_NO_DAEMON=1 to go straight to the broker.

# resources
mesh-use-done = { $mesh } ({ $slug }) is now the current mesh.
mesh-info-members = members
mesh-info-online = online
profile-status = status
profile-summary = summary
profile-visible = visible
profile-groups = groups
profile-set-done = Profile updated.
group-list-empty = Nobody in { $mesh } has joined a group yet. Join one with: claudemesh group join <name>
invite-list-empty = { $mesh } has no invites yet. Create one with: claudemesh invite
invite-revoked = Invite { $id } revoked: nobody can join with it any more.
invite-already-revoked = Invite { $id } was already revoked.
err-invites-admin-only = Only owners and admins can list or revoke the invites of { $mesh }; you are { $role }.
hint-did-you-mean-mesh = Did you mean { $closest }? Known meshes: { $known }.

# audit
audit-empty = The audit log has no entries yet.
audit-intact = Audit log intact: { $count ->
    [one] 1 entry
   *[other] { $count } entries
}.
audit-head = newest hash { $hash } (keep it elsewhere to notice removed entries later)
audit-err-broken = Line { $line } of { $path } breaks the hash chain: { $reason ->
    [incomplete] it is cut off, as a write interrupted by a crash leaves it.
    [empty] it is empty.
    [too-long] it is longer than any audit entry.
    [not-json] it is not JSON.
    [not-canonical] it is not in canonical form, so it was edited.
    [bad-entry] it is not an audit entry ({ $detail }).
    [hash] its hash does not match its contents, so it was edited.
    [seq] it is entry { $found } where entry { $expected } belongs, so lines were removed, added or reordered.
   *[prev] it does not carry the previous line's hash, so a line before it was changed or replaced.
}
audit-hint-broken = Keep the file as evidence and move it aside (mv { $path } { $path }.broken); the next entry starts a new chain.
audit-err-damaged-tail = The last line of { $path } is damaged, so claudemesh adds nothing to it.
audit-hint-verify = Find the first bad line with claudemesh audit verify
audit-err-io = Cannot use the audit log { $path }: { $detail }.

# output contract
err-output-unknown-field = The document has no field { $fields }. Valid fields: { $valid }.
hint-output-fields = Ask for fields from that list (--json=a,b), or use --json alone for all of them.
err-output-text-with-json = --output-format text asks for human text, but --json, --jq and --template ask for JSON.
hint-output-text = Keep only one of them.
err-output-jq-syntax = The --jq program is not valid jq: { $detail }.
err-output-jq-run = The --jq program failed on the document: { $detail }.
hint-output-jq = Look at the document it runs on with --json, then fix the program.
err-output-template-syntax = The --template is not a valid template: { $detail }.
err-output-template-render = The --template failed on the document: { $detail }.
hint-output-template = Look at the fields it can use with --json, then fix the template.

# policy gate
err-policy-invalid = The policy could not be read: { $detail }. Nothing was run.
hint-policy-invalid = Fix the file at that line and column, then run the command again.
err-policy-denied = The policy does not allow { $action }: { $reason }.
hint-policy-denied = See the rules in policy.yaml in your claudemesh home (or ask the admin who set the admin policy).
err-policy-prompt-no-tty = The policy asks before { $action } ({ $reason }), and there is no terminal to ask on, so it was not run.
hint-policy-prompt = Run it in a terminal, pass --yes to answer yes in advance, or allow it in policy.yaml.
err-policy-declined = { $action } was not run: you answered no.
prompt-policy = Allow { $action } { $target }? ({ $reason }) [y/N]

# peer watch
err-watch-needs-daemon = Watching peers needs the claudemesh daemon, and it could not be reached.
err-watch-daemon-gone = The claudemesh daemon went away while watching peers.
peer-event-joined = { $name } joined
peer-event-left = { $name } left
peer-event-updated = { $name } changed

## Terminal UI
tui-quit-hint = q to quit
tui-dash-peers = { $count ->
    [one] 1 peer
   *[other] { $count } peers
}
tui-dash-keys = ? keys · 1-4 panes · Tab focus · c write · / filter · m meshes · q quit
tui-overlay-disconnected = Lost the connection to the mesh. Reconnecting…
tui-overlay-reconnected = Reconnected.
tui-overlay-dismiss = Esc to close
tui-help-title = Keys
tui-help-keys =
    ↑ ↓ or j k   select a peer, or scroll the stream
    Tab          move between peers, stream and compose
    c or Enter   write a message
    Enter        send (in the compose box)
    Alt-Enter    new line (also Ctrl-J)
    Tab          complete @name (in the compose box)
    Ctrl-P or p  priority: now, next, low
    /            filter peers and messages (Esc clears)
    f            show the selected peer's key fingerprint
    m            switch mesh
    1 2 3 4      messages, shared state, tasks, memory search
    r            read the shared pane again
    PgUp PgDn    scroll the stream (End: newest)
    ?            show or hide this help
    q            quit
    Ctrl-C       quit from anywhere
tui-dash-peers-title = Peers
tui-dash-stream-title = Messages
tui-dash-newer = { $count } newer below · End
tui-dash-no-peers = No peer in this mesh yet. Invite one with claudemesh invite.
tui-dash-no-messages = No messages yet. Press c, write @name and a message, then Enter.
tui-dash-no-match = Nothing matches the filter. Esc clears it.
tui-dash-you = you
tui-dash-status-idle = idle
tui-dash-status-working = working
tui-dash-status-dnd = do not disturb
tui-dash-status-away = away
tui-dash-ago-now = now
tui-dash-ago-m = { $n }m ago
tui-dash-ago-h = { $n }h ago
tui-dash-ago-d = { $n }d ago
tui-dash-key-verified = key verified
tui-dash-key-unverified = key not verified
tui-dash-state-sending = sending
tui-dash-state-queued = queued
tui-dash-state-delivered = delivered
tui-dash-state-surfaced = surfaced
tui-dash-state-read = read
tui-dash-state-failed = not sent
tui-dash-state-received = received
tui-dash-compose-title = Message
tui-dash-compose-to = To { $to }
tui-dash-compose-hint = @name message · Enter sends
tui-dash-compose-idle = c to write
tui-dash-priority = priority { $priority }
tui-dash-sent = Sent.
tui-dash-queued = Queued: the broker is unreachable now. It goes out when the link is back.
tui-dash-failed = Not sent: { $reason }
tui-dash-empty = Nothing to send. Write @name and a message.
tui-dash-filter = filter: { $text }
tui-dash-keys-compose = Enter send · Alt-Enter new line · Tab @name · Ctrl-P priority · Esc back
tui-dash-keys-filter = Type to filter · Enter keep · Esc clear
tui-dash-switcher-title = Meshes
tui-dash-switcher-current = shown now
tui-dash-switcher-empty = No other mesh joined.
tui-dash-switcher-hint = ↑↓ choose · Enter switch · Esc close
tui-dash-pane-messages = Messages
tui-dash-pane-state = State
tui-dash-pane-tasks = Tasks
tui-dash-pane-memory = Memory
tui-dash-state-title = { $count ->
    [one] Shared state · 1 key
   *[other] Shared state · { $count } keys
}
tui-dash-tasks-title = { $count ->
    [one] Tasks · 1
   *[other] Tasks · { $count }
}
tui-dash-memory-title = { $count ->
    [one] Memory · 1 note
   *[other] Memory · { $count } notes
}
tui-dash-cached = cached { $secs } s ago
tui-dash-shared-failed = Not read: { $reason }
tui-dash-loading = Reading from the mesh…
tui-dash-no-state = No shared state yet. Set a key with claudemesh state set KEY VALUE.
tui-dash-no-tasks = No tasks yet. Create one with claudemesh task create TITLE.
tui-dash-no-memories = No memories yet. Save one with claudemesh remember TEXT.
tui-dash-no-memories-match = No memory matches the search. Esc, then / to search again.
tui-dash-task-claimed = claimed by { $name }
tui-dash-task-blocked = blocked by { $count }
tui-dash-task-open = open
tui-dash-task-done = done
tui-dash-task-cancelled = cancelled
tui-dash-search = Search:
tui-dash-search-hint = / to search
tui-dash-keys-shared = 1-4 panes · Tab focus · ↑↓ select · r refresh · ? keys · q quit
tui-dash-keys-memory = 1-4 panes · / search · Tab focus · ↑↓ select · r refresh · q quit
tui-dash-keys-query = Type to search · Enter search · Esc back
err-tui-not-a-terminal = The full-screen view needs a terminal, and stdin or stdout is not one.
hint-tui-not-a-terminal = Run it in an interactive terminal, or use claudemesh peers and claudemesh inbox.
err-tui-terminal = The terminal failed: { $detail }

## Terminal UI: guided flows (launch, join, new, invite)
tui-welcome-creating = Creating your mesh…
tui-welcome-ready = Your mesh "{ $mesh }" is ready.
tui-youre-in = You're in.
tui-opening-claude = Opening Claude Code…
tui-picker-title = Which mesh?
tui-picker-keys = ↑↓ choose · Enter open · q quit
tui-join-detected = Detected invite in clipboard.
tui-join-mesh = Mesh
tui-join-inviter = Invited by
tui-join-role = Role
tui-join-broker = Broker
tui-join-choice = Join "{ $mesh }"
tui-join-continue = Continue to "{ $mesh }"
tui-join-own = Set up my own mesh instead
tui-join-keys = Enter join · q quit
tui-join-keys-choice = ↑↓ choose · Enter continue · q quit
tui-join-joining = Joining { $mesh }…
tui-join-done = Joined "{ $mesh }".
tui-new-question = Name?
tui-new-slug = Slug: { $slug }
tui-new-invalid = Type a name of 1 to 64 characters.
tui-new-creating = Creating "{ $mesh }"…
tui-new-created = Created "{ $slug }".
tui-new-keys = Enter create · Esc quit
tui-invite-title = Invite someone to { $mesh }
tui-invite-role = Role
tui-invite-expires = Expires in
tui-invite-keys = ↑↓ field · ←→ change · Enter create · q quit
tui-invite-creating = Creating the invite…
tui-invite-ready = Invite to { $mesh } as { $role }, valid for { $span }.
tui-invite-copied = Copied to the clipboard. The other person runs: claudemesh <link>
tui-invite-link = Invite link: { $url }
tui-invite-qr-small = Make the terminal larger to see the QR code.
tui-invite-done-keys = Enter or q to close
err-new-needs-name = The new mesh needs a name, and there is no terminal to ask for one.
hint-new-name = Pass it: claudemesh new <NAME>
err-mesh-ambiguous = Several meshes are joined and none is selected: { $known }.
hint-mesh-flag = Pick one with --mesh SLUG, or make one current with claudemesh mesh use SLUG.

# bench load
bench-load-title = Load run: { $peers } peers × { $messages } messages ({ $total } in all), window { $window }, broker { $broker }.
bench-broker-started = { $url } (started for this run)
bench-load-delivered = Delivered { $delivered } of { $total } ({ $ratio } %) in { $secs } s ({ $rate } messages/s); duplicates { $duplicates }, out of order { $disorder }, redelivered after a late ack { $redelivered }.
bench-col-measure = measure
bench-row-ack = send → ack (durable at the broker)
bench-row-delivered = send → delivered (decrypted by the recipient)
bench-load-broker = Broker: peak RSS { $rss }, CPU { $cpu }, peak connections { $connections }, peak file descriptors { $fds }.
bench-unknown = unknown
bench-load-timed-out = The run stopped at its timeout before every message arrived.
bench-load-ok = Every message arrived exactly once, in its sender's order.
bench-fail-undelivered = { $missing } of { $total } messages never arrived
bench-fail-duplicates = { $count } messages arrived more than once
bench-fail-order = { $count } messages arrived before an earlier one from the same sender
err-bench-failed = The load run broke a delivery guarantee: { $what }.
hint-bench-failed = Keep the report (--json) and the broker's log, and report it as a bug.
hint-bench-timeout = Give the run more time with --timeout, or run fewer peers or messages.
err-bench-broker-start = Could not start a broker for the load run: { $detail }.
err-bench-broker-ready = The broker started for the load run did not report ready within { $secs } s.
hint-bench-broker = Run claudemesh broker yourself to see why, or pass --broker URL to use a running broker.
err-bench-setup-timeout = Setting up the load run's mesh took longer than its { $secs } s timeout.
err-bench-missing-peers = After set-up a peer sees { $seen } peers in the mesh, but { $expected } joined.

# coordination primitives: state, memory, tasks, contexts, streams, schedules, clock, access
coord-stale = From the cache, { $secs } s old: the broker is unreachable.
coord-queued = Queued: the broker is unreachable; it will be applied when it is back.
err-coord-needs-daemon = This verb needs the claudemesh daemon, and it could not be reached.
err-coord-daemon-gone = The claudemesh daemon closed the connection, so the stream ended.
err-coord-not-json = The value is not JSON ({ $detail }).
hint-coord-json = Quote JSON strings ('"text"'), or drop --json-value to store the text as a string.
err-coord-value-too-large = The value is { $bytes } bytes as JSON; the limit is { $max }.
err-coord-bad-key = "{ $key }" is not a valid key: use 1-256 characters of A-Z a-z 0-9 . _ : / -.
err-coord-too-many-tags = At most { $max } tags are allowed.
err-coord-bad-tag = "{ $tag }" is not a valid tag: use 1-64 characters of a-z 0-9 . _ : -.
err-coord-bad-id = "{ $id }" is not a valid id.
hint-coord-id = Ids are the 12 characters (a-z, 2-7) printed when the note or task was made; list them to find one.
err-coord-bad-length = { $what } must be 1 to { $max } long.
err-coord-bad-stream = "{ $name }" is not a valid stream name: use 1-64 characters of a-z 0-9 . _ -.
err-coord-bad-cap = "{ $cap }" is not a capability. Known: { $valid }.
err-coord-bad-cron = "{ $cron }" is not a 5-field cron expression.
hint-coord-cron = Write minute hour day-of-month month day-of-week, e.g. --cron "0 9 * * 1-5".
err-coord-time-past = { $time } is in the past.
err-coord-bad-time = "{ $time }" is not a time this verb understands.
hint-coord-time = Use RFC 3339 (2026-11-23T18:00:00Z), HH:MM for local time, or a duration such as 2h.
err-coord-bad-since = "{ $since }" is neither a duration nor a time.
err-coord-bad-rate = The clock rate { $rate } is out of range: use 0 to 1000.
state-meta = version { $version } · { $name } · { $ago }
state-set-done = Set { $key } (version { $version }).
state-not-applied = { $key } was not changed: a newer write by { $name } holds it (version { $version }).
err-state-version = { $key } is at version { $version } now, so the write was refused.
hint-state-version = Read it again with claudemesh state get { $key }, then retry with --if-version { $version }.
state-list-empty = No keys here yet.
state-delete-done = Deleted { $key }.
state-delete-absent = { $key } did not exist; nothing changed.
state-watch-deleted = deleted
memory-remember-done = Remembered as { $id }.
memory-recall-empty = No notes match.
memory-forget-done = Forgot { $id }.
context-share-done = Shared your context with the mesh.
err-context-files = At most 100 files of 1-512 bytes each can be shared.
err-context-too-long = The branch is limited to 256 bytes and the notes to 4 KiB.
context-peer = peer
context-summary = summary
context-branch = branch
context-files = files
context-notes = notes
context-updated = updated
context-list-empty = Nobody has shared a context yet.
task-create-done = Created task { $id }: { $title }
task-create-next = Anyone can take it: claudemesh task claim { $id }
task-list-empty = No tasks match.
task-id = id
task-title = title
task-state = state
task-creator = creator
task-claimed-by = claimed by
task-tags = tags
task-deps = depends on
task-blocked-by = blocked by
task-result = result
task-updated = updated
task-claim-done = Task { $id } is yours until you complete or release it.
err-task-claimed = Task { $id } is claimed by { $name }.
hint-task-claimed = Pick another open task: claudemesh task list --state open
err-task-conflict = Task { $id } cannot change now: { $detail }.
hint-task-show = See where it stands: claudemesh task show { $id }
err-task-too-many-deps = A task can depend on at most { $max } tasks.
task-release-done = Released task { $id }; it is open again.
task-complete-done = Completed task { $id }; its creator gets a message.
task-cancel-done = Cancelled task { $id }.
err-schedule-usage = Give the message, optionally after the recipient, and one of --in, --at or --cron.
schedule-done = Scheduled { $id } to { $to } { $when }.
schedule-in = in { $span }
schedule-cron = on cron "{ $cron }"
schedule-fired = fired
schedule-list-empty = No schedules.
schedule-cancel-done = Cancelled schedule { $id }.
stream-create-done = Created stream { $name }.
stream-create-exists = Stream { $name } already exists; nothing changed.
stream-publish-done = Published to { $name } (seq { $seq }, { $count ->
    [one] one subscriber
   *[other] { $count } subscribers
}).
stream-list-empty = No streams yet.
stream-subscribers = { $count ->
    [one] one subscriber
   *[other] { $count } subscribers
}
stream-last-seq = last seq { $seq }
clock-paused = paused
clock-running = running at rate { $rate }
err-access-bad-peer = "{ $peer }" is not a peer name or key.
access-grant-done = Granted { $caps } to { $name }.
access-revoke-done = Revoked { $caps } from { $name }.
access-effective = Effective: { $caps }
access-block-done = Blocked { $name }: their direct messages and broadcasts are refused.
access-unblock-done = Unblocked { $name }.
access-ban-done = Banned { $name }: their member key cannot connect or redeem invites.
access-unban-done = Unbanned { $name }.
access-kick-done = Kicked { $name } ({ $count ->
    [one] one session closed
   *[other] { $count } sessions closed
}); they can rejoin with a new invite.
access-role-done = { $name } is now { $role }.
access-list-empty = No members match.
access-blocked = blocked
access-banned = banned
mesh-delete-done = Deleted { $mesh } on the broker; every session of it is disconnected.
mesh-delete-next = Remove it from this machine: claudemesh leave { $slug } -y
err-coord-not-found = Nothing by that name or id in this mesh ({ $detail }).
hint-coord-list = See what exists with the list verb: claudemesh state list, task list, recall, context list or access list.
schedule-cancel-ended = Schedule { $id } had already ended; nothing changed.
state-watch-resync = Some changes were missed while the watch lagged; re-read with claudemesh state list.
err-coord-unavailable = The broker cannot answer this now ({ $detail }).
hint-coord-unavailable = Run it again once the broker is reachable: claudemesh daemon status shows the link.
schedule-ended = ended
schedule-yourself = yourself
# bench recall / bench state
bench-recall-title = Recall run: { $memories } memories stored in { $secs } s ({ $rate }/s), { $queries } queries, { $hits } notes per query on average, { $empty } found nothing.
bench-row-recall = memory.recall (round trip)
bench-state-title = State run: { $sets } sets in { $secs } s ({ $rate }/s of { $target }/s asked) from { $writers } writers; { $complete } of { $watchers } watchers got every change.
bench-row-state-set = state.set (round trip)
bench-row-state-lag = set sent → watcher notified
bench-state-ok = Every watcher got every change once, in order.
err-bench-state-failed = The state run broke a guarantee: { $missing } changes missed, { $duplicates } duplicated, { $disorder } out of order, { $errors } sets failed.
err-bench-coord-errors = { $count } requests of the run failed.
