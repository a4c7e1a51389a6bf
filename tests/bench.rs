//! `ledger-node bench` against the real binary: a short load run and a
//! short soak with SIGKILLs, each of which checks every transfer itself
//! and exits non-zero on any loss. (Their figures belong in
//! docs/benchmarks.md and docs/reliability.md; here only their verdicts
//! and reports are checked.)

mod support;

use std::process::Command;

use support::BINARY;

#[test]
fn a_short_load_run_checks_every_transfer_and_reports_as_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.json");
    let output = Command::new(BINARY)
        .args([
            "bench",
            "--transfers",
            "300",
            "--senders",
            "7",
            "--connections",
            "3",
        ])
        .args([
            "--window",
            "50",
            "--baseline-seconds",
            "0.1",
            "--block-interval-ms",
            "0",
            "--rate",
            "3000",
        ])
        .arg("--json")
        .arg(&report)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // The report draws as a chart against offered load.
    let chart = dir.path().join("load.svg");
    let plotted = Command::new(BINARY)
        .args(["bench", "plot-load"])
        .arg(&report)
        .arg("--out")
        .arg(&chart)
        .output()
        .expect("runs");
    assert!(
        plotted.status.success(),
        "{}",
        String::from_utf8_lossy(&plotted.stderr)
    );
    let svg = std::fs::read_to_string(&chart).expect("drawn");
    assert!(
        svg.contains("p99 Pending") && svg.contains("committed"),
        "{svg}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("written")).expect("JSON");
    assert_eq!(report["transfers"], 300);
    assert_eq!(report["offered_per_second"], 3000.0);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["balances_checked"], true);
    assert!(report["committed_per_second"].as_f64().expect("a rate") > 0.0);
    assert!(report["raw_recover_per_second"].as_f64().expect("a rate") > 0.0);
    let stages = report["node_cost"]["stages"]
        .as_object()
        .expect("the node's cost by stage");
    assert_eq!(stages.len(), 6, "{stages:?}");
}

#[test]
fn an_erc20_run_deploys_the_token_and_checks_every_holder() {
    // `--json -`: the report alone on stdout, the table on stderr, and no
    // progress bar where stderr is not a terminal.
    let output = Command::new(BINARY)
        .args(["bench", "--workload", "erc20", "--transfers", "120"])
        .args(["--senders", "5", "--connections", "2", "--window", "40"])
        .args(["--baseline-seconds", "0.1", "--json", "-"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("deploying the token"), "{stderr}");
    assert!(stderr.contains("120 ERC-20 transfers"), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains("[=") && !stderr.contains("Ok("),
        "no progress bar and no debug text: {stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is the JSON report alone");
    assert_eq!(report["workload"], "erc20");
    assert_eq!(report["failed"], 0);
    assert_eq!(report["balances_checked"], true);
}

#[test]
fn a_node_that_does_not_fund_the_senders_is_refused_before_timing() {
    let node = support::Node::start();
    let output = Command::new(BINARY)
        .args(["bench", "--node", &node.url, "--transfers", "20"])
        .args(["--senders", "2", "--baseline-seconds", "0.05"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: the node at ")
            && last.contains("does not fund this run's senders")
            && last.contains("holds 0, its 10 transfers need 20")
            && last.contains("`ledger-node bench genesis --senders 2 --seed 1 --out genesis.json`"),
        "{stderr}"
    );
    assert!(!stderr.contains("checking every status"), "{stderr}");
}

#[test]
fn a_short_soak_with_sigkills_applies_every_transfer_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = dir.path().join("soak.json");
    let output = Command::new(BINARY)
        .args([
            "bench",
            "soak",
            "--minutes",
            "0.15",
            "--rate",
            "150",
            "--senders",
            "5",
        ])
        .args([
            "--connections",
            "3",
            "--window",
            "20",
            "--kill-every-s",
            "3",
        ])
        .args(["--disconnect-every-s", "1", "--seed", "7"])
        .arg("--data-dir")
        .arg(dir.path().join("soak"))
        .arg("--json")
        .arg(&summary)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("written")).expect("JSON");
    assert!(summary["kills"].as_u64().expect("kills") >= 1, "{summary}");
    assert!(
        summary["transfers"].as_u64().expect("transfers") > 0,
        "{summary}"
    );
    for wrong in [
        "receivers_wrong",
        "senders_wrong",
        "lost",
        "applied_twice",
        "refused",
    ] {
        assert_eq!(summary[wrong], 0, "{wrong}: {summary}");
    }
}
