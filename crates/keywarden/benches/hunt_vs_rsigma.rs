//! `keywarden hunt` with the detection pack and SigmaHQ's cloud rules against the `rsigma` 0.23
//! CLI on ONE Unified Audit Log JSON-lines file, side by side in one run (issue 3, "Speed":
//! target hunt + cloud rules at >= 5x rsigma's records/s on the same file, 2 cores).
//!
//! The file: `KW_BENCH_FILE` if set, else `keywarden simulate --shape ual-json` (5,200 users,
//! 10 days, the Storm-0558 intrusion staged: ~265 k records, ~530 MB) concatenated into one
//! file, plus two probe records that SigmaHQ cloud rules must match (MFA disabled, a federated
//! domain added), so that both engines are shown to match something.
//!
//! Timed, best of `ROUNDS` (default 2), each a separate process except (c) and (d):
//! (a) `keywarden hunt FILE --rules cloud --out TMP --threads THREADS` (default 2);
//! (b) `keywarden hunt FILE --out TMP` (the pack only);
//! (c) ingest only (library, `Discard`), the ceiling;
//! (d) ingest + the Sigma stage only (library, no pack): the Sigma share of (a), with the
//!     stage's gates on (as `hunt` runs) and off (every event to rsigma's engine);
//! (e) `rsigma engine eval -r cloud < FILE`, with its rule loading (an empty input) reported
//!     separately.
//! Peak RSS of each process comes from `/usr/bin/time -f %M` when present, else from polling
//! `VmHWM` in `/proc/<pid>/status`. Without `../shared` beside the checkout: "skipped", exit 0.
//! Run: `cargo bench -p keywarden --bench hunt_vs_rsigma` (env `THREADS`, `ROUNDS`, `USERS`,
//! `RSIGMA`, `KW_BENCH_FILE`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keywarden_ingest::{Discard, IngestConfig, Quiet, expand_inputs, ingest};
use keywarden_sigma::SigmaConfig;

/// The same allocator as the `keywarden` binary, so that the library passes measured here (ingest
/// only, the Sigma stage) compare fairly with the `hunt` processes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");
const KEYWARDEN: &str = env!("CARGO_BIN_EXE_keywarden");

/// Two UAL records that SigmaHQ cloud rules match (60de9b57..., 58f88172...).
const PROBES: &str = concat!(
    r#"{"CreationTime":"2023-06-12T09:05:00","Id":"5e0b7a6c-0000-4000-8000-00000000a001","Operation":"Disable Strong Authentication.","OrganizationId":"0d08a889-e871-4c06-9a16-ea55e3f5ade7","RecordType":8,"ResultStatus":"Success","UserKey":"00021803EA50FE42","UserType":0,"Version":1,"Workload":"AzureActiveDirectory","ClientIP":"198.51.100.1","ObjectId":"yara.kim0@contoso-2211.com","UserId":"yara.kim0@contoso-2211.com","AzureActiveDirectoryEventType":1}"#,
    "\n",
    r#"{"CreationTime":"2023-06-12T09:06:00","Id":"5e0b7a6c-0000-4000-8000-00000000a002","Operation":"Add domain to company.","OrganizationId":"0d08a889-e871-4c06-9a16-ea55e3f5ade7","RecordType":8,"ResultStatus":"Success","UserKey":"00021803EA50FE42","UserType":0,"Version":1,"Workload":"AzureActiveDirectory","ClientIP":"198.51.100.1","ObjectId":"fabrikam-login.com","UserId":"yara.kim0@contoso-2211.com","AzureActiveDirectoryEventType":1}"#,
    "\n"
);

/// One timed run: wall seconds, CPU seconds (user + system, if measured), peak RSS in MB (if
/// measured), stdout.
struct Run {
    secs: f64,
    cpu: Option<f64>,
    peak_mb: Option<f64>,
    stdout: Vec<u8>,
}

/// Runs `cmd` to completion, measuring wall time and peak RSS.
fn run(program: &str, args: &[OsString], stdin: Option<&Path>) -> Run {
    let time = Path::new("/usr/bin/time");
    let rss_file = std::env::temp_dir().join(format!("kw-bench-rss-{}", std::process::id()));
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("%M %U %S").arg("-o").arg(&rss_file);
        c.arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).expect("open the input for stdin"));
    }
    let t = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    // Read stdout on a thread so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut buf);
        buf
    });
    let mut polled: f64 = 0.0;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{cmd:?} failed: {status}");
            break;
        }
        polled = polled.max(vm_hwm_mb(pid).unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = t.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap_or_default();
    // `/usr/bin/time`'s last line: "<max RSS KB> <user s> <system s>".
    let timed: Vec<f64> = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.lines().last().map(str::to_string))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_file(&rss_file);
    let peak_mb = match timed.first() {
        Some(kb) => Some(kb / 1024.0),
        None => (polled > 0.0).then_some(polled),
    };
    let cpu = (timed.len() == 3).then(|| timed[1] + timed[2]);
    Run {
        secs,
        cpu,
        peak_mb,
        stdout,
    }
}

