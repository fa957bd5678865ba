//! Fuzz target: one sealed delivery opened by a fixed recipient: `client::open_sealed`. Properties in `claudemesh::fuzzing::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| claudemesh::fuzzing::envelope(data));
