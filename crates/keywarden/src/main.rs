//! `keywarden`: the command-line front end. Thin by design: argument parsing, wiring of the
//! library crates, terminal output and exit codes. All logic lives in `crates/keywarden-*`.
#![forbid(unsafe_code)]

mod cmd;
mod term;

use clap::{Parser, Subcommand};

/// Hunting allocates and frees a small value tree per record on every worker; mimalloc's
/// per-thread free lists serve that pattern faster than the system allocator (measured in
/// `cargo bench -p keywarden --bench hunt_vs_rsigma`, figures in docs/DETECTIONS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "keywarden",
    version,
    about = "Defend cloud mail against forged-token intrusions: hunt audit logs, validate tokens, scope what was read"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Hunt exported logs: read every input, account for every record, run detections.
    Hunt(cmd::hunt::HuntArgs),
    /// Detection configuration: `config show` prints the documented defaults.
    Config(cmd::config::ConfigArgs),
    /// Validate tokens against a trust policy: a key signs only what it is bound to.
    Verify(cmd::verify::VerifyArgs),
    /// Write a labelled simulated tenant (real export shapes) and its truth.json.
    Simulate(cmd::simulate::SimulateArgs),
    /// Score a hunt output directory against a simulator's truth.json.
    Eval(cmd::eval::EvalArgs),
    /// Sigma rules: check which load (`rules check`), list what runs (`rules list`).
    Rules(cmd::rules::RulesArgs),
    /// Watch continuously: durable HTTP ingest, live detection, alert and incident API.
    Serve(cmd::serve::ServeArgs),
    /// Maintain `serve`'s store: `store backup` writes a consistent copy while it runs.
    Store(cmd::store::StoreArgs),
    /// Forward-auth for nginx, Traefik and Envoy: refuse forged tokens, log every decision.
    Gateway(cmd::gateway::GatewayArgs),
    /// Pull audit and sign-in logs from Microsoft's APIs, completely and exactly once.
    Collect(cmd::collect::CollectArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Hunt(args) => cmd::hunt::run(&args),
        Command::Config(args) => cmd::config::run(&args),
        Command::Verify(args) => cmd::verify::run(&args),
        Command::Simulate(args) => cmd::simulate::run(&args),
        Command::Eval(args) => cmd::eval::run(&args),
        Command::Rules(args) => cmd::rules::run(&args),
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Store(args) => cmd::store::run(&args),
        Command::Gateway(args) => cmd::gateway::run(&args),
        Command::Collect(args) => cmd::collect::run(&args),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("keywarden: error: {e:#}");
            std::process::exit(2);
        }
    }
}
