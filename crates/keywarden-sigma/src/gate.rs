//! The gate: a cheap, exact pre-filter in front of one routing target's rsigma engine.
//!
//! For every rule the engine holds, [`Gate::build`] derives from its compiled condition a set
//! of *atoms* (a field and one of the rule's own compiled matchers) such that the rule can only
//! match an event on which at least one atom holds: `a and not b` needs an atom of `a`,
//! `a or b` needs one of `a`'s or of `b`'s, a selection (an AND of field items) needs its item on
//! the field most rules share (`Operation`, `eventSource`...). An atom is evaluated exactly as
//! rsigma evaluates that detection item (the same `get_field` view, the same matcher), so
//! "no atom holds" proves that no rule matches and the engine is not called at all.
//!
//! Where a rule gives no such atom (keywords, `not` alone, `|exists`, `field: null`, array
//! blocks) or the union grows past [`MAX_ATOMS`] / [`MAX_FIELDS`] (Windows `process_creation`,
//! where rsigma's Aho-Corasick index is the better filter), the target has no gate. On SigmaHQ's
//! M365 rules the gate is 4 `Operation` and 2 `eventSource` atoms.

use std::borrow::Cow;
use std::collections::HashMap;

use rsigma_eval::matcher::{GroupMode, ascii_lowercase_cow};
use rsigma_eval::{CompiledDetection, CompiledMatcher, CompiledRule, Event, EventValue};
use rsigma_parser::{ConditionExpr, Quantifier};

/// Most distinct atoms a gate may hold before it costs more than it saves.
pub const MAX_ATOMS: usize = 64;
/// Most distinct fields a gate may look up per event.
pub const MAX_FIELDS: usize = 8;

/// One field and the matchers any of which must hold on it.
#[derive(Debug, Clone)]
struct GateField {
    field: String,
    matchers: Vec<CompiledMatcher>,
}

/// The pre-filter of one engine; see the module documentation.
#[derive(Debug, Clone)]
pub struct Gate {
    fields: Vec<GateField>,
}

/// A field item that must hold for a detection to match.
type Atom<'r> = (&'r str, &'r CompiledMatcher);

impl Gate {
    /// The gate of an engine holding `rules`, or `None` when some rule cannot be gated or the
    /// gate would be too large (the engine then sees every event).
    pub fn build(rules: &[CompiledRule]) -> Option<Gate> {
        let mut freq: HashMap<&str, usize> = HashMap::new();
        for r in rules {
            for d in r.detections.values() {
                count_fields(d, &mut freq);
            }
        }
        let mut fields: Vec<GateField> = Vec::new();
        let mut seen: Vec<(usize, String)> = Vec::new();
        for r in rules {
            for (field, matcher) in rule_atoms(r, &freq)? {
                let idx = match fields.iter().position(|f| f.field == field) {
                    Some(i) => i,
                    None => {
                        fields.push(GateField {
                            field: field.to_string(),
                            matchers: Vec::new(),
                        });
                        fields.len() - 1
                    }
                };
                // Identical plain string atoms of different rules are checked once.
                let key = if cost(matcher) < OPAQUE {
                    format!("{matcher:?}")
                } else {
                    String::new()
                };
                if !key.is_empty() && seen.iter().any(|(i, k)| *i == idx && *k == key) {
                    continue;
                }
                seen.push((idx, key));
                if seen.len() > MAX_ATOMS || fields.len() > MAX_FIELDS {
                    return None;
                }
                fields[idx].matchers.push(matcher.clone());
            }
        }
        Some(Gate { fields })
    }

    /// Whether some rule of the engine could match `event` (false: none can).
    pub fn admits(&self, event: &impl Event) -> bool {
        self.fields.iter().any(|f| {
            let Some(v) = event.get_field(&f.field) else {
                return false;
            };
            match &v {
                // A string value is lowered once for all of the field's case-insensitive
                // matchers (rsigma lowers it again in each one).
                EventValue::Str(s) => {
                    let mut lower: Option<Cow<'_, str>> = None;
                    f.matchers.iter().any(|m| {
                        string_match(m, s, &mut lower).unwrap_or_else(|| m.matches(&v, event))
                    })
                }
                _ => f.matchers.iter().any(|m| m.matches(&v, event)),
            }
        })
    }

    /// Distinct atoms (for tests and diagnostics).
    pub fn atoms(&self) -> usize {
        self.fields.iter().map(|f| f.matchers.len()).sum()
    }

    /// The fields the gate looks up, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.field.as_str())
    }
}

