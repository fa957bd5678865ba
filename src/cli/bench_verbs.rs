//! `claudemesh bench load`: runs the load benchmark on a multi-threaded runtime, prints its report (a short
//! table, or the JSON document) and fails when a delivery guarantee broke.

use crate::bench::{self, BenchError, Failure, LoadPlan, LoadReport, Summary};
use crate::i18n::{t, t_args};
use crate::output::table;

use super::args::{BenchRecallArgs, BenchStateArgs, LoadArgs};
use super::context::Ctx;
use super::error::{CliError, Exit};

impl From<BenchError> for CliError {
    fn from(e: BenchError) -> Self {
        match e {
            BenchError::BrokerStart(detail) => CliError::new(Exit::Internal, "bench_broker", "err-bench-broker-start")
                .arg("detail", detail)
                .hint("hint-bench-broker"),
            BenchError::BrokerNotReady(secs) => CliError::new(Exit::Internal, "bench_broker", "err-bench-broker-ready")
                .arg("secs", secs)
                .hint("hint-bench-broker"),
            BenchError::Client(e) => CliError::from(e),
            BenchError::SetupTimeout(secs) => CliError::new(Exit::Network, "bench_timeout", "err-bench-setup-timeout")
                .arg("secs", secs)
                .hint("hint-bench-timeout"),
            BenchError::MissingPeers { expected, seen } => {
                CliError::new(Exit::Internal, "bench_missing_peers", "err-bench-missing-peers")
                    .arg("expected", expected)
                    .arg("seen", seen)
                    .hint("hint-report-bug")
            }
        }
    }
}

/// `claudemesh bench load --peers N --messages M [--broker URL] [--window N] [--timeout D]`
pub(crate) fn load(ctx: &Ctx, a: &LoadArgs) -> Result<(), CliError> {
    let plan = LoadPlan {
        peers: usize::try_from(a.peers).map_err(CliError::internal)?,
        messages: a.messages,
        window: usize::try_from(a.window).map_err(CliError::internal)?,
        body_bytes: usize::try_from(a.body_bytes).map_err(CliError::internal)?,
        broker: a.broker.clone(),
        timeout: a.timeout,
        seed: a.seed,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CliError::internal)?;
    let report = rt.block_on(bench::load(plan))?;
    if ctx.out.json {
        ctx.out.json(serde_json::to_value(&report).map_err(CliError::internal)?);
    } else {
        print_report(ctx, &report);
    }
    failure(&report).map_or(Ok(()), Err)
}

/// The run's failure as one error: the reason code of the first broken guarantee, and every one of them named.
fn failure(report: &LoadReport) -> Option<CliError> {
    let first = report.failures.first()?;
    let reason = match first {
        Failure::Undelivered { .. } => "bench_undelivered",
        Failure::Duplicates { .. } => "bench_duplicates",
        Failure::OutOfOrder { .. } => "bench_out_of_order",
    };
    let what: Vec<String> = report
        .failures
        .iter()
        .map(|f| match *f {
            Failure::Undelivered { missing } => {
                t_args("bench-fail-undelivered", &[("missing", missing.into()), ("total", report.messages.into())])
            }
            Failure::Duplicates { count } => t_args("bench-fail-duplicates", &[("count", count.into())]),
            Failure::OutOfOrder { count } => t_args("bench-fail-order", &[("count", count.into())]),
        })
        .collect();
    let hint = if report.timed_out { "hint-bench-timeout" } else { "hint-bench-failed" };
    Some(CliError::new(Exit::Internal, reason, "err-bench-failed").arg("what", what.join("; ")).hint(hint))
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 1000.0 {
        format!("{v:.1} ms")
    } else {
        format!("{:.2} s", v / 1000.0)
    }
}

fn row(label: String, s: Option<&Summary>) -> Vec<String> {
    match s {
        Some(s) => vec![label, ms(s.p50_ms), ms(s.p95_ms), ms(s.p99_ms), ms(s.max_ms)],
        None => vec![label, "-".into(), "-".into(), "-".into(), "-".into()],
    }
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| t("bench-unknown"), |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)))
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| t("bench-unknown"), |n| n.to_string())
}

