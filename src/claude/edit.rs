//! Pure edits of Claude Code's JSON documents: add, update or remove the claudemesh MCP entry (`~/.claude.json`)
//! and the claudemesh hook handlers (`~/.claude/settings.json`), leaving every other key, value and key order as
//! it was. New keys go at the end; removals shift (never swap) so the order of what stays is unchanged.

use serde_json::{Map, Value, json};

/// The MCP server name; also the `server:` channel name and the skill's directory name.
pub(crate) const SERVER_NAME: &str = "claudemesh";
/// Seconds Claude Code waits for one of our hooks (they finish in about 2 s at worst).
const HOOK_TIMEOUT_SECS: u64 = 5;

/// One hook claudemesh registers: the Claude Code event and the `claudemesh hook <sub>` it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HookSpec {
    pub event: &'static str,
    pub sub: &'static str,
}

impl HookSpec {
    /// The handler's `args`.
    pub(crate) fn args(&self) -> Vec<String> {
        vec!["hook".to_string(), self.sub.to_string()]
    }
}

/// The hooks `install` adds: presence while a turn runs, and "surfaced" receipts when it ends.
pub(crate) const HOOKS: [HookSpec; 3] = [
    HookSpec { event: "UserPromptSubmit", sub: "prompt" },
    HookSpec { event: "Stop", sub: "stop" },
    HookSpec { event: "SessionStart", sub: "session-start" },
];

/// What an edit did to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Added,
    /// It existed but pointed elsewhere (`previous` is the old command).
    Updated {
        previous: String,
    },
    Unchanged,
}

/// A part of the document that is not the JSON type Claude Code keeps there (`pointer` is dotted, `` for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError {
    pub pointer: String,
    pub expected: &'static str,
}

impl ShapeError {
    fn new(pointer: impl Into<String>, expected: &'static str) -> Self {
        Self { pointer: pointer.into(), expected }
    }
}

/// Outcome of adding to a document: what changed and which containers the edit created (so that removal can
/// drop exactly those again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Added {
    pub change: Change,
    /// The edit created the object or array holding the entry (`mcpServers`, `hooks.<Event>`).
    pub created_parent: bool,
    /// The edit created the top-level `hooks` object (hooks only).
    pub created_root: bool,
}

/// The user-scope MCP entry claudemesh registers.
pub(crate) fn mcp_entry(binary: &str) -> Value {
    json!({ "type": "stdio", "command": binary, "args": ["mcp"], "env": {} })
}

fn hook_handler(binary: &str, spec: &HookSpec) -> Value {
    json!({ "type": "command", "command": binary, "args": spec.args(), "timeout": HOOK_TIMEOUT_SECS })
}

fn root_object(doc: &mut Value) -> Result<&mut Map<String, Value>, ShapeError> {
    doc.as_object_mut().ok_or_else(|| ShapeError::new("", "object"))
}

/// `parent[key]` as an object, created when absent; the flag says whether it was created.
fn child_object<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<(&'a mut Map<String, Value>, bool), ShapeError> {
    let created = !parent.contains_key(key);
    let value = parent.entry(key).or_insert_with(|| Value::Object(Map::new()));
    let obj = value.as_object_mut().ok_or_else(|| ShapeError::new(pointer, "object"))?;
    Ok((obj, created))
}

/// Adds or updates `mcpServers.claudemesh`. An existing entry keeps its other fields (`env`, `timeout` …); only
/// `type`, `command` and `args` are made ours.
pub(crate) fn add_mcp(doc: &mut Value, binary: &str) -> Result<Added, ShapeError> {
    let root = root_object(doc)?;
    let (servers, created_parent) = child_object(root, "mcpServers", "mcpServers")?;
    let change = match servers.get_mut(SERVER_NAME) {
        None => {
            servers.insert(SERVER_NAME.to_string(), mcp_entry(binary));
            Change::Added
        }
        Some(Value::Object(entry)) => {
            let wanted_args = json!(["mcp"]);
            let type_ok = entry.get("type").is_none_or(|t| t == "stdio");
            let same = type_ok
                && entry.get("command").and_then(Value::as_str) == Some(binary)
                && entry.get("args") == Some(&wanted_args);
            if same {
                Change::Unchanged
            } else {
                let previous = entry.get("command").and_then(Value::as_str).unwrap_or_default().to_string();
                entry.remove("url");
                entry.insert("type".into(), json!("stdio"));
                entry.insert("command".into(), json!(binary));
                entry.insert("args".into(), wanted_args);
                Change::Updated { previous }
            }
        }
        Some(other) => {
            *other = mcp_entry(binary);
            Change::Updated { previous: String::new() }
        }
    };
    Ok(Added { change, created_parent, created_root: false })
}

