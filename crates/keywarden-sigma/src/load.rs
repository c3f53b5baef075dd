//! Rule loading: files and directories of Sigma YAML into a [`RuleSet`], with a
//! [`LoadReport`] that accounts for every document (`rules == loaded + unsupported + errors`).
//!
//! A document that cannot be parsed as Sigma (bad YAML, missing `detection`...) is an *error*;
//! one that parses but cannot run here (unknown modifier, a regex the engine rejects, a
//! correlation naming a rule that is not loaded...) is *unsupported*. Nothing is dropped
//! silently.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rsigma_eval::{CompiledRule, Engine, compile_rule, correlation::compile_correlation};
use rsigma_parser::{CorrelationRule, FilterRule, SigmaRule, parse_sigma_yaml};
use serde::Serialize;

use crate::error::SigmaError;

/// One detection rule that compiled.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The file it came from.
    pub path: String,
    pub rule: SigmaRule,
    pub compiled: CompiledRule,
}

/// One correlation rule (Sigma v2 `correlation:`) whose references resolve.
#[derive(Debug, Clone)]
pub struct LoadedCorrelation {
    pub path: String,
    pub rule: CorrelationRule,
}

/// One filter rule (`filter:` documents) that compiled.
#[derive(Debug, Clone)]
pub struct LoadedFilter {
    pub path: String,
    pub rule: FilterRule,
}

/// A rule that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

/// The account of a load: the `keywarden rules check --json` contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// Documents seen (detection, correlation and filter rules, and unparseable documents).
    pub rules: usize,
    pub loaded: usize,
    pub unsupported: Vec<Problem>,
    pub errors: Vec<Problem>,
}

/// Everything that loaded, plus the report.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<LoadedRule>,
    pub correlations: Vec<LoadedCorrelation>,
    pub filters: Vec<LoadedFilter>,
    pub report: LoadReport,
}

impl RuleSet {
    /// Loads every rule file under `paths` (directories recursively: `*.yml`, `*.yaml`; files
    /// given explicitly are read whatever their extension), in sorted path order.
    pub fn load(paths: &[PathBuf]) -> Result<RuleSet, SigmaError> {
        let mut files = Vec::new();
        for p in paths {
            collect_files(p, true, &mut files)?;
        }
        let mut set = RuleSet::default();
        for f in files {
            let name = f.display().to_string();
            match std::fs::read(&f) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => set.add_yaml(&name, &text),
                    Err(e) => set.file_error(&name, format!("not UTF-8: {e}")),
                },
                Err(e) => set.file_error(&name, format!("cannot read: {e}")),
            }
        }
        set.resolve_references();
        Ok(set)
    }

    /// Loads rules from YAML text (tests, fuzzing, the server). Correlation references are
    /// checked against this text's rules only.
    pub fn from_yaml(name: &str, text: &str) -> RuleSet {
        let mut set = RuleSet::default();
        set.add_yaml(name, text);
        set.resolve_references();
        set
    }

    /// Adds the documents of one YAML text.
    pub fn add_yaml(&mut self, name: &str, text: &str) {
        let collection = match parse_sigma_yaml(text) {
            Ok(c) => c,
            Err(e) => return self.parse_problem(name, e.to_string()),
        };
        for e in &collection.errors {
            self.parse_problem(name, e.clone());
        }
        for mut rule in collection.rules {
            self.report.rules += 1;
            crate::fixup::fix_rule(&mut rule);
            if let Some(why) = crate::fixup::too_wide(&rule) {
                self.unsupported(name, format!("{}: {why}", rule.title));
                continue;
            }
            match compile_rule(&rule) {
                Ok(compiled) => self.rules.push(LoadedRule {
                    path: name.to_string(),
                    rule,
                    compiled,
                }),
                Err(e) => self.unsupported(name, format!("{}: {e}", rule.title)),
            }
        }
        for rule in collection.correlations {
            self.report.rules += 1;
            match compile_correlation(&rule) {
                Ok(_) => self.correlations.push(LoadedCorrelation {
                    path: name.to_string(),
                    rule,
                }),
                Err(e) => self.unsupported(name, format!("{}: {e}", rule.title)),
            }
        }
        for rule in collection.filters {
            self.report.rules += 1;
            match Engine::new().apply_filter(&rule) {
                Ok(()) => self.filters.push(LoadedFilter {
                    path: name.to_string(),
                    rule,
                }),
                Err(e) => self.unsupported(name, format!("{}: {e}", rule.title)),
            }
        }
        self.recount();
    }

    /// Moves correlations that reference rules which are not loaded to `unsupported`
    /// (repeatedly, since correlations may reference correlations).
    pub fn resolve_references(&mut self) {
        loop {
            let known: HashSet<&str> = self
                .rules
                .iter()
                .flat_map(|r| [r.rule.id.as_deref(), r.rule.name.as_deref()])
                .chain(
                    self.correlations
                        .iter()
                        .flat_map(|c| [c.rule.id.as_deref(), c.rule.name.as_deref()]),
                )
                .flatten()
                .collect();
            let missing: Vec<(usize, String)> = self
                .correlations
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    c.rule
                        .rules
                        .iter()
                        .find(|r| !known.contains(r.as_str()))
                        .map(|r| (i, r.clone()))
                })
                .collect();
            if missing.is_empty() {
                break;
            }
            for (i, r) in missing.into_iter().rev() {
                let c = self.correlations.remove(i);
                self.report.unsupported.push(Problem {
                    path: c.path,
                    reason: format!("{}: unknown rule reference {r:?}", c.rule.title),
                });
            }
        }
        self.recount();
    }

    fn recount(&mut self) {
        self.report.loaded = self.rules.len() + self.correlations.len() + self.filters.len();
    }

    fn parse_problem(&mut self, name: &str, reason: String) {
        self.report.rules += 1;
        // The parser rejects unknown modifiers: the rule is valid Sigma we cannot run.
        if reason.starts_with("Unknown modifier") {
            self.unsupported(name, reason);
        } else {
            self.error(name, reason);
        }
    }

    fn unsupported(&mut self, name: &str, reason: String) {
        self.report.unsupported.push(Problem {
            path: name.to_string(),
            reason,
        });
    }

    fn error(&mut self, name: &str, reason: String) {
        self.report.errors.push(Problem {
            path: name.to_string(),
            reason,
        });
    }

    /// A file that could not be read at all counts as one document in error.
    fn file_error(&mut self, name: &str, reason: String) {
        self.report.rules += 1;
        self.error(name, reason);
    }
}