fn print_report(ctx: &Ctx, r: &LoadReport) {
    let out = &ctx.out;
    let broker = if r.broker.started_here {
        t_args("bench-broker-started", &[("url", r.broker.url.as_str().into())])
    } else {
        r.broker.url.clone()
    };
    out.line(&t_args(
        "bench-load-title",
        &[
            ("peers", r.peers.to_string().into()),
            ("messages", r.messages_per_peer.to_string().into()),
            ("total", r.messages.to_string().into()),
            ("window", r.window.to_string().into()),
            ("broker", broker.into()),
        ],
    ));
    out.line(&t_args(
        "bench-load-delivered",
        &[
            ("delivered", r.delivered.to_string().into()),
            ("total", r.messages.to_string().into()),
            ("ratio", format!("{:.2}", r.delivered_ratio * 100.0).into()),
            ("secs", format!("{:.2}", r.run_s).into()),
            ("rate", format!("{:.0}", r.throughput_per_s).into()),
            ("duplicates", r.duplicates.to_string().into()),
            ("disorder", r.out_of_order.to_string().into()),
            ("redelivered", r.redelivered.to_string().into()),
        ],
    ));
    let rows = vec![
        vec![t("bench-col-measure"), "p50".into(), "p95".into(), "p99".into(), "max".into()],
        row(t("bench-row-ack"), r.send_to_ack.as_ref()),
        row(t("bench-row-delivered"), r.send_to_delivered.as_ref()),
    ];
    for line in table(&rows) {
        out.line(&format!("  {line}"));
    }
    out.line(&t_args(
        "bench-load-broker",
        &[
            ("rss", mib(r.broker.peak_rss_bytes).into()),
            ("cpu", r.broker.cpu_seconds.map_or_else(|| t("bench-unknown"), |c| format!("{c:.1} s")).into()),
            ("connections", count(r.broker.peak_connections).into()),
            ("fds", count(r.broker.peak_fds).into()),
        ],
    ));
    if r.timed_out {
        out.warn(&t("bench-load-timed-out"));
    }
    if r.ok {
        out.success(&t("bench-load-ok"));
    }
}

/// `claudemesh bench recall [--memories N] [--queries N] [--broker URL]`
pub(crate) fn recall(ctx: &Ctx, a: &BenchRecallArgs) -> Result<(), CliError> {
    let plan = bench::coord_recall::RecallPlan {
        memories: a.memories,
        queries: a.queries,
        broker: a.broker.clone(),
        seed: a.seed,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CliError::internal)?;
    let r = rt.block_on(bench::coord_recall::run(plan))?;
    if ctx.out.json {
        ctx.out.json(serde_json::to_value(&r).map_err(CliError::internal)?);
    } else {
        let out = &ctx.out;
        out.line(&t_args(
            "bench-recall-title",
            &[
                ("memories", r.memories.to_string().into()),
                ("secs", format!("{:.1}", r.insert_s).into()),
                ("rate", format!("{:.0}", r.insert_rate).into()),
                ("queries", r.queries.to_string().into()),
                ("hits", format!("{:.1}", r.mean_hits).into()),
                ("empty", r.empty.to_string().into()),
            ],
        ));
        let rows = vec![
            vec![t("bench-col-measure"), "p50".into(), "p95".into(), "p99".into(), "max".into()],
            row(t("bench-row-recall"), r.recall.as_ref()),
        ];
        for line in table(&rows) {
            out.line(&format!("  {line}"));
        }
    }
    let errors = r.remember_errors + r.recall_errors;
    if errors > 0 {
        return Err(CliError::new(Exit::Internal, "bench_errors", "err-bench-coord-errors")
            .arg("count", errors)
            .hint("hint-bench-failed"));
    }
    Ok(())
}

/// `claudemesh bench state [--watchers N] [--rate N] [--secs N] [--broker URL]`
pub(crate) fn state(ctx: &Ctx, a: &BenchStateArgs) -> Result<(), CliError> {
    let plan = bench::coord_state::StatePlan {
        watchers: usize::try_from(a.watchers).map_err(CliError::internal)?,
        rate: a.rate,
        secs: a.secs,
        broker: a.broker.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CliError::internal)?;
    let r = rt.block_on(bench::coord_state::run(plan))?;
    if ctx.out.json {
        ctx.out.json(serde_json::to_value(&r).map_err(CliError::internal)?);
    } else {
        let out = &ctx.out;
        out.line(&t_args(
            "bench-state-title",
            &[
                ("sets", r.sets.to_string().into()),
                ("secs", r.secs.to_string().into()),
                ("rate", format!("{:.0}", r.achieved_rate).into()),
                ("target", r.target_rate.to_string().into()),
                ("writers", r.writers.to_string().into()),
                ("watchers", r.watchers.to_string().into()),
                ("complete", r.complete_watchers.to_string().into()),
            ],
        ));
        let rows = vec![
            vec![t("bench-col-measure"), "p50".into(), "p95".into(), "p99".into(), "max".into()],
            row(t("bench-row-state-set"), r.set_latency.as_ref()),
            row(t("bench-row-state-lag"), r.notify_lag.as_ref()),
        ];
        for line in table(&rows) {
            out.line(&format!("  {line}"));
        }
        if r.ok {
            out.success(&t("bench-state-ok"));
        }
    }
    if r.ok {
        return Ok(());
    }
    Err(CliError::new(Exit::Internal, "bench_state_changes", "err-bench-state-failed")
        .arg("missing", r.missing)
        .arg("duplicates", r.duplicates)
        .arg("disorder", r.out_of_order)
        .arg("errors", r.set_errors)
        .hint("hint-bench-failed"))
}
