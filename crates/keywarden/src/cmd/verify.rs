//! `keywarden verify`: validate tokens against a trust policy (see `docs/TOKEN.md`).
//!
//! Contract: tokens from the arguments, or one per line on stdin. With `--json`, exactly one
//! JSON object per input token, in order, with the members `valid`, `reason`, `kid`, `alg`,
//! `iss`, `tid`, `aud`, `sub`, `exp` (null when they could not be read). Exit 0 when every token
//! is valid, 1 when any is rejected, 2 for a usage or policy error.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use keywarden_token::{Rejection, TokenSummary, TrustPolicy, Validator, parse_time, summarize};
use serde::Serialize;

use crate::term::{Style, escape};

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Trust policy file (TOML): issuers, tenants, audiences, algorithms and key sources.
    #[arg(long, value_name = "FILE")]
    pub trust: PathBuf,
    /// Validate as of this instant: unix seconds or RFC 3339 (default: the system clock).
    #[arg(long, value_name = "UNIX|RFC3339")]
    pub now: Option<String>,
    /// Print exactly one JSON object per token instead of an explanation.
    #[arg(long)]
    pub json: bool,
    /// Tokens to validate; when none are given, one token per line is read from stdin.
    #[arg(value_name = "TOKEN")]
    pub tokens: Vec<String>,
}

/// One line of `--json` output; member order is part of the contract.
#[derive(Serialize)]
struct Line<'a> {
    valid: bool,
    reason: &'a str,
    kid: Option<&'a str>,
    alg: Option<&'a str>,
    iss: Option<&'a str>,
    tid: Option<&'a str>,
    aud: Option<&'a serde_json::Value>,
    sub: Option<&'a str>,
    exp: Option<i64>,
}

fn usage(msg: &str) -> anyhow::Result<i32> {
    eprintln!("keywarden verify: {msg}");
    Ok(2)
}

fn read_stdin_tokens() -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if lock.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        let t = line.trim();
        if !t.is_empty() {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

pub(crate) fn run(args: &VerifyArgs) -> anyhow::Result<i32> {
    // The load time of remote key sets is the wall clock; verdicts are at `--now` when given.
    let wall = keywarden_server::Clock::now(&keywarden_server::SystemClock).unix_seconds();
    let now = match &args.now {
        None => wall,
        Some(s) => match parse_time(s) {
            Some(n) => n,
            None => return usage(&format!("--now {s:?} is neither unix seconds nor RFC 3339")),
        },
    };
    let policy = match TrustPolicy::from_file(&args.trust) {
        Ok(p) => p,
        Err(e) => {
            return usage(&format!(
                "trust policy: {}",
                keywarden_model::error_chain(&e)
            ));
        }
    };
    let validator = match Validator::from_policy(&policy, wall) {
        Ok(v) => v,
        Err(e) => {
            return usage(&format!(
                "trust policy: {}",
                keywarden_model::error_chain(&e)
            ));
        }
    };
    for w in validator.warnings() {
        eprintln!("keywarden verify: warning: {}", escape(&w.to_string()));
    }
    let tokens = if args.tokens.is_empty() {
        read_stdin_tokens()?
    } else {
        args.tokens.clone()
    };
    if tokens.is_empty() {
        return usage("no token given (pass tokens as arguments or one per line on stdin)");
    }
    let style = Style::stdout();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut valid, mut rejected) = (0usize, 0usize);
    for (i, token) in tokens.iter().enumerate() {
        let result = validator.validate_at(token, now);
        let summary = match &result {
            Ok(v) => v.summary(),
            Err(_) => summarize(token, validator.max_token_bytes()),
        };
        let reason = result.as_ref().err().map_or("ok", Rejection::code);
        if result.is_ok() {
            valid += 1;
        } else {
            rejected += 1;
        }
        if args.json {
            let line = Line {
                valid: result.is_ok(),
                reason,
                kid: summary.kid.as_deref(),
                alg: summary.alg.as_deref(),
                iss: summary.iss.as_deref(),
                tid: summary.tid.as_deref(),
                aud: summary.aud.as_ref(),
                sub: summary.sub.as_deref(),
                exp: summary.exp,
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        } else {
            human(&mut out, style, i + 1, &result, &summary)?;
        }
    }
    if !args.json {
        let total = valid + rejected;
        let noun = if total == 1 { "token" } else { "tokens" };
        writeln!(out, "{total} {noun}: {valid} valid, {rejected} rejected")?;
    }
    out.flush()?;
    Ok(if rejected == 0 { 0 } else { 1 })
}

fn human(
    out: &mut impl Write,
    style: Style,
    n: usize,
    result: &Result<keywarden_token::VerifiedToken, Rejection>,
    s: &TokenSummary,
) -> std::io::Result<()> {
    match result {
        Ok(v) => writeln!(
            out,
            "token {n}: {} signed by key {} ({}) of issuer block {}",
            style.green("VALID"),
            escape(&v.kid),
            v.alg,
            escape(&v.issuer_id)
        )?,
        Err(e) => writeln!(
            out,
            "token {n}: {} [{}] {}",
            style.red("REJECTED"),
            e.code(),
            escape(&e.to_string())
        )?,
    }
    let fields: [(&str, Option<String>); 7] = [
        ("kid", s.kid.clone()),
        ("alg", s.alg.clone()),
        ("iss", s.iss.clone()),
        ("tid", s.tid.clone()),
        (
            "aud",
            s.aud
                .as_ref()
                .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned)),
        ),
        ("sub", s.sub.clone()),
        ("exp", s.exp.map(|e| e.to_string())),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            writeln!(
                out,
                "  {} {}",
                style.dim(&format!("{name:>3}:")),
                escape(&v)
            )?;
        }
    }
    Ok(())
}
