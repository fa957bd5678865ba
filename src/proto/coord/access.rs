//! Wire types of `access.*` and `mesh.delete`, and the pure RBAC rules: role sets, effective rights, who may act.

use serde::{Deserialize, Serialize};

use super::Capability;
use crate::proto::{KeyHex, Role};

/// Longest `peer` reference (a display name is ≤ 64 characters, a key 64 hex digits).
pub(crate) const MAX_PEER_REF: usize = 128;
/// Most entries one `access.list` answers (each entry is under 1 KiB, so a page stays far below a frame).
pub(crate) const MAX_ACCESS_LIST: usize = 50;

/// A set of capabilities as a bit mask (bit i = `Capability::ALL[i]`): checked on every request, so it is cheap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CapSet(u32);

impl CapSet {
    pub(crate) const EMPTY: CapSet = CapSet(0);

    fn bit(cap: Capability) -> u32 {
        let i = Capability::ALL.iter().position(|c| *c == cap).unwrap_or(0);
        1 << i
    }

    pub(crate) fn of(caps: &[Capability]) -> CapSet {
        CapSet(caps.iter().fold(0, |m, c| m | Self::bit(*c)))
    }

    /// The set a role grants (the table in docs/coordination.md "Roles and grants").
    pub(crate) fn of_role(role: Role) -> CapSet {
        use Capability::*;
        let guest = Self::of(&[Dm, StateRead, MemoryRead, TaskRead, ContextRead, StreamRead, FileRead]);
        let member = guest.union(Self::of(&[
            Broadcast,
            StateWrite,
            MemoryWrite,
            TaskWrite,
            ContextWrite,
            StreamWrite,
            FileWrite,
            Schedule,
        ]));
        match role {
            Role::Guest => guest,
            Role::Member => member,
            Role::Admin | Role::Owner => member.union(Self::of(&[ClockWrite])),
        }
    }

    pub(crate) fn contains(self, cap: Capability) -> bool {
        self.0 & Self::bit(cap) != 0
    }

    pub(crate) fn union(self, o: CapSet) -> CapSet {
        CapSet(self.0 | o.0)
    }

    pub(crate) fn minus(self, o: CapSet) -> CapSet {
        CapSet(self.0 & !o.0)
    }

    pub(crate) fn to_vec(self) -> Vec<Capability> {
        Capability::ALL.into_iter().filter(|c| self.contains(*c)).collect()
    }
}

/// A member's rights: its role, what admins granted or revoked on top of it, and whether it is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rights {
    pub role: Role,
    pub granted: CapSet,
    pub revoked: CapSet,
    pub blocked: bool,
}

impl Rights {
    pub(crate) fn of_role(role: Role) -> Rights {
        Rights { role, granted: CapSet::EMPTY, revoked: CapSet::EMPTY, blocked: false }
    }

    /// (the role's set ∪ granted) − revoked; a block removes `dm` and `broadcast`.
    pub(crate) fn effective(&self) -> CapSet {
        let caps = CapSet::of_role(self.role).union(self.granted).minus(self.revoked);
        if self.blocked { caps.minus(CapSet::of(&[Capability::Dm, Capability::Broadcast])) } else { caps }
    }

    /// The refusal text for a capability these rights lack (`None` when they hold it).
    pub(crate) fn refusal(&self, cap: Capability) -> Option<String> {
        if self.effective().contains(cap) {
            return None;
        }
        let blocked = self.blocked && matches!(cap, Capability::Dm | Capability::Broadcast);
        Some(if blocked {
            format!("forbidden: missing capability {} (blocked in this mesh)", cap.as_str())
        } else {
            format!("forbidden: missing capability {}", cap.as_str())
        })
    }
}

/// What an `access.*` method does to its target, for the rule on who may do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessAction {
    /// grant, revoke, block, unblock, kick, ban, unban: admins and the owner, never on an admin or the owner
    /// (unless the owner acts on an admin).
    Manage,
    /// promote or demote: the owner only, never on the owner.
    ChangeRole,
}

/// Why `actor` may not do `action` to a member whose role is `target`; `None` when it may.
pub(crate) fn refuse_action(actor: Role, target: Role, action: AccessAction) -> Option<&'static str> {
    match action {
        AccessAction::Manage if !actor.is_admin() => Some("forbidden: only the owner or an admin can manage access"),
        AccessAction::ChangeRole if actor != Role::Owner => Some("forbidden: only the owner can change roles"),
        _ if target == Role::Owner => Some("forbidden: the owner's access cannot be changed"),
        AccessAction::Manage if actor == Role::Admin && target == Role::Admin => {
            Some("forbidden: an admin cannot act on another admin; ask the owner")
        }
        _ => None,
    }
}

