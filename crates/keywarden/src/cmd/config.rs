//! `keywarden config show [--config FILE]`: the detection configuration with its documented
//! defaults, or the effective configuration a file produces (defaults filled in, checked).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use keywarden_detect::{DEFAULT_CONFIG, DetectConfig};

#[derive(clap::Args, Debug)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum ConfigCommand {
    /// Print the documented default configuration, or the effective one for `--config FILE`.
    Show {
        /// A configuration file to check and show with defaults filled in.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub(crate) fn run(args: &ConfigArgs) -> anyhow::Result<i32> {
    let ConfigCommand::Show { config } = &args.command;
    let text = match config {
        None => DEFAULT_CONFIG.to_string(),
        Some(path) => {
            let cfg = DetectConfig::from_file(path)?;
            let settings = cfg
                .build()
                .with_context(|| format!("checking {}", path.display()))?;
            let (ips, keys, first_party) = settings.intel.counts();
            format!(
                "# effective configuration from {} (defaults filled in)\n\
                 # intelligence loaded: {ips} IOC IPs, {keys} signing keys, {first_party} first-party app ids\n{}",
                path.display(),
                cfg.to_toml()
            )
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .context("writing to stdout")?;
    Ok(0)
}
