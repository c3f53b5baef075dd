//! What to simulate: [`SimConfig`] (plain data, what the CLI fills) and its validated runtime
//! form [`Plan`] built by [`SimConfig::build`].

use std::fmt;
use std::str::FromStr;

use keywarden_model::Timestamp;
use serde::Serialize;

use crate::gaps::ExportGap;
use crate::timefmt;

/// The intrusion to stage, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Attack {
    /// A clean tenant: nothing may raise a high or critical alert.
    None,
    /// Forged tokens reading mail (Bind, Sync, throttling) from IOC or fresh IPs.
    Storm0558,
    /// A credential and a mail permission added to an app, which then reads mailboxes.
    AppTakeover,
    /// The same, after a domain federation change (a Golden SAML actor's persistence).
    GoldenSaml,
}

impl Attack {
    pub fn as_str(self) -> &'static str {
        match self {
            Attack::None => "none",
            Attack::Storm0558 => "storm-0558",
            Attack::AppTakeover => "app-takeover",
            Attack::GoldenSaml => "golden-saml",
        }
    }
}

impl FromStr for Attack {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Attack::None),
            "storm-0558" => Ok(Attack::Storm0558),
            "app-takeover" => Ok(Attack::AppTakeover),
            "golden-saml" => Ok(Attack::GoldenSaml),
            _ => Err(SimError::UnknownAttack { given: s.into() }),
        }
    }
}

/// One export shape the simulator can write. Names are `keywarden_ingest::Format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Shape {
    /// Unified Audit Log, Management Activity API JSON lines.
    UalJson,
    /// Unified Audit Log, Purview audit search CSV (8 columns, BOM, locale dates).
    PurviewCsv,
    /// Unified Audit Log as Sentinel `OfficeActivity` rows (JSON lines).
    SentinelOfficeActivity,
    /// Entra sign-ins as Graph `auditLogs/signIns` pages (one page per file).
    SigninGraph,
    /// Entra sign-ins as diagnostic-settings records (`category` + `properties`), JSON lines.
    AzureDiagnostic,
}

impl Shape {
    pub const ALL: [Shape; 5] = [
        Shape::UalJson,
        Shape::PurviewCsv,
        Shape::SentinelOfficeActivity,
        Shape::SigninGraph,
        Shape::AzureDiagnostic,
    ];
    pub const UAL: [Shape; 3] = [
        Shape::UalJson,
        Shape::PurviewCsv,
        Shape::SentinelOfficeActivity,
    ];
    pub const SIGN_IN: [Shape; 2] = [Shape::SigninGraph, Shape::AzureDiagnostic];

    pub fn as_str(self) -> &'static str {
        match self {
            Shape::UalJson => "ual-json",
            Shape::PurviewCsv => "purview-csv",
            Shape::SentinelOfficeActivity => "sentinel-office-activity",
            Shape::SigninGraph => "signin-graph",
            Shape::AzureDiagnostic => "azure-diagnostic",
        }
    }

    pub fn is_ual(self) -> bool {
        Shape::UAL.contains(&self)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Shape {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Shape::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| SimError::UnknownShape { given: s.into() })
    }
}

/// Everything that can go wrong configuring or writing a simulation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error("unknown attack {given:?}; known: none, storm-0558, app-takeover, golden-saml")]
    UnknownAttack { given: String },
    #[error(
        "unknown shape {given:?}; known: ual-json, purview-csv, sentinel-office-activity, signin-graph, azure-diagnostic"
    )]
    UnknownShape { given: String },
    #[error(
        "unknown export gap {given:?}; known: interactive-only, missing-day, one-resource, mid-session, replayed-token, user-filtered, no-service-principal, no-token-ids"
    )]
    UnknownGap { given: String },
    #[error("--users must be between {min} and {max}, got {given}")]
    Users { given: u32, min: u32, max: u32 },
    #[error("--days must be between {min} and {max}, got {given}")]
    Days { given: u32, min: u32, max: u32 },
    #[error("start date {given:?} is not YYYY-MM-DD")]
    Start { given: String },
    #[error("writing {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding a record for {path}")]
    Encode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A simulation request: plain values, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seed of the only random number generator: same seed, same bytes.
    pub seed: u64,
    pub users: u32,
    pub days: u32,
    /// First simulated day, `YYYY-MM-DD` (UTC). The default sits inside the Storm-0558 IOC
    /// windows so that IOC IPs can be used in their windows.
    pub start: String,
    pub attack: Attack,
    /// Shapes to write. Empty means all. Each log family (UAL, sign-ins) uses the listed shapes
    /// of its family in turn, one per day; a family with none listed uses all of its shapes.
    pub shapes: Vec<Shape>,
    /// Gzip every file (`.gz`), as exports are often shipped.
    pub gzip: bool,
    /// Export gaps to simulate (see [`crate::gaps`]).
    pub gaps: Vec<ExportGap>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            users: 20,
            days: 10,
            start: "2023-06-05".into(),
            attack: Attack::Storm0558,
            shapes: Vec::new(),
            gzip: false,
            gaps: Vec::new(),
        }
    }
}