/// rsigma's plain string matchers (and case-insensitive groups of them) on a string value, with
/// rsigma's comparison: the value lowered once by rsigma's own `ascii_lowercase_cow` against the
/// stored, already lowered literal when case insensitive. `None` for any other matcher.
fn string_match<'s>(
    m: &CompiledMatcher,
    s: &'s str,
    lower: &mut Option<Cow<'s, str>>,
) -> Option<bool> {
    if let CompiledMatcher::CaseInsensitiveGroup { children, mode } = m {
        // rsigma compares every child with the lowered value; only plain case-insensitive
        // children are taken here (for which `string_match` always answers).
        if !children.iter().all(is_case_insensitive) {
            return None;
        }
        let mut holds = |c: &CompiledMatcher| string_match(c, s, lower) == Some(true);
        return Some(match mode {
            GroupMode::Any => children.iter().any(&mut holds),
            GroupMode::All => children.iter().all(&mut holds),
        });
    }
    let (value, ci) = match m {
        CompiledMatcher::Exact {
            value,
            case_insensitive,
        }
        | CompiledMatcher::Contains {
            value,
            case_insensitive,
        }
        | CompiledMatcher::StartsWith {
            value,
            case_insensitive,
        }
        | CompiledMatcher::EndsWith {
            value,
            case_insensitive,
        } => (value.as_str(), *case_insensitive),
        _ => return None,
    };
    let h: &str = if ci {
        lower.get_or_insert_with(|| ascii_lowercase_cow(s))
    } else {
        s
    };
    Some(match m {
        CompiledMatcher::Exact { .. } => h == value,
        CompiledMatcher::Contains { .. } => contains(h, value),
        CompiledMatcher::StartsWith { .. } => h.starts_with(value),
        _ => h.ends_with(value),
    })
}

fn is_case_insensitive(m: &CompiledMatcher) -> bool {
    matches!(
        m,
        CompiledMatcher::Exact {
            case_insensitive: true,
            ..
        } | CompiledMatcher::Contains {
            case_insensitive: true,
            ..
        } | CompiledMatcher::StartsWith {
            case_insensitive: true,
            ..
        } | CompiledMatcher::EndsWith {
            case_insensitive: true,
            ..
        }
    )
}

/// `h.contains(needle)`, jumping between occurrences of the needle's first character (a
/// `memchr` scan) instead of setting up a two-way searcher per call.
fn contains(h: &str, needle: &str) -> bool {
    let Some(first) = needle.chars().next() else {
        return true;
    };
    let mut from = 0;
    while let Some(i) = h.get(from..).and_then(|rest| rest.find(first)) {
        let at = from + i;
        if h.get(at..).is_some_and(|rest| rest.starts_with(needle)) {
            return true;
        }
        from = at + first.len_utf8();
    }
    false
}

/// Relative cost of checking a matcher, to keep the cheapest of equally narrow atom sets.
fn cost(m: &CompiledMatcher) -> usize {
    match m {
        CompiledMatcher::Exact { .. } => 1,
        CompiledMatcher::StartsWith { .. } | CompiledMatcher::EndsWith { .. } => 2,
        CompiledMatcher::Contains { .. } => 3,
        CompiledMatcher::CaseInsensitiveGroup { children, .. } => {
            children.iter().map(cost).sum::<usize>() + 1
        }
        _ => OPAQUE,
    }
}

/// The cost of any matcher other than the plain string ones.
const OPAQUE: usize = 10;

/// A detection item usable as an atom: a field present and the matcher holding on its value.
/// `|exists` items and a bare `null` matcher (true on an absent field) are not.
fn atom_item(item: &rsigma_eval::CompiledDetectionItem) -> Option<Atom<'_>> {
    if item.exists.is_some() || matches!(item.matcher, CompiledMatcher::Null) {
        return None;
    }
    Some((item.field.as_deref()?, &item.matcher))
}

fn count_fields<'r>(d: &'r CompiledDetection, freq: &mut HashMap<&'r str, usize>) {
    match d {
        CompiledDetection::AllOf(items) => {
            for (f, _) in items.iter().filter_map(atom_item) {
                *freq.entry(f).or_default() += 1;
            }
        }
        CompiledDetection::AnyOf(ds) | CompiledDetection::And(ds) => {
            ds.iter().for_each(|d| count_fields(d, freq));
        }
        _ => {}
    }
}

/// Atoms of a rule: it matches when any of its conditions does.
fn rule_atoms<'r>(rule: &'r CompiledRule, freq: &HashMap<&str, usize>) -> Option<Vec<Atom<'r>>> {
    if rule.conditions.is_empty() {
        return None;
    }
    union(rule.conditions.iter().map(|c| cond_atoms(c, rule, freq)))
}

