//! Fuzz target: one policy file's bytes: `Policy::from_file_bytes` as user, `--policy` and admin file. Properties in `claudemesh::fuzzing::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| claudemesh::fuzzing::policy(data));
