//! Fuzz target: one JSON-RPC frame (or push-pipe line): `proto::decode_frame` and `mcp::handle_line`. Properties in `claudemesh::fuzzing::frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| claudemesh::fuzzing::frame(data));
