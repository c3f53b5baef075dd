//! `keywarden rules`: load Sigma rules and report what can run (`check`), or show what would
//! run (`list`, with logsource, level and tag filters).

use std::path::PathBuf;

use keywarden_model::Severity;
use keywarden_sigma::{LogsourceFilter, Routing, RuleSet, alert::level_name};
use serde::Serialize;

use crate::term::{Style, escape};

#[derive(clap::Args, Debug)]
pub(crate) struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum RulesCommand {
    /// Load rules and report each one that cannot run, with its reason. Exit status 1 when
    /// any rule is unsupported or in error.
    Check(CheckArgs),
    /// List the rules that load, with the logsource targets each runs on.
    List(ListArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct CheckArgs {
    /// Rule files or directories (recursively, `*.yml`/`*.yaml`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON object: {"rules", "loaded", "unsupported", "errors"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    /// Rule files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Only rules of this logsource: `name` (product, service or category) or
    /// `product=..,service=..,category=..`.
    #[arg(long)]
    pub logsource: Option<String>,
    /// Only rules of this level (`high`), or of at least this level (`high+`).
    #[arg(long)]
    pub level: Option<String>,
    /// Only rules with a tag starting with this (`attack.t1059`, `attack.execution`).
    #[arg(long)]
    pub tag: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: &RulesArgs) -> anyhow::Result<i32> {
    match &args.command {
        RulesCommand::Check(a) => check(a),
        RulesCommand::List(a) => list(a),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<i32> {
    let set = RuleSet::load(&args.paths)?;
    let r = &set.report;
    if args.json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        let st = Style::stdout();
        println!(
            "{} {} rules: {} loaded, {} unsupported, {} errors",
            st.bold("keywarden rules check:"),
            r.rules,
            st.green(&r.loaded.to_string()),
            r.unsupported.len(),
            r.errors.len()
        );
        for p in &r.unsupported {
            println!(
                "  {} {}: {}",
                st.yellow("unsupported"),
                escape(&p.path),
                escape(&p.reason)
            );
        }
        for p in &r.errors {
            println!(
                "  {} {}: {}",
                st.red("error"),
                escape(&p.path),
                escape(&p.reason)
            );
        }
    }
    Ok(if r.unsupported.is_empty() && r.errors.is_empty() {
        0
    } else {
        1
    })
}

/// One line of `rules list --json`.
#[derive(Serialize)]
struct Listed<'a> {
    id: Option<&'a str>,
    title: &'a str,
    kind: &'static str,
    level: Option<&'static str>,
    product: Option<&'a str>,
    service: Option<&'a str>,
    category: Option<&'a str>,
    tags: &'a [String],
    /// Routing targets the rule runs on besides generic JSON.
    runs_on: Vec<&'a str>,
    path: &'a str,
}

fn list(args: &ListArgs) -> anyhow::Result<i32> {
    let set = RuleSet::load(&args.paths)?;
    let routing = Routing::builtin()?;
    let filter = args
        .logsource
        .as_deref()
        .map(LogsourceFilter::parse)
        .transpose()?;
    let level = args.level.as_deref().map(LevelFilter::parse).transpose()?;
    let tag = args.tag.as_deref().map(str::to_ascii_lowercase);
    let mut rows = Vec::new();
    for r in &set.rules {
        let ls = &r.rule.logsource;
        if filter.as_ref().is_some_and(|f| !f.admits(ls)) {
            continue;
        }
        if level
            .as_ref()
            .is_some_and(|l| !l.admits(r.rule.level.map(keywarden_sigma::alert::severity_of)))
        {
            continue;
        }
        if tag.as_deref().is_some_and(|t| {
            !r.rule
                .tags
                .iter()
                .any(|x| x.to_ascii_lowercase().starts_with(t))
        }) {
            continue;
        }
        let runs_on = routing
            .targets()
            .iter()
            .filter(|t| !t.generic && t.admits(ls))
            .map(|t| t.name.as_str())
            .collect();
        rows.push(Listed {
            id: r.rule.id.as_deref(),
            title: &r.rule.title,
            kind: "detection",
            level: r.rule.level.map(level_name),
            product: ls.product.as_deref(),
            service: ls.service.as_deref(),
            category: ls.category.as_deref(),
            tags: &r.rule.tags,
            runs_on,
            path: &r.path,
        });
    }
    if filter.is_none() {
        for c in &set.correlations {
            if level
                .as_ref()
                .is_some_and(|l| !l.admits(c.rule.level.map(keywarden_sigma::alert::severity_of)))
            {
                continue;
            }
            if tag.as_deref().is_some_and(|t| {
                !c.rule
                    .tags
                    .iter()
                    .any(|x| x.to_ascii_lowercase().starts_with(t))
            }) {
                continue;
            }
            rows.push(Listed {
                id: c.rule.id.as_deref(),
                title: &c.rule.title,
                kind: "correlation",
                level: c.rule.level.map(level_name),
                product: None,
                service: None,
                category: None,
                tags: &c.rule.tags,
                runs_on: Vec::new(),
                path: &c.path,
            });
        }
    }
    if args.json {
        for row in &rows {
            println!("{}", serde_json::to_string(row)?);
        }
        return Ok(0);
    }
    let st = Style::stdout();
    for row in &rows {
        let logsource = [row.product, row.service, row.category]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let runs = if row.runs_on.is_empty() {
            "generic JSON only".to_string()
        } else if row.runs_on.len() > 3 {
            format!("{} targets", row.runs_on.len())
        } else {
            row.runs_on.join(", ")
        };
        println!(
            "{:<36} {:<13} {:<34} {}  {}",
            escape(row.id.unwrap_or("-")),
            row.level.unwrap_or("-"),
            escape(if logsource.is_empty() {
                row.kind
            } else {
                &logsource
            }),
            escape(row.title),
            st.dim(&format!("[{}]", escape(&runs)))
        );
    }
    println!("{} rules", rows.len());
    Ok(0)
}

/// `--level high` (exactly) or `--level high+` (at least).
struct LevelFilter {
    level: Severity,
    at_least: bool,
}

impl LevelFilter {
    fn parse(s: &str) -> anyhow::Result<LevelFilter> {
        let (name, at_least) = match s.strip_suffix('+') {
            Some(n) => (n, true),
            None => (s, false),
        };
        let level = Severity::parse(name).ok_or_else(|| {
            anyhow::anyhow!("unknown level {s:?} (informational, low, medium, high, critical, with an optional +)")
        })?;
        Ok(LevelFilter { level, at_least })
    }

    fn admits(&self, level: Option<Severity>) -> bool {
        match level {
            Some(l) if self.at_least => l >= self.level,
            Some(l) => l == self.level,
            None => false,
        }
    }
}
