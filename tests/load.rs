//! The reduced load run CI keeps: the real binary runs `claudemesh bench load --peers 20 --messages 200 --json`
//! against a broker it starts itself (a real process, real WebSockets, real SQLite), and the run must deliver
//! every message exactly once, in each sender's order. Timing is reported, never asserted. The report's shape
//! must match the example in docs/cli.md.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use support::{Home, describe};

/// Far above what the run takes on a loaded 2-core machine; only there so a broken build cannot hang CI.
const RUN_LIMIT: Duration = Duration::from_secs(240);

fn bench(home: &Home, args: &[&str]) -> std::process::Output {
    let mut cmd = assert_cmd::Command::from_std(home.cmd());
    cmd.args(["--json", "bench", "load"]).args(args).timeout(RUN_LIMIT);
    cmd.output().expect("run claudemesh bench load")
}

/// The JSON example under the `claudemesh bench load` heading of docs/cli.md.
fn documented_report() -> Value {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).expect("docs/cli.md");
    let section = doc.split("### `claudemesh bench load").nth(1).expect("a `claudemesh bench load` heading");
    let block = section.split("```json").nth(1).and_then(|b| b.split("```").next()).expect("a JSON example");
    serde_json::from_str(block).expect("the documented report is valid JSON")
}

/// Every key path of a JSON document (`broker.peak_rss_bytes`, `failures[].kind` ...).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn twenty_peers_times_two_hundred_messages_arrive_exactly_once_in_order() {
    let home = Home::new();
    let out = bench(&home, &["--peers", "20", "--messages", "200", "--window", "4", "--timeout", "180s"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}): {}", describe(&out)));
    eprintln!(
        "bench load 20x200: {:.2} s, send->delivered p50 {} ms p99 {} ms, broker peak RSS {} bytes",
        report["run_s"].as_f64().unwrap_or(0.0),
        report["send_to_delivered"]["p50_ms"],
        report["send_to_delivered"]["p99_ms"],
        report["broker"]["peak_rss_bytes"]
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["messages"], 4000);
    assert_eq!(report["delivered"], 4000, "{report:#}");
    assert_eq!(report["duplicates"], 0, "{report:#}");
    assert_eq!(report["out_of_order"], 0, "{report:#}");
    assert_eq!(report["undecryptable"], 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["failures"], serde_json::json!([]));
    assert_eq!(report["send_to_delivered"]["n"], 4000);
    assert_eq!(report["send_to_ack"]["n"], 4000);
    // The broker ran here, so its process figures are known; all 20 peers were connected to it at once.
    assert_eq!(report["broker"]["started_here"], true);
    assert!(report["broker"]["peak_rss_bytes"].as_u64().is_some_and(|b| b > 0), "{report:#}");
    assert!(report["broker"]["peak_connections"].as_u64().is_some_and(|c| c >= 20), "{report:#}");

    let mut documented = BTreeSet::new();
    key_paths(&documented_report(), "", &mut documented);
    let mut real = BTreeSet::new();
    key_paths(&report, "", &mut real);
    assert_eq!(documented, real, "docs/cli.md's bench load example and the real report differ");
}

#[test]
fn an_unreachable_broker_fails_fast_with_a_network_error() {
    let home = Home::new();
    let port = support::free_port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let out = bench(&home, &["--peers", "2", "--messages", "1", "--broker", &url, "--timeout", "60s"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    assert_eq!(err["error"]["code"], "network", "{err}");
}