/// Removes `mcpServers.claudemesh`; drops `mcpServers` too when it is left empty and `drop_empty` (install
/// created it). Returns whether an entry was removed.
pub(crate) fn remove_mcp(doc: &mut Value, drop_empty: bool) -> Result<bool, ShapeError> {
    let root = root_object(doc)?;
    let Some(servers) = root.get_mut("mcpServers") else { return Ok(false) };
    let servers = servers.as_object_mut().ok_or_else(|| ShapeError::new("mcpServers", "object"))?;
    if servers.shift_remove(SERVER_NAME).is_none() {
        return Ok(false);
    }
    if drop_empty && servers.is_empty() {
        root.shift_remove("mcpServers");
    }
    Ok(true)
}

/// A claudemesh handler for `spec`, whatever path the binary had: `type: command`, `args: ["hook", sub]`, and a
/// command whose file name starts with `claudemesh`.
fn is_ours(handler: &Value, spec: &HookSpec) -> bool {
    let command = handler.get("command").and_then(Value::as_str).unwrap_or_default();
    let file_name = command.rsplit('/').next().unwrap_or_default();
    handler.get("type").and_then(Value::as_str) == Some("command")
        && handler.get("args") == Some(&json!(spec.args()))
        && file_name.starts_with(SERVER_NAME)
}

/// The handler arrays of an event's matcher groups (groups of another shape are left alone).
fn handler_lists(groups: &mut [Value]) -> impl Iterator<Item = &mut Vec<Value>> {
    groups.iter_mut().filter_map(|g| g.get_mut("hooks").and_then(Value::as_array_mut))
}

/// Adds the handler for `spec` as a new matcher group at the end of `hooks.<Event>`, or points an existing
/// claudemesh handler at `binary`.
pub(crate) fn add_hook(doc: &mut Value, spec: &HookSpec, binary: &str) -> Result<Added, ShapeError> {
    let root = root_object(doc)?;
    let (hooks, created_root) = child_object(root, "hooks", "hooks")?;
    let pointer = format!("hooks.{}", spec.event);
    let created_parent = !hooks.contains_key(spec.event);
    let groups = hooks
        .entry(spec.event)
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| ShapeError::new(pointer, "array"))?;
    let mut found = false;
    let mut previous = None;
    for list in handler_lists(groups) {
        for handler in list.iter_mut().filter(|h| is_ours(h, spec)) {
            found = true;
            let command = handler.get("command").and_then(Value::as_str).unwrap_or_default().to_string();
            if command != binary {
                handler["command"] = json!(binary);
                previous = Some(command);
            }
        }
    }
    let change = match (found, previous) {
        (false, _) => {
            groups.push(json!({ "hooks": [hook_handler(binary, spec)] }));
            Change::Added
        }
        (true, Some(previous)) => Change::Updated { previous },
        (true, None) => Change::Unchanged,
    };
    Ok(Added { change, created_parent, created_root })
}

