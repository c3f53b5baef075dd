//! `keywarden store`: maintenance of `serve`'s store. `store backup` writes a consistent copy
//! while the server runs (SQLite `VACUUM INTO` over one read transaction; the copy is checked
//! and counted before success is reported). All logic is in `keywarden-store`.

use std::path::PathBuf;

use anyhow::Context;
use keywarden_server::keywarden_store::StoreConfig;

#[derive(clap::Args, Debug)]
pub(crate) struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum StoreCommand {
    /// Write a consistent copy of the store to a new file (safe while `serve` runs).
    Backup(BackupArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct BackupArgs {
    /// The `serve --data-dir` whose store to copy.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The backup file to create (must not exist; created with mode 0600). Restore by stopping
    /// `serve` and putting it in place as DATA_DIR/keywarden.db (with no -wal/-shm beside it).
    #[arg(long)]
    pub out: PathBuf,
}

pub(crate) fn run(args: &StoreArgs) -> anyhow::Result<i32> {
    match &args.command {
        StoreCommand::Backup(b) => backup(b),
    }
}

fn backup(args: &BackupArgs) -> anyhow::Result<i32> {
    let store = StoreConfig::new(&args.data_dir)
        .open_existing()
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let report = store
        .backup_into(&args.out)
        .with_context(|| format!("backing up {}", store.path().display()))?;
    println!(
        "keywarden store backup: wrote {} ({} bytes, schema {}): {} batches, {} events, {} rejected records, {} alerts; integrity check ok",
        args.out.display(),
        report.bytes,
        report.schema_version,
        report.batches,
        report.events,
        report.rejected,
        report.alerts
    );
    Ok(0)
}
