//! `keywarden eval`: score a hunt output directory against a simulator's `truth.json`.

use std::path::PathBuf;

use anyhow::Context;
use keywarden_sim::{Truth, evaluate_dir};

#[derive(clap::Args, Debug)]
pub(crate) struct EvalArgs {
    /// The `truth.json` written by `keywarden simulate`.
    #[arg(long)]
    pub truth: PathBuf,
    /// A `keywarden hunt --out` directory (with `alerts.jsonl` and `exposure.json`).
    pub outdir: PathBuf,
    /// Print the evaluation as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when the targets (recall 1.0 and precision ≥ 0.99 on high/critical
    /// alerts, exact exposure; silence without an attack) are not met.
    #[arg(long)]
    pub check: bool,
}

pub(crate) fn run(args: &EvalArgs) -> anyhow::Result<i32> {
    let truth = Truth::read(&args.truth)?;
    let evaluation = evaluate_dir(&truth, &args.outdir)
        .with_context(|| format!("evaluating {}", args.outdir.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        // Ids and mailbox names come from logs: escape them on a terminal.
        for line in evaluation.to_string().lines() {
            println!("{}", crate::term::escape(line));
        }
    }
    Ok(if args.check && !evaluation.targets_met {
        1
    } else {
        0
    })
}