/// Smallest and largest tenants accepted.
pub const USERS: (u32, u32) = (4, 200_000);
/// Shortest and longest periods accepted (the intrusion needs a baseline week before it).
pub const DAYS: (u32, u32) = (8, 366);

/// A validated [`SimConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub seed: u64,
    pub users: u32,
    pub days: u32,
    pub start: Timestamp,
    pub attack: Attack,
    pub ual_shapes: Vec<Shape>,
    pub signin_shapes: Vec<Shape>,
    pub gzip: bool,
    pub gaps: Vec<ExportGap>,
}

impl SimConfig {
    pub fn build(&self) -> Result<Plan, SimError> {
        if !(USERS.0..=USERS.1).contains(&self.users) {
            return Err(SimError::Users {
                given: self.users,
                min: USERS.0,
                max: USERS.1,
            });
        }
        if !(DAYS.0..=DAYS.1).contains(&self.days) {
            return Err(SimError::Days {
                given: self.days,
                min: DAYS.0,
                max: DAYS.1,
            });
        }
        let start = timefmt::parse_date(&self.start).ok_or_else(|| SimError::Start {
            given: self.start.clone(),
        })?;
        let pick = |family: &[Shape]| -> Vec<Shape> {
            let mut chosen: Vec<Shape> = family
                .iter()
                .copied()
                .filter(|s| self.shapes.contains(s))
                .collect();
            if chosen.is_empty() {
                chosen = family.to_vec();
            }
            chosen
        };
        Ok(Plan {
            seed: self.seed,
            users: self.users,
            days: self.days,
            start,
            attack: self.attack,
            ual_shapes: pick(&Shape::UAL),
            signin_shapes: pick(&Shape::SIGN_IN),
            gzip: self.gzip,
            gaps: {
                let mut g = self.gaps.clone();
                g.sort();
                g.dedup();
                g
            },
        })
    }
}

impl Plan {
    /// The UAL shape written on day `day` (0-based).
    pub fn ual_shape(&self, day: u32) -> Shape {
        rotate(&self.ual_shapes, day, Shape::UalJson)
    }

    /// The sign-in shape written on day `day` (0-based).
    pub fn signin_shape(&self, day: u32) -> Shape {
        rotate(&self.signin_shapes, day, Shape::SigninGraph)
    }
}

fn rotate(list: &[Shape], day: u32, fallback: Shape) -> Shape {
    if list.is_empty() {
        return fallback;
    }
    list.get(day as usize % list.len())
        .copied()
        .unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_default_per_family_and_rotate_by_day() {
        let cfg = SimConfig {
            shapes: vec![Shape::PurviewCsv],
            ..SimConfig::default()
        };
        let plan = cfg.build().unwrap();
        assert_eq!(plan.ual_shapes, vec![Shape::PurviewCsv]);
        assert_eq!(plan.signin_shapes, Shape::SIGN_IN.to_vec());
        assert_eq!(plan.signin_shape(0), Shape::SigninGraph);
        assert_eq!(plan.signin_shape(1), Shape::AzureDiagnostic);
        assert_eq!(plan.ual_shape(5), Shape::PurviewCsv);
    }

    #[test]
    fn rejects_bad_values_with_evidence() {
        let bad = SimConfig {
            days: 3,
            ..SimConfig::default()
        };
        assert!(matches!(bad.build(), Err(SimError::Days { given: 3, .. })));
        let bad = SimConfig {
            start: "2023-13-01".into(),
            ..SimConfig::default()
        };
        assert!(matches!(bad.build(), Err(SimError::Start { .. })));
        assert!("storm".parse::<Attack>().is_err());
        assert_eq!("purview-csv".parse::<Shape>().unwrap(), Shape::PurviewCsv);
    }
}