/// All parts must be gated: any of them matching makes the whole match.
fn union<'r>(parts: impl Iterator<Item = Option<Vec<Atom<'r>>>>) -> Option<Vec<Atom<'r>>> {
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Some(out)
}

/// One gated part suffices when every part must match; the smallest (then cheapest) is kept.
fn narrowest<'r>(parts: impl Iterator<Item = Option<Vec<Atom<'r>>>>) -> Option<Vec<Atom<'r>>> {
    parts.flatten().min_by_key(|atoms| {
        (
            atoms.len(),
            atoms.iter().map(|(_, m)| cost(m)).sum::<usize>(),
        )
    })
}

fn cond_atoms<'r>(
    expr: &ConditionExpr,
    rule: &'r CompiledRule,
    freq: &HashMap<&str, usize>,
) -> Option<Vec<Atom<'r>>> {
    match expr {
        // A missing detection evaluates to false: it needs nothing that can hold.
        ConditionExpr::Identifier(name) => rule
            .detections
            .get(name)
            .map_or(Some(Vec::new()), |d| det_atoms(d, freq)),
        ConditionExpr::And(es) => narrowest(es.iter().map(|e| cond_atoms(e, rule, freq))),
        ConditionExpr::Or(es) => union(es.iter().map(|e| cond_atoms(e, rule, freq))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let named = rule
                .detections
                .iter()
                .filter(|(n, _)| pattern.matches_detection_name(n))
                .map(|(_, d)| det_atoms(d, freq));
            match quantifier {
                Quantifier::Any => union(named),
                Quantifier::Count(n) if *n >= 1 => union(named),
                Quantifier::Count(_) => None,
                // `all of` an empty set holds on every event.
                Quantifier::All => {
                    let named: Vec<_> = named.collect();
                    if named.is_empty() {
                        None
                    } else {
                        narrowest(named.into_iter())
                    }
                }
            }
        }
    }
}

