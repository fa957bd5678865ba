//! The task lease sweeper: about once a second it renews the claims of present claimers and reopens the claims
//! of claimers gone for longer than the lease, telling the creator and the former claimer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::store::{self, Claim};
use crate::broker::conn::Shared;
use crate::proto::{KeyHex, MeshId};

/// How often claims are looked at.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Expires the claims of claimers that went away (runs until shutdown).
pub(in crate::broker::coord) async fn run_leases(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweeper = Sweeper::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|v| *v) => return,
        }
        if let Err(e) = sweeper.sweep(&shared).await {
            tracing::debug!(error = %e, "task lease sweep skipped");
        }
    }
}

/// When each claimer was last seen present, as the sweeper observed it (the store's lease is only renewed now
/// and then, so this is what makes "the lease after it was last seen" precise to one sweep).
#[derive(Default)]
struct Sweeper {
    last_seen: HashMap<(MeshId, KeyHex), Seen>,
}

/// The last sweep that saw a claimer present, or (once it is gone) the first sweep that saw it gone: it may have
/// been present until just before then, so the lease counts from there and never ends early.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    at: u64,
    present: bool,
}

/// What one look at the claims decided.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Present claimers whose stored lease is due for renewal.
    renew: Vec<(MeshId, KeyHex)>,
    /// Claims whose lease ran out (indexes into the claims looked at).
    expire: Vec<usize>,
}

/// Decides what to renew and what to expire. `present` says whether a claimer is on the broker now; a stored
/// lease is renewed once less than half of it is left, so a present claimer costs one write per half lease.
fn plan(
    claims: &[Claim],
    present: impl Fn(&MeshId, &KeyHex) -> bool,
    last_seen: &mut HashMap<(MeshId, KeyHex), Seen>,
    now: u64,
    lease_ms: u64,
) -> Plan {
    let mut p = Plan::default();
    for (n, c) in claims.iter().enumerate() {
        let key = (c.mesh.clone(), c.claimer);
        if present(&c.mesh, &c.claimer) {
            last_seen.insert(key.clone(), Seen { at: now, present: true });
            if c.lease_expires_at_ms < now.saturating_add(lease_ms / 2) && !p.renew.contains(&key) {
                p.renew.push(key);
            }
            continue;
        }
        let seen = match last_seen.get_mut(&key) {
            Some(s) if s.present => {
                *s = Seen { at: now, present: false };
                Some(now)
            }
            Some(s) => Some(s.at),
            None => None,
        };
        let seen_until = seen.map_or(0, |t| t.saturating_add(lease_ms));
        if now >= c.lease_expires_at_ms.max(seen_until) {
            p.expire.push(n);
        }
    }
    // Forget claimers that hold nothing any more.
    let holding: HashSet<(&MeshId, &KeyHex)> = claims.iter().map(|c| (&c.mesh, &c.claimer)).collect();
    last_seen.retain(|k, _| holding.contains(&(&k.0, &k.1)));
    p
}

impl Sweeper {
    async fn sweep(&mut self, shared: &Arc<Shared>) -> Result<(), crate::broker::db::StoreError> {
        let claims = shared.db.read(store::claims).await?;
        if claims.is_empty() {
            self.last_seen.clear();
            return Ok(());
        }
        let now = crate::clock::now_ms();
        let lease_ms = u64::try_from(shared.settings.task_lease.as_millis()).unwrap_or(u64::MAX);
        let p = plan(&claims, |m, k| shared.hub.is_present(m, k), &mut self.last_seen, now, lease_ms);
        if !p.renew.is_empty() {
            let until = now.saturating_add(lease_ms);
            shared
                .db
                .run(move |c| {
                    for (mesh, claimer) in &p.renew {
                        store::renew(c, mesh, claimer, until)?;
                    }
                    Ok(())
                })
                .await?;
        }
        if p.expire.is_empty() {
            return Ok(());
        }
        let due: Vec<Claim> =
            claims.into_iter().enumerate().filter(|(n, _)| p.expire.contains(n)).map(|(_, c)| c).collect();
        let reopened = shared
            .db
            .run(move |c| {
                let mut out = Vec::new();
                for claim in due {
                    if let Some(t) = store::expire(c, &claim, now)? {
                        out.push((claim.mesh, claim.claimer, t));
                    }
                }
                Ok(out)
            })
            .await?;
        for (mesh, claimer, t) in reopened {
            tracing::debug!(task = %t.id, "task lease expired");
            super::notify(&shared.hub, &mesh, Some(&t.creator), &t);
            if claimer != t.creator {
                super::notify(&shared.hub, &mesh, Some(&claimer), &t);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::CoordId;

    fn claim(mesh: &MeshId, who: u8, lease: u64) -> Claim {
        Claim { mesh: mesh.clone(), id: CoordId::generate(), claimer: KeyHex([who; 32]), lease_expires_at_ms: lease }
    }

    #[test]
    fn present_claimers_renew_and_absent_ones_expire_a_lease_after_they_were_last_seen() {
        let m = MeshId::generate();
        let claims = vec![claim(&m, 1, 1_000), claim(&m, 2, 1_000), claim(&m, 1, 1_900)];
        let mut seen = HashMap::new();
        // At 950 both are present: claimer 1's leases (1000 and 1900) are renewed once; so are claimer 2's.
        let p = plan(&claims, |_, _| true, &mut seen, 950, 1_000);
        assert_eq!(p.renew, vec![(m.clone(), KeyHex([1; 32])), (m.clone(), KeyHex([2; 32]))]);
        assert!(p.expire.is_empty());
        // Claimer 2 goes away; at 1500 its stored lease (1000) has passed, but it may have been present until
        // just before this sweep noticed: not yet, and not at 2400 either.
        let p = plan(&claims, |_, k| k.0[0] == 1, &mut seen, 1_500, 1_000);
        assert!(p.expire.is_empty(), "{p:?}");
        let p = plan(&claims, |_, k| k.0[0] == 1, &mut seen, 2_400, 1_000);
        assert!(p.expire.is_empty(), "{p:?}");
        // At 2500 (a lease after it was last possibly seen) it expires; claimer 1 stays.
        let p = plan(&claims, |_, k| k.0[0] == 1, &mut seen, 2_500, 1_000);
        assert_eq!(p.expire, vec![1]);
        // A claimer the sweeper never saw keeps its claim until its stored lease.
        let mut fresh = HashMap::new();
        let p = plan(&claims, |_, _| false, &mut fresh, 1_000, 1_000);
        assert_eq!(p.expire, vec![0, 1]);
        assert!(fresh.is_empty());
    }
}
