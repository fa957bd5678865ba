//! Pure send-side rules: which peers a target (`name`, `@group`, `*`) means, the closest names when nothing
//! matches, and how to split envelopes across `message.send` frames.

use crate::proto::{Envelope, KeyHex, PeerInfo};

/// Why a target named no recipient. (Serialisable: the daemon hands it to the CLI over the local API.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ResolveError {
    #[error("no peer named \"{name}\" in this mesh")]
    NoSuchPeer { name: String, closest: Vec<String> },
    #[error("no other peer is in group @{group}")]
    EmptyGroup { group: String },
    #[error("no other peer is in this mesh")]
    NobodyElse,
    #[error("\"{name}\" is this session")]
    IsYou { name: String },
    #[error("the target is empty")]
    EmptyTarget,
}

/// Several sessions may share a name (one person, several Claude Code sessions over time). A name means the ones
/// online now; when none is, the one seen last (the message waits for it), not every session that ever existed.
fn prefer_live(named: Vec<&PeerInfo>) -> Vec<&PeerInfo> {
    let online: Vec<&PeerInfo> = named.iter().copied().filter(|p| p.online).collect();
    if !online.is_empty() {
        return online;
    }
    named.into_iter().max_by_key(|p| p.last_seen_ms).into_iter().collect()
}

/// The recipients of `to` among `peers`, never including `me`.
pub(crate) fn resolve<'p>(peers: &'p [PeerInfo], to: &str, me: &KeyHex) -> Result<Vec<&'p PeerInfo>, ResolveError> {
    let to = to.trim();
    let others = peers.iter().filter(|p| p.id != *me);
    if to.is_empty() {
        return Err(ResolveError::EmptyTarget);
    }
    if to == "*" {
        let all: Vec<_> = others.filter(|p| p.visible).collect();
        return if all.is_empty() { Err(ResolveError::NobodyElse) } else { Ok(all) };
    }
    if let Some(group) = to.strip_prefix('@') {
        let members: Vec<_> = others.filter(|p| p.groups.iter().any(|g| g.name == group)).collect();
        return if members.is_empty() {
            Err(ResolveError::EmptyGroup { group: group.to_string() })
        } else {
            Ok(members)
        };
    }
    let named: Vec<_> = others.filter(|p| p.name == to).collect();
    if !named.is_empty() {
        return Ok(prefer_live(named));
    }
    if peers.iter().any(|p| p.id == *me && p.name == to) {
        return Err(ResolveError::IsYou { name: to.to_string() });
    }
    let names: Vec<&str> = peers.iter().filter(|p| p.id != *me).map(|p| p.name.as_str()).collect();
    Err(ResolveError::NoSuchPeer { name: to.to_string(), closest: closest_names(&names, to) })
}

