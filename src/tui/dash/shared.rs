//! The dashboard's shared-data panes (state, tasks, memory search): what they hold, how the daemon's answers and
//! its `state.changed` / `task.changed` notifications change them, and the requests that fill them. No I/O.

use serde_json::{Value, json};

use super::Request;
use crate::proto::cmethod;

/// What the right-hand side of the dashboard shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Pane {
    #[default]
    Messages,
    State,
    Tasks,
    Memory,
}

impl Pane {
    pub(crate) const ALL: [Pane; 4] = [Pane::Messages, Pane::State, Pane::Tasks, Pane::Memory];

    /// `1`…`4` pick a pane.
    pub(crate) fn from_digit(c: char) -> Option<Pane> {
        let i = c.to_digit(10)?.checked_sub(1)?;
        Self::ALL.get(usize::try_from(i).ok()?).copied()
    }

    /// The Fluent id of the pane's name.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Pane::Messages => "tui-dash-pane-messages",
            Pane::State => "tui-dash-pane-state",
            Pane::Tasks => "tui-dash-pane-tasks",
            Pane::Memory => "tui-dash-pane-memory",
        }
    }
}

/// One key of the mesh's shared state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StateRow {
    pub key: String,
    /// The value as compact JSON (strings without their quotes).
    pub value: String,
    pub version: u64,
    pub writer: String,
    pub at_ms: u64,
}

/// One task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskRow {
    pub id: String,
    pub title: String,
    /// open, claimed, done or cancelled.
    pub state: String,
    pub claimed_by: Option<String>,
    pub creator: String,
    pub tags: Vec<String>,
    /// Dependencies not done yet.
    pub blocked: usize,
    pub at_ms: u64,
}

/// One remembered note, as recall ranked it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemoryRow {
    pub id: String,
    pub text: String,
    pub tags: Vec<String>,
    pub author: String,
    pub at_ms: u64,
}

/// The three shared panes' data.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedPanes {
    pub state: Vec<StateRow>,
    pub tasks: Vec<TaskRow>,
    pub memories: Vec<MemoryRow>,
    /// The memory search being typed.
    pub query: String,
    /// The query whose results are shown (`None` before the first search).
    pub searched: Option<String>,
    /// Per pane (State, Tasks, Memory): the daemon has answered at least once.
    pub loaded: [bool; 3],
    /// Per pane: the last answer came from the daemon's cache, this many milliseconds old.
    pub stale: [Option<u64>; 3],
    /// Per pane: the last request failed, in the daemon's words.
    pub error: [Option<String>; 3],
    /// The selected row of the pane shown.
    pub selected: usize,
}

