//! The run: tenant, then each day's benign life plus the intrusion's share of it, written in
//! that day's shapes; then the truth.
//!
//! Three independent random streams from one seed (tenant, benign life, intrusion), so that
//! `--attack none` with the same seed yields the very same tenant and benign records, only
//! without the attacker's.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::activity::Activity;
use crate::attack;
use crate::benign::BenignWorld;
use crate::config::{Attack, Plan, SimConfig, SimError};
use crate::gaps::{self, Gaps};
use crate::takeover;
use crate::tenant::Tenant;
use crate::timefmt;
use crate::truth::Truth;
use crate::write::{self, WrittenFile};

const TENANT_STREAM: u64 = 1;
const BENIGN_STREAM: u64 = 2;
const ATTACK_STREAM: u64 = 3;
const DAEMON_STREAM: u64 = 4;

/// A configured simulation. `Simulation::new(&config)?.write_to(dir)?` is the whole API.
#[derive(Debug, Clone)]
pub struct Simulation {
    plan: Plan,
}

/// What a run wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    pub files: Vec<WrittenFile>,
    /// Records written, all files together.
    pub records: u64,
    /// Of which the attacker's.
    pub attacker_records: u64,
    #[serde(skip)]
    pub truth: Truth,
}

impl Simulation {
    pub fn new(config: &SimConfig) -> Result<Simulation, SimError> {
        Ok(Simulation {
            plan: config.build()?,
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Writes every log file under `dir` (created if missing) and returns the report with the
    /// truth; writing `truth.json` is the caller's choice of place (keep it out of `dir`, or
    /// `hunt dir` reads it as a log).
    pub fn write_to(&self, dir: &Path) -> Result<SimReport, SimError> {
        let plan = &self.plan;
        std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut tenant_rng = stream(plan.seed, TENANT_STREAM);
        let mut tenant = Tenant::generate(&mut tenant_rng, plan.users);
        // The takeover scenario's applications are added after the benign tenant is drawn,
        // so benign life is the same as with any other attack.
        let takeover_apps = matches!(plan.attack, Attack::AppTakeover | Attack::GoldenSaml)
            .then(|| takeover::register_apps(&mut tenant_rng, &mut tenant));
        // The app-only daemon (only with `--gap no-service-principal`) has its own stream, so
        // the rest of the tenant is the same with or without it.
        let mut daemon_rng = stream(plan.seed, DAEMON_STREAM);
        let daemon = plan
            .gaps
            .contains(&gaps::ExportGap::NoServicePrincipal)
            .then(|| crate::daemon::register(&mut daemon_rng, &mut tenant));
        let mut benign_rng = stream(plan.seed, BENIGN_STREAM);
        let mut world = BenignWorld::new(&mut benign_rng, &tenant, plan.days);
        let mut attack_rng = stream(plan.seed, ATTACK_STREAM);
        let (mut intrusion, confounders) = match (plan.attack, takeover_apps) {
            (Attack::Storm0558, _) => (
                attack::stage(&mut attack_rng, &tenant, plan.start, plan.days),
                Vec::new(),
            ),
            (Attack::AppTakeover | Attack::GoldenSaml, Some(apps)) => {
                let staged = takeover::stage(
                    &mut attack_rng,
                    &tenant,
                    apps,
                    plan.start,
                    plan.days,
                    plan.attack == Attack::GoldenSaml,
                );
                (staged.intrusion, staged.confounders)
            }
            _ => (Vec::new(), Vec::new()),
        };
        let gaps = Gaps {
            gaps: &plan.gaps,
            start: plan.start,
            kept_users: Gaps::touched_users(&intrusion),
        };
        gaps.age_attack(&mut intrusion);
        let mut files = Vec::new();
        let mut acts: Vec<Activity> = Vec::new();
        // Gap bookkeeping (only with --gap): later CAE uses, withheld sign-ins' tokens, and
        // (token, record id) of every benign token-bearing record written.
        let mut later: Vec<Activity> = Vec::new();
        let mut withheld: Vec<String> = Vec::new();
        let mut written: Vec<Activity> = Vec::new();
        // Everyone else's throttled mail records: throttling is the mailbox's (truth.rs).
        let mut throttled: Vec<Activity> = Vec::new();
        for day in 0..plan.days {
            let midnight = plan.start.plus_seconds(i64::from(day) * 86_400);
            let next = midnight.plus_seconds(86_400);
            acts.clear();
            world.day(&mut benign_rng, &tenant, day, midnight, &mut acts);
            if let Some(d) = &daemon {
                d.night(&mut daemon_rng, &tenant, midnight, &mut acts);
            }
            throttled.extend(
                acts.iter()
                    .filter(|a| matches!(a, Activity::Mail(m) if m.throttled))
                    .cloned(),
            );
            acts.extend(
                intrusion
                    .iter()
                    .chain(&confounders)
                    .filter(|a| midnight <= a.time() && a.time() < next)
                    .cloned(),
            );
            if !plan.gaps.is_empty() {
                later.extend(gaps.cae_uses(&acts));
                let (now, rest): (Vec<Activity>, Vec<Activity>) =
                    later.drain(..).partition(|a| a.time() < next);
                later = rest;
                acts.extend(now);
                for a in &acts {
                    if let Activity::SignIn(si) = a
                        && gaps.withholds(a)
                    {
                        withheld.push(si.token.id.clone());
                    }
                }
                acts.retain(|a| !gaps.withholds(a));
                gaps.strip_token_ids(&mut acts, &mut withheld);
                written.extend(
                    acts.iter()
                        .filter(|a| matches!(a, Activity::Mail(_) | Activity::Graph(_)))
                        .cloned(),
                );
            }
            acts.sort_by(|a, b| a.time().cmp(&b.time()).then_with(|| a.id().cmp(b.id())));
            files.extend(write::write_day(
                dir,
                &tenant,
                midnight,
                plan.ual_shape(day),
                plan.signin_shape(day),
                plan.gzip,
                &acts,
            )?);
        }
        let records = files.iter().map(|f| f.records).sum();
        let mut truth = Truth::from_attack(
            self.generator_json(),
            &tenant,
            records,
            &intrusion,
            &throttled,
        );
        withheld.sort();
        withheld.dedup();
        truth.unjudgeable_record_ids = gaps::unjudgeable(&written, &withheld);
        Ok(SimReport {
            files,
            records,
            attacker_records: truth.attacker_record_ids.len() as u64,
            truth,
        })
    }

    /// The settings as recorded in `truth.json`.
    fn generator_json(&self) -> serde_json::Value {
        let p = &self.plan;
        let mut g = serde_json::json!({
            "seed": p.seed,
            "users": p.users,
            "days": p.days,
            "start": timefmt::date(p.start),
            "attack": p.attack.as_str(),
            "ual_shapes": p.ual_shapes,
            "signin_shapes": p.signin_shapes,
            "gzip": p.gzip,
        });
        if !p.gaps.is_empty() {
            g["export_gaps"] = serde_json::json!(p.gaps);
        }
        g
    }
}

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}
