//! Logsource routing: which Sigma logsource an event belongs to, and which field names its
//! export shape uses. The mapping is data (`data/logsources.toml`, embedded); this module only
//! interprets it.
//!
//! Routing produces a small, fixed list of [`Target`]s (one per cloud source kind, one per
//! Windows channel/event-id category, one per Windows channel, a Windows fallback and the
//! generic target). The detector compiles one engine per target holding exactly the rules that
//! target admits, so an event is only ever evaluated against its applicable rules.

use std::collections::HashMap;

use keywarden_model::{Event, SourceKind, Value};
use rsigma_parser::LogSource;
use serde::Deserialize;

use crate::error::SigmaError;

/// The routing data shipped with keywarden.
pub const BUILTIN_ROUTING: &str = include_str!("../data/logsources.toml");

/// Sigma field name -> the field name (or dotted path) an export shape uses.
pub type FieldMap = HashMap<String, String>;

/// The Sigma logsource an event is treated as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// A readable name (`windows/sysmon/process_creation`, `m365/audit`, `generic`).
    pub name: String,
    pub product: Option<String>,
    pub services: Vec<String>,
    pub categories: Vec<String>,
    /// Field renames that apply on this target (Windows channel-specific names).
    pub fields: FieldMap,
    /// The generic target: every rule runs unless `--logsource` narrows it.
    pub generic: bool,
    /// Field names also match record names with their spaces removed (`ThreatName` finds
    /// `Threat Name`).
    pub fold_spaces: bool,
}