fn slot(pane: Pane) -> Option<usize> {
    match pane {
        Pane::Messages => None,
        Pane::State => Some(0),
        Pane::Tasks => Some(1),
        Pane::Memory => Some(2),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn number(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_default()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// A JSON value as one line: strings as they are, everything else compact JSON.
fn one_line(v: &Value) -> String {
    match v {
        Value::String(s) => s.replace(['\n', '\r'], " "),
        other => other.to_string(),
    }
}

impl StateRow {
    fn from_json(v: &Value) -> Option<StateRow> {
        Some(StateRow {
            key: v.get("key")?.as_str()?.to_string(),
            value: one_line(v.get("value").unwrap_or(&Value::Null)),
            version: number(v, "version"),
            writer: text(v, "writer_name"),
            at_ms: v.get("updated_at_ms").or_else(|| v.get("at_ms")).and_then(Value::as_u64).unwrap_or_default(),
        })
    }
}

impl TaskRow {
    fn from_json(v: &Value) -> Option<TaskRow> {
        Some(TaskRow {
            id: v.get("id")?.as_str()?.to_string(),
            title: text(v, "title"),
            state: text(v, "state"),
            claimed_by: v.get("claimed_by_name").and_then(Value::as_str).map(str::to_string),
            creator: text(v, "creator_name"),
            tags: strings(v, "tags"),
            blocked: v.get("blocked_by").and_then(Value::as_array).map_or(0, Vec::len),
            at_ms: number(v, "updated_at_ms"),
        })
    }

    /// Claimed first, then open, then the finished ones; newest first within each.
    fn rank(&self) -> u8 {
        match self.state.as_str() {
            "claimed" => 0,
            "open" => 1,
            "done" => 2,
            _ => 3,
        }
    }
}

impl MemoryRow {
    fn from_json(v: &Value) -> Option<MemoryRow> {
        Some(MemoryRow {
            id: v.get("id")?.as_str()?.to_string(),
            text: text(v, "text").replace(['\n', '\r'], " "),
            tags: strings(v, "tags"),
            author: text(v, "author_name"),
            at_ms: number(v, "created_at_ms"),
        })
    }
}

fn sort_tasks(tasks: &mut [TaskRow]) {
    tasks.sort_by(|a, b| a.rank().cmp(&b.rank()).then(b.at_ms.cmp(&a.at_ms)).then(a.id.cmp(&b.id)));
}

impl SharedPanes {
    /// Rows in the pane shown.
    pub(crate) fn rows(&self, pane: Pane) -> usize {
        match pane {
            Pane::Messages => 0,
            Pane::State => self.state.len(),
            Pane::Tasks => self.tasks.len(),
            Pane::Memory => self.memories.len(),
        }
    }

    pub(crate) fn is_loaded(&self, pane: Pane) -> bool {
        slot(pane).is_some_and(|i| self.loaded[i])
    }

    pub(crate) fn stale_ms(&self, pane: Pane) -> Option<u64> {
        slot(pane).and_then(|i| self.stale[i])
    }

    pub(crate) fn error(&self, pane: Pane) -> Option<&str> {
        slot(pane).and_then(|i| self.error[i].as_deref())
    }

    /// The request that (re)fills `pane` for `mesh`.
    pub(crate) fn refresh(&self, pane: Pane, mesh: Option<&str>) -> Option<Request> {
        let (method, params) = match pane {
            Pane::Messages => return None,
            Pane::State => (cmethod::STATE_LIST, json!({ "limit": 1000 })),
            Pane::Tasks => (cmethod::TASK_LIST, json!({ "limit": 1000 })),
            Pane::Memory => {
                let query = self.searched.clone().unwrap_or_default();
                let params = if query.trim().is_empty() {
                    json!({ "limit": 200 })
                } else {
                    json!({ "query": query, "limit": 200 })
                };
                (cmethod::MEMORY_RECALL, params)
            }
        };
        let mut params = params;
        if let (Some(mesh), Some(o)) = (mesh, params.as_object_mut()) {
            o.insert("mesh".into(), Value::String(mesh.to_string()));
        }
        Some(Request::Coord { method, params })
    }

    /// An answer to one of the panes' requests; true when what is shown changed.
    pub(crate) fn answer(&mut self, method: &str, result: &Result<Value, String>) -> bool {
        let pane = match method {
            cmethod::STATE_LIST => Pane::State,
            cmethod::TASK_LIST => Pane::Tasks,
            cmethod::MEMORY_RECALL => Pane::Memory,
            _ => return false,
        };
        let Some(i) = slot(pane) else { return false };
        let before = (self.loaded[i], self.stale[i], self.error[i].clone());
        match result {
            Err(reason) => {
                self.loaded[i] = true;
                self.error[i] = Some(reason.clone());
                return before != (self.loaded[i], self.stale[i], self.error[i].clone());
            }
            Ok(v) => {
                self.loaded[i] = true;
                self.error[i] = None;
                let stale = v.get("stale").and_then(Value::as_bool).unwrap_or(false);
                self.stale[i] = stale.then(|| number(v, "cache_age_ms"));
            }
        }
        let Ok(v) = result else { return true };
        let list = |key: &str| v.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        let changed = match pane {
            Pane::State => {
                let mut rows: Vec<StateRow> = list("entries").iter().filter_map(StateRow::from_json).collect();
                rows.sort_by(|a, b| a.key.cmp(&b.key));
                let changed = rows != self.state;
                self.state = rows;
                changed
            }
            Pane::Tasks => {
                let mut rows: Vec<TaskRow> = list("tasks").iter().filter_map(TaskRow::from_json).collect();
                sort_tasks(&mut rows);
                let changed = rows != self.tasks;
                self.tasks = rows;
                changed
            }
            Pane::Memory | Pane::Messages => {
                let rows: Vec<MemoryRow> = list("memories").iter().filter_map(MemoryRow::from_json).collect();
                let changed = rows != self.memories;
                self.memories = rows;
                changed
            }
        };
        changed || before != (self.loaded[i], self.stale[i], self.error[i].clone())
    }

    /// A live notification (`state.changed`, `task.changed`); true when what is shown changed. Panes not loaded
    /// yet ignore them: their first answer will include the change.
    pub(crate) fn notify(&mut self, method: &str, params: &Value) -> bool {
        match method {
            cmethod::STATE_CHANGED if self.loaded[0] => {
                let Some(key) = params.get("key").and_then(Value::as_str) else { return false };
                let at = self.state.binary_search_by(|r| r.key.as_str().cmp(key));
                if params.get("deleted").and_then(Value::as_bool).unwrap_or(false) {
                    return match at {
                        Ok(i) => {
                            self.state.remove(i);
                            true
                        }
                        Err(_) => false,
                    };
                }
                let Some(row) = StateRow::from_json(params) else { return false };
                match at {
                    // A change can arrive after a newer list answer already showed a later version.
                    Ok(i) if self.state[i].version > row.version => false,
                    Ok(i) => {
                        let changed = self.state[i] != row;
                        self.state[i] = row;
                        changed
                    }
                    Err(i) => {
                        self.state.insert(i, row);
                        true
                    }
                }
            }
            cmethod::TASK_CHANGED if self.loaded[1] => {
                let Some(row) = TaskRow::from_json(params) else { return false };
                match self.tasks.iter_mut().find(|t| t.id == row.id) {
                    Some(t) if *t == row => return false,
                    Some(t) => *t = row,
                    None => self.tasks.push(row),
                }
                sort_tasks(&mut self.tasks);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: Value, version: u64) -> Value {
        json!({ "key": key, "value": value, "version": version, "lamport": version, "writer": "ab",
                "writer_name": "alice", "updated_at_ms": 1000 * version })
    }

    #[test]
    fn digits_pick_panes() {
        assert_eq!(Pane::from_digit('1'), Some(Pane::Messages));
        assert_eq!(Pane::from_digit('4'), Some(Pane::Memory));
        assert_eq!(Pane::from_digit('5'), None);
        assert_eq!(Pane::from_digit('0'), None);
        assert_eq!(Pane::from_digit('x'), None);
    }

    #[test]
    fn state_list_then_changes_keep_keys_sorted_and_ignore_older_versions() {
        let mut s = SharedPanes::default();
        assert!(!s.notify("state.changed", &entry("a", json!(1), 1)), "not loaded yet: ignored");
        let list = json!({ "entries": [entry("b", json!("two"), 2), entry("a", json!({"x": 1}), 1)], "stale": false });
        assert!(s.answer("state.list", &Ok(list.clone())));
        assert_eq!(s.state.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.state[0].value, r#"{"x":1}"#);
        assert_eq!(s.state[1].value, "two");
        assert!(!s.answer("state.list", &Ok(list)), "the same answer changes nothing");
        assert!(s.notify("state.changed", &entry("ab", json!(true), 1)));
        assert_eq!(s.state[1].key, "ab");
        assert!(!s.notify("state.changed", &entry("b", json!("old"), 1)), "an older version is not shown");
        let mut gone = entry("a", Value::Null, 2);
        gone["deleted"] = json!(true);
        assert!(s.notify("state.changed", &gone));
        assert_eq!(s.state.len(), 2);
    }

    #[test]
    fn stale_answers_and_errors_are_remembered_per_pane() {
        let mut s = SharedPanes::default();
        assert!(s.answer("task.list", &Ok(json!({ "tasks": [], "stale": true, "cache_age_ms": 42_000 }))));
        assert_eq!(s.stale_ms(Pane::Tasks), Some(42_000));
        assert_eq!(s.stale_ms(Pane::State), None);
        assert!(s.answer("state.list", &Err("the broker is unreachable".into())));
        assert_eq!(s.error(Pane::State), Some("the broker is unreachable"));
        assert!(s.is_loaded(Pane::State));
    }

    #[test]
    fn tasks_sort_claimed_then_open_then_finished_and_update_live() {
        let mut s = SharedPanes::default();
        let t = |id: &str, state: &str, at: u64| {
            json!({ "id": id, "title": id, "state": state, "creator_name": "bob", "updated_at_ms": at,
                    "tags": [], "deps": [], "blocked_by": [] })
        };
        let tasks = json!({ "tasks": [t("aaaaaaaaaaaa", "done", 5), t("bbbbbbbbbbbb", "open", 1),
                                      t("cccccccccccc", "claimed", 2)] });
        assert!(s.answer("task.list", &Ok(tasks)));
        assert_eq!(s.tasks.iter().map(|t| t.state.as_str()).collect::<Vec<_>>(), ["claimed", "open", "done"]);
        let mut claimed = t("bbbbbbbbbbbb", "claimed", 9);
        claimed["claimed_by_name"] = json!("carol");
        assert!(s.notify("task.changed", &claimed));
        assert_eq!(s.tasks[0].id, "bbbbbbbbbbbb");
        assert_eq!(s.tasks[0].claimed_by.as_deref(), Some("carol"));
        assert!(!s.notify("task.changed", &claimed), "the same task again changes nothing");
    }

    #[test]
    fn refresh_asks_for_the_pane_with_the_mesh_and_the_search() {
        let mut s = SharedPanes::default();
        assert_eq!(s.refresh(Pane::Messages, None), None);
        let Some(Request::Coord { method, params }) = s.refresh(Pane::State, Some("team")) else { panic!() };
        assert_eq!((method, params["mesh"].as_str()), ("state.list", Some("team")));
        s.searched = Some("flaky tests".into());
        let Some(Request::Coord { method, params }) = s.refresh(Pane::Memory, None) else { panic!() };
        assert_eq!((method, params["query"].as_str()), ("memory.recall", Some("flaky tests")));
    }
}