/// Removes every claudemesh handler for `spec`, and the matcher groups this leaves empty. `hooks.<Event>` and
/// `hooks` are dropped when left empty and the flags say install created them. Returns whether anything went.
pub(crate) fn remove_hook(
    doc: &mut Value,
    spec: &HookSpec,
    drop_empty_event: bool,
    drop_empty_root: bool,
) -> Result<bool, ShapeError> {
    let root = root_object(doc)?;
    let Some(hooks) = root.get_mut("hooks") else { return Ok(false) };
    let hooks = hooks.as_object_mut().ok_or_else(|| ShapeError::new("hooks", "object"))?;
    let Some(groups) = hooks.get_mut(spec.event) else { return Ok(false) };
    let groups = groups.as_array_mut().ok_or_else(|| ShapeError::new(format!("hooks.{}", spec.event), "array"))?;
    let mut removed = false;
    groups.retain_mut(|group| {
        let Some(list) = group.get_mut("hooks").and_then(Value::as_array_mut) else { return true };
        let before = list.len();
        list.retain(|h| !is_ours(h, spec));
        if list.len() == before {
            return true;
        }
        removed = true;
        !list.is_empty()
    });
    if removed && drop_empty_event && groups.is_empty() {
        hooks.shift_remove(spec.event);
    }
    if removed && drop_empty_root && hooks.is_empty() {
        root.shift_remove("hooks");
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIN: &str = "/opt/bin/claudemesh";

    fn settings() -> Value {
        serde_json::from_str(
            r#"{"permissions":{"allow":["Bash(ls)"]},"hooks":{"Stop":[{"hooks":[{"type":"command","command":"notify"}]}],
                "PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"guard"}]}]},"model":"opus"}"#,
        )
        .unwrap()
    }

    fn keys(v: &Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn mcp_added_then_unchanged_then_removed_back_to_the_original() {
        let original: Value = serde_json::from_str(r#"{"b":1,"mcpServers":{"other":{"command":"x"}},"a":2}"#).unwrap();
        let mut doc = original.clone();
        let added = add_mcp(&mut doc, BIN).unwrap();
        assert_eq!(added, Added { change: Change::Added, created_parent: false, created_root: false });
        assert_eq!(doc["mcpServers"]["claudemesh"], mcp_entry(BIN));
        assert_eq!(keys(&doc), ["b", "mcpServers", "a"]);
        assert_eq!(add_mcp(&mut doc, BIN).unwrap().change, Change::Unchanged);
        assert!(remove_mcp(&mut doc, false).unwrap());
        assert_eq!(doc, original);
        assert!(!remove_mcp(&mut doc, false).unwrap());
    }

    #[test]
    fn mcp_container_created_by_install_goes_again() {
        let original = json!({"x": 1});
        let mut doc = original.clone();
        assert!(add_mcp(&mut doc, BIN).unwrap().created_parent);
        assert!(remove_mcp(&mut doc, true).unwrap());
        assert_eq!(doc, original);
    }

    #[test]
    fn mcp_entry_pointing_elsewhere_is_updated_and_keeps_its_env() {
        let mut doc =
            json!({"mcpServers": {"claudemesh": {"command": "/old/claudemesh", "args": ["mcp"], "env": {"K": "V"}}}});
        let added = add_mcp(&mut doc, BIN).unwrap();
        assert_eq!(added.change, Change::Updated { previous: "/old/claudemesh".into() });
        assert_eq!(doc["mcpServers"]["claudemesh"]["command"], BIN);
        assert_eq!(doc["mcpServers"]["claudemesh"]["env"], json!({"K": "V"}));
    }

    #[test]
    fn hooks_added_beside_others_then_removed_back_to_the_original() {
        let original = settings();
        let mut doc = original.clone();
        for spec in &HOOKS {
            let added = add_hook(&mut doc, spec, BIN).unwrap();
            assert_eq!(added.change, Change::Added);
            assert!(!added.created_root);
            assert_eq!(added.created_parent, spec.event != "Stop");
        }
        let stop = doc["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop.len(), 2);
        assert_eq!(stop[0], original["hooks"]["Stop"][0]);
        assert_eq!(stop[1]["hooks"][0], json!({"type":"command","command":BIN,"args":["hook","stop"],"timeout":5}));
        assert_eq!(keys(&doc), ["permissions", "hooks", "model"]);
        for spec in &HOOKS {
            assert_eq!(add_hook(&mut doc, spec, BIN).unwrap().change, Change::Unchanged);
        }
        for spec in &HOOKS {
            assert!(remove_hook(&mut doc, spec, spec.event != "Stop", false).unwrap());
        }
        assert_eq!(doc, original);
        assert!(!remove_hook(&mut doc, &HOOKS[1], true, false).unwrap());
        assert_eq!(doc, original);
    }

    #[test]
    fn hooks_object_created_by_install_goes_again() {
        let original = json!({"theme": "dark"});
        let mut doc = original.clone();
        let added = add_hook(&mut doc, &HOOKS[0], BIN).unwrap();
        assert!(added.created_root && added.created_parent);
        assert!(remove_hook(&mut doc, &HOOKS[0], true, true).unwrap());
        assert_eq!(doc, original);
    }

    #[test]
    fn hook_pointing_to_an_old_binary_is_updated_in_place() {
        let mut doc = json!({"hooks": {"Stop": [{"hooks": [
            {"type": "command", "command": "notify"},
            {"type": "command", "command": "/old/claudemesh", "args": ["hook", "stop"], "timeout": 9}]}]}});
        let added = add_hook(&mut doc, &HOOKS[1], BIN).unwrap();
        assert_eq!(added.change, Change::Updated { previous: "/old/claudemesh".into() });
        let list = doc["hooks"]["Stop"][0]["hooks"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1]["command"], BIN);
        assert_eq!(list[1]["timeout"], 9);
    }

    #[test]
    fn other_handlers_in_a_shared_group_stay() {
        let mut doc = json!({"hooks": {"Stop": [{"hooks": [
            {"type": "command", "command": "notify"},
            {"type": "command", "command": BIN, "args": ["hook", "stop"]}]}]}});
        assert!(remove_hook(&mut doc, &HOOKS[1], true, true).unwrap());
        assert_eq!(doc, json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]}}));
    }

    #[test]
    fn similar_handlers_of_other_tools_are_not_ours() {
        let spec = &HOOKS[1];
        assert!(!is_ours(&json!({"type":"command","command":"/bin/other","args":["hook","stop"]}), spec));
        assert!(!is_ours(&json!({"type":"command","command":BIN,"args":["hook","prompt"]}), spec));
        assert!(!is_ours(&json!({"type":"http","command":BIN,"args":["hook","stop"]}), spec));
        assert!(is_ours(&json!({"type":"command","command":"claudemesh","args":["hook","stop"]}), spec));
    }

    #[test]
    fn wrong_shapes_are_reported_with_their_place() {
        assert_eq!(add_mcp(&mut json!([]), BIN).unwrap_err(), ShapeError::new("", "object"));
        assert_eq!(add_mcp(&mut json!({"mcpServers": []}), BIN).unwrap_err(), ShapeError::new("mcpServers", "object"));
        assert_eq!(add_hook(&mut json!({"hooks": 1}), &HOOKS[0], BIN).unwrap_err(), ShapeError::new("hooks", "object"));
        assert_eq!(
            add_hook(&mut json!({"hooks": {"Stop": {}}}), &HOOKS[1], BIN).unwrap_err(),
            ShapeError::new("hooks.Stop", "array")
        );
    }
}
