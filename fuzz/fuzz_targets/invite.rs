//! Fuzz target: one invite link or token JSON: `Invite::from_url`. Properties in `claudemesh::fuzzing::invite`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| claudemesh::fuzzing::invite(data));