fn collect_files(path: &Path, explicit: bool, out: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
    let meta = std::fs::metadata(path).map_err(|source| SigmaError::RulePath {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|source| SigmaError::RulePath {
                path: path.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect_files(&e, false, out)?;
        }
    } else if explicit
        || path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
    {
        out.push(path.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "title: t\nid: r1\nlogsource: {product: windows}\ndetection:\n  sel: {a: 1}\n  condition: sel\n";

    #[test]
    fn counts_add_up_for_good_bad_and_unsupported() {
        let mut set = RuleSet::default();
        set.add_yaml("good.yml", GOOD);
        set.add_yaml("bad.yml", "title: [unclosed");
        set.add_yaml(
            "regex.yml",
            "title: r\nlogsource: {product: windows}\ndetection:\n  sel: {a|re: '(?<=x)y'}\n  condition: sel\n",
        );
        set.add_yaml(
            "modifier.yml",
            "title: m\nlogsource: {product: windows}\ndetection:\n  sel: {a|frobnicate: x}\n  condition: sel\n",
        );
        set.resolve_references();
        let r = &set.report;
        assert_eq!(r.loaded, 1);
        assert_eq!(r.rules, r.loaded + r.unsupported.len() + r.errors.len());
        assert_eq!(r.errors.len(), 1, "{r:?}");
        assert_eq!(r.unsupported.len(), 2, "{r:?}");
        assert!(
            r.unsupported
                .iter()
                .any(|p| p.reason.contains("frobnicate"))
        );
    }

    /// The `sigma_rule` fuzz target's fifth run: a 542-byte rule whose `|windash` value held six
    /// dashes took 531 MB to compile (rsigma expands to 5^n strings up to eight dashes). Such a
    /// rule is now unsupported, with the reason, and costs nothing; SigmaHQ's (two dashes at
    /// most) load as before.
    #[test]
    fn regression_a_windash_value_with_many_dashes_took_half_a_gigabyte_to_load() {
        let rule = |value: &str| {
            format!(
                "title: w\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    CommandLine|contains|windash: '{value}'\n  condition: sel\n"
            )
        };
        let mut set = RuleSet::default();
        set.add_yaml("wide.yml", &rule(" -c --sh-e Microsoft-Windows-AppLocker"));
        set.add_yaml("psexec.yml", &rule(" -s -i cmd"));
        set.resolve_references();
        let r = &set.report;
        assert_eq!(r.loaded, 1, "{r:?}");
        assert_eq!(r.unsupported.len(), 1, "{r:?}");
        assert!(r.unsupported[0].reason.contains("6 dashes"), "{r:?}");
        assert_eq!(r.rules, r.loaded + r.unsupported.len() + r.errors.len());
    }

    #[test]
    fn correlation_with_unknown_reference_is_unsupported() {
        let text = "title: c\ncorrelation:\n  type: event_count\n  rules: [nope]\n  group-by: [u]\n  timespan: 1m\n  condition: {gte: 2}\n";
        let set = RuleSet::from_yaml("c.yml", text);
        assert_eq!(set.report.loaded, 0);
        assert!(set.report.unsupported[0].reason.contains("nope"));
    }
}