/// Up to three names closest to `wanted` (case-insensitive edit distance), nearest first; only plausible ones.
pub(crate) fn closest_names(names: &[&str], wanted: &str) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (edit_distance(&n.to_lowercase(), &wanted_lower), *n))
        .filter(|(d, n)| {
            let len = n.chars().count().max(wanted.chars().count());
            *d <= (len / 2).max(2) || n.to_lowercase().contains(&wanted_lower)
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, n)| n.to_string()).collect()
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Splits envelopes so each `message.send` frame stays within `budget` bytes, given the size of the frame with an
/// empty envelope list (`fixed`), and holds at most `max_count` envelopes. Every batch holds at least one.
pub(crate) fn batch_envelopes(
    envelopes: Vec<Envelope>,
    fixed: usize,
    budget: usize,
    max_count: usize,
) -> Vec<Vec<Envelope>> {
    let mut batches = Vec::new();
    let mut current: Vec<Envelope> = Vec::new();
    let mut size = fixed;
    for env in envelopes {
        // The serialised envelope plus a separating comma.
        let len = serde_json::to_string(&env).map(|s| s.len()).unwrap_or(0) + 1;
        if !current.is_empty() && (size + len > budget || current.len() >= max_count) {
            batches.push(std::mem::take(&mut current));
            size = fixed;
        }
        size += len;
        current.push(env);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Attestation, GroupRef, Role, Status};

    fn peer(n: u8, name: &str, groups: &[&str], visible: bool) -> PeerInfo {
        PeerInfo {
            id: KeyHex([n; 32]),
            name: name.into(),
            member_key: KeyHex([n; 32]),
            attestation: Attestation { issued_at_ms: 1, signature: String::new() },
            role: Role::Member,
            status: Status::Idle,
            summary: String::new(),
            visible,
            groups: groups.iter().map(|g| GroupRef { name: g.to_string(), role: None }).collect(),
            online: true,
            last_seen_ms: 0,
            cwd: None,
            branch: None,
        }
    }

    fn names(v: Vec<&PeerInfo>) -> Vec<&str> {
        v.into_iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn broadcast_means_every_other_visible_peer() {
        let peers = vec![peer(1, "me", &[], true), peer(2, "bob", &[], true), peer(3, "ghost", &[], false)];
        assert_eq!(names(resolve(&peers, "*", &KeyHex([1; 32])).unwrap()), vec!["bob"]);
        assert_eq!(resolve(&peers[..1], "*", &KeyHex([1; 32])), Err(ResolveError::NobodyElse));
    }

    #[test]
    fn groups_match_by_name_and_exclude_me() {
        let peers = vec![peer(1, "me", &["dev"], true), peer(2, "bob", &["dev"], true), peer(3, "eve", &["ops"], true)];
        assert_eq!(names(resolve(&peers, "@dev", &KeyHex([1; 32])).unwrap()), vec!["bob"]);
        assert_eq!(resolve(&peers, "@qa", &KeyHex([1; 32])), Err(ResolveError::EmptyGroup { group: "qa".into() }));
    }

    #[test]
    fn names_match_exactly_with_suggestions() {
        let peers = vec![peer(1, "me", &[], true), peer(2, "alice", &[], true), peer(3, "alicia", &[], true)];
        let me = KeyHex([1; 32]);
        assert_eq!(names(resolve(&peers, "alice", &me).unwrap()), vec!["alice"]);
        match resolve(&peers, "Alise", &me) {
            Err(ResolveError::NoSuchPeer { closest, .. }) => assert_eq!(closest, vec!["alice", "alicia"]),
            other => panic!("{other:?}"),
        }
        match resolve(&peers, "zzzzzzzz", &me) {
            Err(ResolveError::NoSuchPeer { closest, .. }) => assert!(closest.is_empty()),
            other => panic!("{other:?}"),
        }
        assert_eq!(resolve(&peers, "me", &me), Err(ResolveError::IsYou { name: "me".into() }));
        assert_eq!(resolve(&peers, "  ", &me), Err(ResolveError::EmptyTarget));
    }

    #[test]
    fn a_shared_name_means_the_sessions_online_else_the_one_seen_last() {
        let me = KeyHex([0; 32]);
        let mut old = peer(1, "alice", &[], true);
        old.online = false;
        old.last_seen_ms = 10;
        let mut newer = peer(2, "alice", &[], true);
        newer.online = false;
        newer.last_seen_ms = 20;
        let live = peer(3, "alice", &[], true);
        let live2 = peer(4, "alice", &[], true);
        let all = vec![old.clone(), newer.clone(), live.clone(), live2.clone()];
        let ids: Vec<KeyHex> = resolve(&all, "alice", &me).unwrap().iter().map(|p| p.id).collect();
        assert_eq!(ids, vec![live.id, live2.id]);
        let offline = vec![old, newer.clone()];
        let ids: Vec<KeyHex> = resolve(&offline, "alice", &me).unwrap().iter().map(|p| p.id).collect();
        assert_eq!(ids, vec![newer.id]);
    }

    #[test]
    fn batches_respect_the_budget() {
        let env = |n: u8| Envelope { to: KeyHex([n; 32]), nonce: "n".repeat(32), ciphertext: "c".repeat(1000) };
        let one = serde_json::to_string(&env(0)).unwrap().len() + 1;
        let batches = batch_envelopes((0..10).map(env).collect(), 100, 100 + one * 3, 1000);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        let batches = batch_envelopes((0..5).map(env).collect(), 100, usize::MAX, 2);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        // An envelope larger than the budget still travels (alone); the frame cap then decides.
        assert_eq!(batch_envelopes(vec![env(1), env(2)], 100, 10, 1000).len(), 2);
        assert!(batch_envelopes(vec![], 100, 1000, 1000).is_empty());
    }
}
