//! Builds the mesh a load run uses, the way users do: the first peer creates it with its member key, signs one
//! invite, and every other peer redeems that invite with a member key of its own, then authenticates.

use futures_util::{StreamExt, TryStreamExt};

use crate::client::{ClientError, Identity, MeshSession};
use crate::crypto::SigningKey;
use crate::proto::{Invite, InviteCreateParams, MeshId, PeerInfo, Role, method};

use super::BenchError;

/// How many peers connect and redeem at the same time.
const JOIN_CONCURRENCY: usize = 32;
/// How long the invite stays valid.
const INVITE_SECS: u64 = 24 * 3600;

/// One peer, connected and authenticated (a receiving connection), with the mesh's peer list.
pub(crate) struct Member {
    pub index: usize,
    pub session: MeshSession,
    pub peers: Vec<PeerInfo>,
}

/// The name of peer `index`.
pub(crate) fn peer_name(index: usize) -> String {
    format!("bench-{index:04}")
}

fn identity(mesh_id: &MeshId, index: usize) -> Result<Identity, ClientError> {
    Ok(Identity {
        mesh_id: mesh_id.clone(),
        member: SigningKey::generate()?,
        session: SigningKey::generate()?,
        name: peer_name(index),
    })
}

/// Creates a mesh on `url` and joins `count` peers to it; every peer then lists the mesh's peers.
pub(crate) async fn assemble(url: &str, count: usize) -> Result<Vec<Member>, BenchError> {
    let mesh_id = MeshId::generate();
    let mut owner = MeshSession::create_mesh(url, identity(&mesh_id, 0)?, "bench-load").await?;
    let (invite, token) = signed_invite(owner.identity(), url, count)?;
    let _: serde_json::Value = owner.call(method::INVITE_CREATE, &InviteCreateParams { token: token.clone() }).await?;

    let joined: Vec<(usize, MeshSession)> = futures_util::stream::iter(1..count)
        .map(|index| {
            let (invite, token, mesh_id) = (&invite, &token, &mesh_id);
            async move {
                let (session, _) = MeshSession::redeem(identity(mesh_id, index)?, invite, token).await?;
                Ok::<_, ClientError>((index, session))
            }
        })
        .buffer_unordered(JOIN_CONCURRENCY)
        .try_collect()
        .await?;

    let mut sessions = vec![(0, owner)];
    sessions.extend(joined);
    sessions.sort_by_key(|(index, _)| *index);
    let members: Vec<Member> = futures_util::stream::iter(sessions)
        .map(|(index, mut session)| async move {
            let peers = session.peers().await?;
            Ok::<_, ClientError>(Member { index, session, peers })
        })
        .buffered(JOIN_CONCURRENCY)
        .try_collect()
        .await?;
    if let Some(short) = members.iter().find(|m| m.peers.len() < count) {
        return Err(BenchError::MissingPeers { expected: count, seen: short.peers.len() });
    }
    Ok(members)
}

/// A member invite for `count - 1` joiners, signed by the owner's member key.
fn signed_invite(owner: &Identity, url: &str, count: usize) -> Result<(Invite, String), BenchError> {
    let exp = super::unix_secs() + INVITE_SECS;
    let mut invite = Invite {
        v: 1,
        id: Invite::new_id(),
        mesh: owner.mesh_id.clone(),
        mesh_name: "bench-load".into(),
        broker: url.to_string(),
        role: Role::Member,
        exp,
        uses: u32::try_from(count.saturating_sub(1).max(1)).unwrap_or(u32::MAX),
        issuer: owner.member_key(),
        inviter: owner.name.clone(),
        sig: String::new(),
    };
    invite.sig = owner.member.sign_hex(&invite.signed_bytes());
    let token = invite.to_token();
    Ok((invite, token))
}