impl Target {
    /// Whether a rule with logsource `ls` runs on events of this target.
    pub fn admits(&self, ls: &LogSource) -> bool {
        if self.generic {
            return true;
        }
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        ls.product
            .as_deref()
            .is_none_or(|p| self.product.as_deref().is_some_and(|q| eq(p, q)))
            && ls
                .service
                .as_deref()
                .is_none_or(|s| self.services.iter().any(|q| eq(s, q)))
            && ls
                .category
                .as_deref()
                .is_none_or(|c| self.categories.iter().any(|q| eq(c, q)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    #[serde(default)]
    source: Vec<SourceEntry>,
    #[serde(default)]
    shape: Vec<ShapeEntry>,
    windows: WindowsEntry,
    #[serde(default)]
    fields: HashMap<String, FieldMap>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceEntry {
    kind: String,
    product: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

/// A logsource for one export shape (a Defender advanced-hunting table), which takes
/// precedence over its source kind's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeEntry {
    format: String,
    product: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowsEntry {
    product: String,
    #[serde(default)]
    space_free_channels: Vec<String>,
    services: HashMap<String, String>,
    #[serde(default)]
    category: Vec<CategoryEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    channel: String,
    event_ids: Vec<i64>,
    categories: Vec<String>,
    #[serde(default)]
    fields: FieldMap,
}

/// Per-channel routing of Windows events.
#[derive(Debug, Default)]
struct ChannelRoute {
    /// Target for events of this channel with no category entry.
    default: usize,
    by_event_id: HashMap<i64, usize>,
}

/// The interpreted routing data: targets plus the lookups that pick one per event.
#[derive(Debug)]
pub struct Routing {
    targets: Vec<Target>,
    generic: usize,
    /// Source kind name to target; a handful of entries, scanned (cheaper than hashing per event).
    by_source: Vec<(&'static str, usize)>,
    /// Export shape name to target (Defender tables); scanned like `by_source`.
    by_shape: Vec<(String, usize)>,
    windows_default: usize,
    /// Keyed by channel name and by its ASCII-lower-cased form.
    channels: HashMap<String, ChannelRoute>,
    /// Export shape name to its field map; a handful of entries, scanned likewise.
    shape_fields: Vec<(String, FieldMap)>,
}

/// Where one event goes: its target and the field renames to apply.
#[derive(Debug, Clone, Copy)]
pub struct Route<'r> {
    pub target: usize,
    pub fields: Option<&'r FieldMap>,
    pub fold_spaces: bool,
}

impl Routing {
    /// The built-in routing.
    pub fn builtin() -> Result<Routing, SigmaError> {
        Routing::parse(BUILTIN_ROUTING)
    }

    /// Interprets a routing file in the `data/logsources.toml` format.
    pub fn parse(text: &str) -> Result<Routing, SigmaError> {
        let file: RoutingFile =
            toml::from_str(text).map_err(|e| SigmaError::Routing(e.to_string()))?;
        let mut targets = vec![Target {
            name: "generic".into(),
            generic: true,
            ..Target::default()
        }];
        let mut by_source: Vec<(&'static str, usize)> = Vec::new();
        for s in file.source {
            let kind = source_kind_name(&s.kind)
                .ok_or_else(|| SigmaError::Routing(format!("unknown source kind {:?}", s.kind)))?;
            let mut name = s.product.clone().unwrap_or_default();
            for part in s.services.iter().take(1).chain(s.categories.iter().take(1)) {
                name = if name.is_empty() {
                    part.clone()
                } else {
                    format!("{name}/{part}")
                };
            }
            // A later entry for the same kind replaces the earlier one.
            match by_source.iter_mut().find(|(k, _)| *k == kind) {
                Some(e) => e.1 = targets.len(),
                None => by_source.push((kind, targets.len())),
            }
            targets.push(Target {
                name,
                product: s.product,
                services: s.services,
                categories: s.categories,
                ..Target::default()
            });
        }
        let mut by_shape: Vec<(String, usize)> = Vec::new();
        for s in file.shape {
            let mut name = s.product.clone().unwrap_or_default();
            for part in s.services.iter().take(1).chain(s.categories.iter().take(1)) {
                name = if name.is_empty() {
                    part.clone()
                } else {
                    format!("{name}/{part}")
                };
            }
            by_shape.retain(|(f, _)| *f != s.format);
            by_shape.push((s.format, targets.len()));
            targets.push(Target {
                name,
                product: s.product,
                services: s.services,
                categories: s.categories,
                ..Target::default()
            });
        }
        let product = file.windows.product;
        let windows_default = targets.len();
        targets.push(Target {
            name: product.clone(),
            product: Some(product.clone()),
            ..Target::default()
        });
        let mut channels: HashMap<String, ChannelRoute> = HashMap::new();
        let mut services: Vec<(&String, &String)> = file.windows.services.iter().collect();
        services.sort();
        for (channel, service) in services {
            let default = targets.len();
            targets.push(Target {
                name: format!("{product}/{service}"),
                product: Some(product.clone()),
                services: vec![service.clone()],
                fold_spaces: file.windows.space_free_channels.contains(channel),
                ..Target::default()
            });
            channels.insert(
                channel.clone(),
                ChannelRoute {
                    default,
                    by_event_id: HashMap::new(),
                },
            );
        }
        for c in file.windows.category {
            let service = file.windows.services.get(&c.channel);
            let idx = targets.len();
            targets.push(Target {
                name: format!(
                    "{product}/{}{}",
                    service.map(|s| format!("{s}/")).unwrap_or_default(),
                    c.categories.join("+")
                ),
                product: Some(product.clone()),
                services: service.cloned().into_iter().collect(),
                categories: c.categories,
                fold_spaces: file.windows.space_free_channels.contains(&c.channel),
                fields: c.fields,
                generic: false,
            });
            let route = channels.entry(c.channel).or_insert(ChannelRoute {
                default: windows_default,
                by_event_id: HashMap::new(),
            });
            for id in c.event_ids {
                route.by_event_id.insert(id, idx);
            }
        }
        let lower: Vec<(String, ChannelRoute)> = channels
            .iter()
            .filter(|(k, _)| k.bytes().any(|b| b.is_ascii_uppercase()))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    ChannelRoute {
                        default: v.default,
                        by_event_id: v.by_event_id.clone(),
                    },
                )
            })
            .collect();
        for (k, v) in lower {
            channels.entry(k).or_insert(v);
        }
        Ok(Routing {
            targets,
            generic: 0,
            by_source,
            by_shape,
            windows_default,
            channels,
            shape_fields: file.fields.into_iter().collect(),
        })
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Picks the target of one event.
    pub fn route<'r>(&'r self, event: &Event<'_>) -> Route<'r> {
        let shape = self
            .by_shape
            .iter()
            .find(|(f, _)| f == event.format)
            .map(|(_, t)| *t);
        let target = match (shape, event.source) {
            (Some(t), _) => t,
            (None, SourceKind::WindowsEvent) => self.windows_target(&event.raw),
            (None, SourceKind::Generic) => self.generic,
            (None, other) => {
                let kind = other.as_str();
                self.by_source
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or(self.generic, |(_, t)| *t)
            }
        };
        let t = self.targets.get(target);
        let fields = t.map(|t| &t.fields).filter(|f| !f.is_empty()).or_else(|| {
            self.shape_fields
                .iter()
                .find(|(shape, _)| shape == event.format)
                .map(|(_, f)| f)
        });
        Route {
            target,
            fields,
            fold_spaces: t.is_some_and(|t| t.fold_spaces),
        }
    }

    fn windows_target(&self, raw: &Value<'_>) -> usize {
        let Some(channel) = raw.get("Channel").and_then(Value::as_str) else {
            return self.windows_default;
        };
        let route = self.channels.get(channel).or_else(|| {
            channel
                .bytes()
                .any(|b| b.is_ascii_uppercase())
                .then(|| self.channels.get(&channel.to_ascii_lowercase()))
                .flatten()
        });
        let Some(route) = route else {
            return self.windows_default;
        };
        let id = raw.get("EventID").and_then(|v| match v {
            Value::Str(s) => s.trim().parse().ok(),
            Value::Object(o) => o
                .get("#text")
                .and_then(|t| t.as_i64().or_else(|| t.as_str()?.parse().ok())),
            v => v.as_i64(),
        });
        id.and_then(|id| route.by_event_id.get(&id).copied())
            .unwrap_or(route.default)
    }
}

/// The `SourceKind` name a routing entry refers to.
fn source_kind_name(kind: &str) -> Option<&'static str> {
    [
        SourceKind::UnifiedAuditLog,
        SourceKind::EntraSignIn,
        SourceKind::EntraAudit,
        SourceKind::GraphActivity,
        SourceKind::AzureActivity,
        SourceKind::HttpAccess,
        SourceKind::WindowsEvent,
        SourceKind::DefenderEndpoint,
        SourceKind::DefenderIdentity,
        SourceKind::Generic,
    ]
    .into_iter()
    .map(SourceKind::as_str)
    .find(|k| *k == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_model::{Fields, Origin};

    fn windows(json: &str) -> Event<'_> {
        Event {
            source: SourceKind::WindowsEvent,
            format: "evtx",
            origin: Origin {
                path: "t.evtx",
                line: None,
                offset: 0,
                record_number: Some(1),
            },
            raw: Value::parse(json).expect("test json"),
            fields: Fields::default(),
        }
    }

    fn ls(product: Option<&str>, service: Option<&str>, category: Option<&str>) -> LogSource {
        LogSource {
            product: product.map(Into::into),
            service: service.map(Into::into),
            category: category.map(Into::into),
            ..LogSource::default()
        }
    }

    #[test]
    fn builtin_routing_parses_and_routes_sysmon_and_security() {
        let r = Routing::builtin().expect("builtin routing");
        let e = windows(r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1}"#);
        let t = &r.targets()[r.route(&e).target];
        assert!(t.admits(&ls(Some("windows"), None, Some("process_creation"))));
        assert!(t.admits(&ls(Some("windows"), Some("sysmon"), None)));
        assert!(!t.admits(&ls(Some("windows"), Some("security"), None)));
        assert!(!t.admits(&ls(Some("linux"), None, Some("process_creation"))));

        let e = windows(r#"{"Channel":"Security","EventID":"4688"}"#);
        let route = r.route(&e);
        let t = &r.targets()[route.target];
        assert!(t.admits(&ls(Some("windows"), Some("security"), None)));
        assert!(t.admits(&ls(Some("windows"), None, Some("process_creation"))));
        assert_eq!(
            route
                .fields
                .and_then(|f| f.get("Image"))
                .map(String::as_str),
            Some("NewProcessName")
        );

        let e = windows(r#"{"Channel":"Security","EventID":4624}"#);
        let t = &r.targets()[r.route(&e).target];
        assert!(!t.admits(&ls(Some("windows"), None, Some("process_creation"))));
        assert!(!t.admits(&ls(None, None, Some("antivirus"))));
    }

    #[test]
    fn defender_names_fold_spaces() {
        let r = Routing::builtin().expect("builtin routing");
        let e = windows(
            r#"{"Channel":"Microsoft-Windows-Windows Defender/Operational","EventID":1119}"#,
        );
        let route = r.route(&e);
        assert!(route.fold_spaces);
        assert!(r.targets()[route.target].admits(&ls(Some("windows"), Some("windefend"), None)));
        let e = windows(r#"{"Channel":"Security","EventID":1}"#);
        assert!(!r.route(&e).fold_spaces);
    }

    #[test]
    fn unknown_channels_are_windows_only() {
        let r = Routing::builtin().expect("builtin routing");
        let e = windows(r#"{"Channel":"Custom/Log","EventID":7}"#);
        let t = &r.targets()[r.route(&e).target];
        assert!(t.admits(&ls(Some("windows"), None, None)));
        assert!(!t.admits(&ls(Some("windows"), Some("security"), None)));
        assert!(!t.admits(&ls(Some("zeek"), Some("rdp"), None)));
    }

    #[test]
    fn defender_tables_route_by_shape() {
        let r = Routing::builtin().expect("builtin routing");
        let row = |source, format| Event {
            source,
            format,
            origin: Origin {
                path: "t.json",
                line: Some(1),
                offset: 0,
                record_number: None,
            },
            raw: Value::Null,
            fields: Fields::default(),
        };
        let e = row(
            SourceKind::DefenderEndpoint,
            "defender-device-process-events",
        );
        let route = r.route(&e);
        let t = &r.targets()[route.target];
        assert!(t.admits(&ls(Some("windows"), None, Some("process_creation"))));
        assert!(!t.admits(&ls(Some("windows"), Some("security"), None)));
        assert_eq!(
            route
                .fields
                .and_then(|f| f.get("Image"))
                .map(String::as_str),
            Some("FolderPath")
        );
        // Tables without SigmaHQ rules run neither Windows nor cloud rules (nor every rule).
        for (source, format) in [
            (SourceKind::DefenderEndpoint, "defender-device-events"),
            (
                SourceKind::DefenderIdentity,
                "defender-identity-directory-events",
            ),
        ] {
            let t = &r.targets()[r.route(&row(source, format)).target];
            assert!(!t.generic, "{format}");
            assert!(!t.admits(&ls(Some("windows"), None, None)), "{format}");
            assert!(
                !t.admits(&ls(Some("m365"), Some("audit"), None)),
                "{format}"
            );
        }
    }

    #[test]
    fn malformed_routing_is_an_error() {
        assert!(Routing::parse("[windows]\nproduct = 1").is_err());
        assert!(
            Routing::parse("[[source]]\nkind = \"nope\"\n[windows]\nproduct=\"w\"\nservices={}")
                .is_err()
        );
    }
}