fn det_atoms<'r>(d: &'r CompiledDetection, freq: &HashMap<&str, usize>) -> Option<Vec<Atom<'r>>> {
    match d {
        CompiledDetection::AllOf(items) => items
            .iter()
            .filter_map(atom_item)
            .enumerate()
            // The most shared field wins (then the cheapest matcher, then the first item), so
            // rules share lookups.
            .max_by_key(|(i, (f, m))| {
                let shared = freq.get(f).copied().unwrap_or(0);
                (shared, usize::MAX - cost(m), usize::MAX - i)
            })
            .map(|(_, a)| vec![a]),
        CompiledDetection::AnyOf(ds) => union(ds.iter().map(|d| det_atoms(d, freq))),
        CompiledDetection::And(ds) if !ds.is_empty() => {
            narrowest(ds.iter().map(|d| det_atoms(d, freq)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsigma_eval::JsonEvent;
    use serde_json::json;

    fn compiled(yaml: &str) -> Vec<CompiledRule> {
        let c = rsigma_parser::parse_sigma_yaml(yaml).expect("yaml");
        c.rules
            .iter()
            .map(|r| rsigma_eval::compile_rule(r).expect("compile"))
            .collect()
    }

    fn rule(detection: &str) -> String {
        format!("title: t\nlogsource:\n    product: m365\ndetection:\n{detection}\n")
    }

    #[test]
    fn selection_and_filter_gate_on_the_selection() {
        let rules = compiled(&rule(
            "    sel:\n        Operation: UserLoggedIn\n        ResultStatus: Success\n    filter:\n        ObjectId: x\n    condition: sel and not filter",
        ));
        let g = Gate::build(&rules).expect("gated");
        assert_eq!(g.atoms(), 1);
        let v = json!({"Operation": "userloggedin", "ResultStatus": "Failed"});
        assert!(
            g.admits(&JsonEvent::borrow(&v)),
            "the atom holds, the rule may not"
        );
        let v = json!({"Operation": "MailItemsAccessed", "ResultStatus": "Success"});
        assert!(!g.admits(&JsonEvent::borrow(&v)));
        assert!(!g.admits(&JsonEvent::borrow(&json!({"ResultStatus": "Success"}))));
    }

    #[test]
    fn one_of_and_contains_union_every_branch() {
        let rules = compiled(&rule(
            "    selection_a:\n        Operation|contains: domain\n    selection_b:\n        eventName|startswith: Add-\n    condition: 1 of selection_*",
        ));
        let g = Gate::build(&rules).expect("gated");
        assert_eq!(g.atoms(), 2);
        assert!(g.admits(&JsonEvent::borrow(&json!({"eventName": "add-x"}))));
        assert!(g.admits(&JsonEvent::borrow(&json!({"Operation": "Add domain."}))));
        assert!(!g.admits(&JsonEvent::borrow(&json!({"Operation": "Set-Mailbox"}))));
    }

    #[test]
    fn string_fast_path_agrees_with_rsigma() {
        // Through an engine, as the stage builds it: its optimiser groups `contains` lists.
        let mut e = rsigma_eval::Engine::new();
        e.extend_compiled_rules(compiled(&rule(
            "    a:\n        F: ÄbC\n    b:\n        F|contains: Bc\n    c:\n        F|startswith: 'x*y'\n    d:\n        F|endswith|cased: Ab\n    e:\n        F|re: '^q'\n    f:\n        F|contains:\n            - ADD\n            - nEw\n    g:\n        F|contains|all:\n            - a\n            - Z\n    condition: 1 of them",
        )));
        let g = Gate::build(e.rules()).expect("gated");
        assert_eq!(g.atoms(), 7);
        let matchers = &g.fields[0].matchers;
        assert!(
            matchers
                .iter()
                .any(|m| matches!(m, CompiledMatcher::CaseInsensitiveGroup { .. })),
            "{matchers:?}"
        );
        for s in [
            "äbc",
            "ÄBC",
            "abcd",
            "x*yz",
            "xay",
            "zAb",
            "zab",
            "qq",
            "",
            "ǅ",
            "İ",
            "MailItemsAccessed",
            "Add member",
            "renew",
            "aZ",
            "za",
            "ΑDD",
            "ﬀadd",
        ] {
            let v = json!({ "F": s });
            let ev = JsonEvent::borrow(&v);
            let val = ev.get_field("F").expect("field");
            for m in matchers {
                let mut lower: Option<Cow<'_, str>> = None;
                let fast = string_match(m, s, &mut lower).unwrap_or_else(|| m.matches(&val, &ev));
                assert_eq!(fast, m.matches(&val, &ev), "{m:?} on {s:?}");
            }
        }
    }

    #[test]
    fn contains_agrees_with_str_contains() {
        let hay = [
            "",
            "a",
            "aaab",
            "abab",
            "xäöy",
            "ääb",
            "mailitemsaccessed",
            "b a",
        ];
        let needles = ["", "a", "ab", "aab", "äb", "ö", "access", "ed", "b a", "zz"];
        for h in hay {
            for n in needles {
                assert_eq!(contains(h, n), h.contains(n), "{h:?} / {n:?}");
            }
        }
    }

    #[test]
    fn ungateable_rules_disable_the_gate() {
        for detection in [
            "    keywords:\n        - evil\n    condition: keywords",
            "    filter:\n        Operation: x\n    condition: not filter",
            "    sel:\n        Operation: null\n    condition: sel",
            "    sel:\n        Operation|exists: true\n    condition: sel",
            "    sel:\n        Operation: x\n    condition: 0 of sel",
        ] {
            assert!(
                Gate::build(&compiled(&rule(detection))).is_none(),
                "{detection}"
            );
        }
    }

    #[test]
    fn shared_fields_are_preferred_and_duplicates_checked_once() {
        let mut rules = Vec::new();
        for name in ["a", "b", "c"] {
            rules.extend(compiled(&rule(&format!(
                "    sel:\n        eventName: {name}\n        eventSource: SecurityComplianceCenter\n        status: success\n    condition: sel"
            ))));
        }
        rules.extend(compiled(&rule(
            "    sel:\n        eventSource: Exchange\n    condition: sel",
        )));
        let g = Gate::build(&rules).expect("gated");
        assert_eq!(g.fields().collect::<Vec<_>>(), ["eventSource"]);
        assert_eq!(g.atoms(), 2);
    }

    #[test]
    fn too_many_atoms_means_no_gate() {
        let values: String = (0..=MAX_ATOMS)
            .map(|i| format!("            - v{i}\n"))
            .collect();
        let rules = compiled(&rule(&format!(
            "    sel:\n        Operation:\n{values}    condition: sel"
        )));
        // One item holding every value is one atom; split them over rules instead.
        assert!(Gate::build(&rules).is_some());
        let many: Vec<CompiledRule> = (0..=MAX_ATOMS)
            .flat_map(|i| {
                compiled(&rule(&format!(
                    "    sel:\n        Operation: v{i}\n    condition: sel"
                )))
            })
            .collect();
        assert!(Gate::build(&many).is_none());
    }
}