fn vm_hwm_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    kb.split_whitespace()
        .nth(1)?
        .parse::<f64>()
        .ok()
        .map(|kb| kb / 1024.0)
}

/// Best (shortest) of `rounds` runs; the peak RSS is the largest seen.
fn best(rounds: usize, mut f: impl FnMut() -> Run) -> Run {
    let mut best: Option<Run> = None;
    let mut peak: Option<f64> = None;
    for _ in 0..rounds.max(1) {
        let r = f();
        peak = match (peak, r.peak_mb) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if best.as_ref().is_none_or(|b| r.secs < b.secs) {
            best = Some(r);
        }
    }
    let mut b = best.expect("at least one round");
    b.peak_mb = peak;
    b
}

fn mb(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".into(), |m| format!("{m:.0} MB"))
}

fn cpu(c: Option<f64>) -> String {
    c.map_or_else(|| "n/a".into(), |c| format!("{c:.2} s"))
}

/// This process's CPU seconds so far (user + system; `/proc/self/stat` counts in USER_HZ
/// ticks, 100 per second on Linux).
fn self_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "n/a".into())
}

/// Writes the simulated tenant's UAL files as one JSON-lines file, probes appended.
fn generate(dir: &Path, users: u32) -> PathBuf {
    let sim = dir.join("sim");
    let status = Command::new(KEYWARDEN)
        .args(["simulate", "--shape", "ual-json", "--days", "10", "-q"])
        .arg("--users")
        .arg(users.to_string())
        .arg("--out")
        .arg(&sim)
        .arg("--truth")
        .arg(dir.join("truth.json"))
        .status()
        .expect("keywarden simulate runs");
    assert!(status.success(), "simulate failed");
    let mut parts: Vec<PathBuf> = std::fs::read_dir(sim.join("ual-json"))
        .expect("ual-json output")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    parts.sort();
    let file = dir.join("ual.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
    for p in &parts {
        let mut f = std::fs::File::open(p).expect("open part");
        std::io::copy(&mut f, &mut out).expect("concatenate");
    }
    out.write_all(PROBES.as_bytes()).expect("probes");
    out.flush().expect("flush");
    let _ = std::fs::remove_dir_all(&sim);
    file
}

/// Lines of a JSON-lines file.
fn count_lines(p: &Path) -> u64 {
    let f = BufReader::with_capacity(1 << 20, std::fs::File::open(p).expect("open"));
    f.split(b'\n')
        .filter(|l| l.as_ref().is_ok_and(|l| !l.is_empty()))
        .count() as u64
}

/// (all alerts, Sigma alerts) in a hunt output directory.
fn alerts(out: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(out.join("alerts.jsonl")).unwrap_or_default();
    let mut sigma = 0;
    let mut all = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        all += 1;
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        if v["evidence"]["engine"] == "sigma" {
            sigma += 1;
        }
    }
    (all, sigma)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rules = PathBuf::from(SHARED).join("sigma/rules/cloud");
    if !rules.is_dir() {
        println!("hunt_vs_rsigma: skipped ({} is absent)", rules.display());
        return;
    }
    let threads: usize = env_or("THREADS", 2);
    let rounds: usize = env_or("ROUNDS", 2);
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = match std::env::var_os("KW_BENCH_FILE") {
        Some(f) => PathBuf::from(f),
        None => {
            let t = Instant::now();
            let f = generate(tmp.path(), env_or("USERS", 5200));
            println!("generated in {:.1} s", t.elapsed().as_secs_f64());
            f
        }
    };
    let records = count_lines(&file);
    let bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
    println!(
        "file {}: {records} records, {:.0} MB; rules {}; {threads} threads; best of {rounds}",
        file.display(),
        bytes as f64 / 1e6,
        rules.display()
    );
    println!("load average at the start: {}", loadavg());
    let rate = |secs: f64| records as f64 / secs;

    let hunt = |with_rules: bool| {
        let out = tmp
            .path()
            .join(if with_rules { "out-rules" } else { "out-pack" });
        let r = best(rounds, || {
            let _ = std::fs::remove_dir_all(&out);
            let mut args: Vec<OsString> = vec!["hunt".into(), file.clone().into()];
            args.extend(["--out".into(), out.clone().into(), "-q".into()]);
            args.extend(["--threads".into(), threads.to_string().into()]);
            if with_rules {
                args.extend(["--rules".into(), rules.clone().into()]);
            }
            run(KEYWARDEN, &args, None)
        });
        (r, alerts(&out))
    };
    let (a, (a_alerts, a_sigma)) = hunt(true);
    println!(
        "(a) hunt + pack + cloud rules: {:.2} s = {:.0} records/s, CPU {}, peak RSS {}, {a_alerts} alerts ({a_sigma} Sigma)",
        a.secs,
        rate(a.secs),
        cpu(a.cpu),
        mb(a.peak_mb)
    );
    let (b, (b_alerts, _)) = hunt(false);
    println!(
        "(b) hunt + pack only:          {:.2} s = {:.0} records/s, CPU {}, peak RSS {}, {b_alerts} alerts",
        b.secs,
        rate(b.secs),
        cpu(b.cpu),
        mb(b.peak_mb)
    );

    let inputs = expand_inputs(std::slice::from_ref(&file)).expect("input");
    let cfg = IngestConfig {
        threads,
        ..IngestConfig::default()
    };
    let lib = |f: &mut dyn FnMut() -> u64| {
        best(rounds, || {
            let (t, c0) = (Instant::now(), self_cpu());
            let n = f();
            assert_eq!(n, records, "every record read as an event");
            Run {
                secs: t.elapsed().as_secs_f64(),
                cpu: self_cpu().zip(c0).map(|(b, a)| b - a),
                peak_mb: None,
                stdout: Vec::new(),
            }
        })
    };
    let c = lib(&mut || ingest(&inputs, &cfg, || Discard, &Quiet).0.events);
    println!(
        "(c) ingest only (library):     {:.2} s = {:.0} records/s, CPU {}",
        c.secs,
        rate(c.secs),
        cpu(c.cpu)
    );
    // The Sigma stage with its gates (as `hunt` runs it) and without (the engine sees every
    // event, as before the gates existed): the baseline of the gates' effect in this run.
    for gates in [true, false] {
        let mut stats = None;
        let d = lib(&mut || {
            let stage = SigmaConfig {
                rule_paths: vec![rules.clone()],
                ..SigmaConfig::default()
            }
            .build()
            .expect("rules load")
            .with_gates(gates);
            let (r, _) = ingest(&inputs, &cfg, || stage.processor(), &Quiet);
            stats = Some(stage.finish());
            r.events
        });
        let (alerts, gated) = stats.map_or((0, 0), |o| (o.alerts.len(), o.stats.gated));
        println!(
            "(d) ingest + Sigma stage, gates {} (library, rules loaded in the timing): {:.2} s = {:.0} records/s, CPU {} ({} over ingest only), {alerts} alerts, {gated} events gated",
            if gates { "on " } else { "off" },
            d.secs,
            rate(d.secs),
            cpu(d.cpu),
            cpu(d.cpu.zip(c.cpu).map(|(d, c)| d - c)),
        );
    }

    let rsigma = std::env::var("RSIGMA").unwrap_or_else(|_| "/tmp/rsigma/bin/rsigma".into());
    if !Path::new(&rsigma).exists() {
        println!("(e) rsigma: not found at {rsigma}; skipped");
        return;
    }
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, b"").expect("empty input");
    let eval = |input: &Path| {
        best(rounds, || {
            let mut args: Vec<OsString> = ["--output-format", "ndjson", "engine", "eval"]
                .into_iter()
                .map(OsString::from)
                .collect();
            args.extend(["--no-stats".into(), "-r".into(), rules.clone().into()]);
            run(&rsigma, &args, Some(input))
        })
    };
    let load = eval(&empty);
    let e = eval(&file);
    let matches = e
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let e_eval = (e.secs - load.secs).max(1e-6);
    println!(
        "(e) rsigma 0.23 CLI (1 core):  {:.2} s = {:.0} records/s end to end ({:.2} s loading rules; {:.0} records/s without), CPU {}, peak RSS {}, {matches} matches",
        e.secs,
        rate(e.secs),
        load.secs,
        rate(e_eval),
        cpu(e.cpu),
        mb(e.peak_mb)
    );
    println!(
        "ratio hunt+rules / rsigma (records/s, end to end): {:.2}x (target >= 5); pack only / rsigma {:.2}x; ingest only / rsigma {:.2}x",
        e.secs / a.secs,
        e.secs / b.secs,
        e.secs / c.secs
    );
    if let (Some(ec), Some(ac)) = (e.cpu, a.cpu) {
        println!(
            "CPU seconds rsigma / hunt+rules: {:.2}x (less sensitive to other load than wall time)",
            ec / ac
        );
    }
    println!(
        "load average at the end: {} (2 cores; other work on the machine skews wall times)",
        loadavg()
    );
    if matches == 0 || a_sigma == 0 {
        println!("WARNING: an engine matched nothing (rsigma {matches}, keywarden {a_sigma})");
    }
}