/// `access.list` params: one member (`peer`), or a page of every member and ban sorted by member key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessListParams {
    #[serde(default)]
    pub peer: Option<String>,
    /// Only members whose key sorts after this one (the previous page's `next`).
    #[serde(default)]
    pub after: Option<KeyHex>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `access.block|unblock|kick|ban|unban` params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessPeerParams {
    pub peer: String,
}

/// `access.grant|revoke` params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessCapsParams {
    pub peer: String,
    pub caps: Vec<Capability>,
}

/// `access.role` params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessRoleParams {
    pub peer: String,
    pub role: Role,
}

/// `mesh.delete` params (none).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MeshDeleteParams {}

/// One member's access as `access.list` and the other methods answer it (and `access.changed` carries it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AccessEntry {
    pub member: KeyHex,
    pub name: String,
    pub role: Role,
    pub granted: Vec<Capability>,
    pub revoked: Vec<Capability>,
    pub blocked: bool,
    pub banned: bool,
    pub effective: Vec<Capability>,
}

impl AccessEntry {
    /// The entry of a current member.
    pub(crate) fn member(member: KeyHex, name: String, r: &Rights) -> AccessEntry {
        AccessEntry {
            member,
            name,
            role: r.role,
            granted: r.granted.to_vec(),
            revoked: r.revoked.to_vec(),
            blocked: r.blocked,
            banned: false,
            effective: r.effective().to_vec(),
        }
    }

    /// The entry of a banned key (no longer a member: it holds nothing).
    pub(crate) fn banned(member: KeyHex, name: String, role: Role) -> AccessEntry {
        AccessEntry {
            member,
            name,
            role,
            granted: Vec::new(),
            revoked: Vec::new(),
            blocked: false,
            banned: true,
            effective: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AccessListResult {
    pub members: Vec<AccessEntry>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<KeyHex>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AccessKickResult {
    pub kicked: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MeshDeleteResult {
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;

    #[test]
    fn role_sets_follow_the_table() {
        let g = CapSet::of_role(Role::Guest);
        assert!(g.contains(Dm) && g.contains(StateRead) && g.contains(FileRead));
        assert!(!g.contains(Broadcast) && !g.contains(StateWrite) && !g.contains(Schedule));
        let m = CapSet::of_role(Role::Member);
        assert!(m.contains(Broadcast) && m.contains(TaskWrite) && m.contains(Schedule) && !m.contains(ClockWrite));
        assert_eq!(CapSet::of_role(Role::Admin), CapSet::of(&Capability::ALL));
        assert_eq!(CapSet::of_role(Role::Owner), CapSet::of(&Capability::ALL));
    }

    #[test]
    fn effective_is_role_plus_grants_minus_revokes_and_block_removes_messaging() {
        let mut r = Rights::of_role(Role::Guest);
        r.granted = CapSet::of(&[StateWrite, Broadcast]);
        r.revoked = CapSet::of(&[Dm, Broadcast]);
        let e = r.effective();
        assert!(e.contains(StateWrite) && !e.contains(Broadcast) && !e.contains(Dm));
        assert_eq!(r.refusal(Dm).as_deref(), Some("forbidden: missing capability dm"));
        assert_eq!(r.refusal(StateWrite), None);
        let mut b = Rights::of_role(Role::Admin);
        b.blocked = true;
        assert_eq!(b.refusal(Dm).as_deref(), Some("forbidden: missing capability dm (blocked in this mesh)"));
        assert_eq!(
            b.refusal(Broadcast).as_deref(),
            Some("forbidden: missing capability broadcast (blocked in this mesh)")
        );
        assert_eq!(b.refusal(ClockWrite), None);
        assert_eq!(CapSet::of(&[Dm, Schedule]).to_vec(), vec![Dm, Schedule]);
    }

    #[test]
    fn who_may_act_on_whom() {
        use AccessAction::*;
        use Role::*;
        assert!(refuse_action(Admin, Member, Manage).is_none());
        assert!(refuse_action(Owner, Admin, Manage).is_none());
        assert!(refuse_action(Admin, Admin, Manage).is_some());
        assert!(refuse_action(Admin, Owner, Manage).is_some());
        assert!(refuse_action(Owner, Owner, Manage).is_some());
        assert!(refuse_action(Member, Guest, Manage).is_some());
        assert!(refuse_action(Owner, Member, ChangeRole).is_none());
        assert!(refuse_action(Admin, Member, ChangeRole).is_some());
        assert!(refuse_action(Owner, Owner, ChangeRole).is_some());
    }
}
