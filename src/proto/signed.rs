//! Canonical signed byte strings: a domain tag, then fields joined by `\n` (fields never contain control
//! characters, so the encoding is unambiguous). Each function documents exactly what it signs.

/// Signed by the **member** key: binds a session key to a member of a mesh.
/// `claudemesh.v1/attest\n{mesh_id}\n{member_key}\n{session_key}\n{issued_at_ms}`
pub(crate) fn attestation_bytes(mesh_id: &str, member_key: &str, session_key: &str, issued_at_ms: u64) -> Vec<u8> {
    format!("claudemesh.v1/attest\n{mesh_id}\n{member_key}\n{session_key}\n{issued_at_ms}").into_bytes()
}

/// Signed by the **session** key: proves possession on this connection (the nonce makes replays useless).
/// `claudemesh.v1/hello\n{nonce}\n{mesh_id}\n{member_key}\n{session_key}`
pub(crate) fn hello_bytes(nonce: &str, mesh_id: &str, member_key: &str, session_key: &str) -> Vec<u8> {
    format!("claudemesh.v1/hello\n{nonce}\n{mesh_id}\n{member_key}\n{session_key}").into_bytes()
}

/// Signed by the new **owner** key when creating a mesh.
/// `claudemesh.v1/mesh-create\n{nonce}\n{mesh_id}\n{name}\n{owner_key}`
pub(crate) fn mesh_create_bytes(nonce: &str, mesh_id: &str, name: &str, owner_key: &str) -> Vec<u8> {
    format!("claudemesh.v1/mesh-create\n{nonce}\n{mesh_id}\n{name}\n{owner_key}").into_bytes()
}

/// Signed by the joining **member** key when redeeming an invite.
/// `claudemesh.v1/redeem\n{nonce}\n{invite_id}\n{member_key}`
pub(crate) fn redeem_bytes(nonce: &str, invite_id: &str, member_key: &str) -> Vec<u8> {
    format!("claudemesh.v1/redeem\n{nonce}\n{invite_id}\n{member_key}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_are_stable() {
        assert_eq!(attestation_bytes("m", "a", "b", 5), b"claudemesh.v1/attest\nm\na\nb\n5".to_vec());
        assert_eq!(hello_bytes("n", "m", "a", "b"), b"claudemesh.v1/hello\nn\nm\na\nb".to_vec());
        assert_eq!(mesh_create_bytes("n", "m", "x", "o"), b"claudemesh.v1/mesh-create\nn\nm\nx\no".to_vec());
        assert_eq!(redeem_bytes("n", "i", "k"), b"claudemesh.v1/redeem\nn\ni\nk".to_vec());
    }
}
