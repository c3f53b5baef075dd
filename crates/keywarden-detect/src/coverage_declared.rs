//! Declared sign-in coverage: the user's `--signin-coverage SPEC` / `[coverage] signin`, and a
//! collector's manifest (`collect.json`, written by `keywarden collect`).
//!
//! SPEC syntax: `CATEGORIES[@START/END]`, where CATEGORIES is `all` or a comma list of
//! `interactive`, `non-interactive`, `service-principal`, `managed-identity`, and START/END are
//! RFC 3339 times (either may be empty: from the input's start / to its end). Examples:
//! `all`, `interactive,non-interactive`, `all@2023-06-01T00:00:00Z/2023-06-22T00:00:00Z`.
//!
//! A manifest's complete windows of a sign-in stream declare that stream's category complete
//! over `[start, end)` for the manifest's tenant. Streams: `graph-signins` → `interactiveUser`,
//! `nonInteractiveUser`, `servicePrincipal`, `managedIdentity`; `loganalytics` → `SigninLogs`,
//! `AADNonInteractiveUserSignInLogs`, `AADServicePrincipalSignInLogs`,
//! `AADManagedIdentitySignInLogs`. Other sources (audit logs) declare nothing here.
//!
//! A stream's `files` (paths relative to the manifest) are the files its records were written
//! to: [`parse_manifest_streams`] hands them to the caller, which declares a stream's windows
//! only when every one of its files is among the inputs (a manifest handed over without its
//! sign-in files would otherwise turn every token into a judged one).

use keywarden_model::Timestamp;
use serde_json::Value as Json;

use crate::coverage::{Declared, SignInCategory};
use crate::error::CoverageError;

use keywarden_ingest::manifest::COLLECT_MANIFEST_MARKER as MANIFEST_MARKER;

/// Parses one SPEC (see the module documentation). `source` names where it came from.
pub fn parse_spec(spec: &str, source: &str) -> Result<Vec<Declared>, CoverageError> {
    let bad = |reason: &'static str| CoverageError::Spec {
        spec: spec.to_string(),
        reason,
    };
    let (cats, window) = match spec.split_once('@') {
        Some((c, w)) => (c, Some(w)),
        None => (spec, None),
    };
    let (start, end) = match window {
        None => (None, None),
        Some(w) => {
            let (a, b) = w
                .split_once('/')
                .ok_or_else(|| bad("the window is START/END"))?;
            let at = |s: &str| -> Result<Option<Timestamp>, CoverageError> {
                if s.trim().is_empty() {
                    return Ok(None);
                }
                Timestamp::parse(s)
                    .map(Some)
                    .ok_or_else(|| bad("START and END are RFC 3339 times"))
            };
            (at(a)?, at(b)?)
        }
    };
    if let (Some(a), Some(b)) = (start, end)
        && b <= a
    {
        return Err(bad("END must be after START"));
    }
    let mut categories = Vec::new();
    for c in cats.split(',').map(str::trim) {
        if c.eq_ignore_ascii_case("all") {
            categories.extend(SignInCategory::ALL);
            continue;
        }
        let cat = SignInCategory::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(c))
            .ok_or_else(|| {
                bad("categories are all, interactive, non-interactive, service-principal, managed-identity")
            })?;
        categories.push(cat);
    }
    categories.sort();
    categories.dedup();
    Ok(categories
        .into_iter()
        .map(|category| Declared {
            tenant: None,
            category,
            start,
            end,
            source: source.to_string(),
        })
        .collect())
}

/// The category a manifest stream declares, if it is a sign-in stream.
pub(crate) fn stream_category(source: &str, stream: &str) -> Option<SignInCategory> {
    match source {
        "graph-signins" | "loganalytics" => SignInCategory::from_marker(stream),
        _ => None,
    }
}

/// One sign-in stream of a manifest: its complete windows and the files it wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestStream {
    /// `source stream`, e.g. `graph-signins nonInteractiveUser`.
    pub label: String,
    /// The stream's files, relative to the manifest's directory; `None` when the manifest
    /// lists none (a hand-written manifest).
    pub files: Option<Vec<String>>,
    pub declared: Vec<Declared>,
}

/// Reads a manifest's complete sign-in windows, all streams together.
pub fn parse_manifest(text: &str, path: &str) -> Result<Vec<Declared>, CoverageError> {
    Ok(parse_manifest_streams(text, path)?
        .into_iter()
        .flat_map(|s| s.declared)
        .collect())
}

/// Reads a manifest's sign-in streams with their complete windows and files. `path` is named
/// in errors and declarations.
pub fn parse_manifest_streams(
    text: &str,
    path: &str,
) -> Result<Vec<ManifestStream>, CoverageError> {
    let bad = |reason: String| CoverageError::Manifest {
        path: path.to_string(),
        reason,
    };
    let v: Json = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    match v.get(MANIFEST_MARKER).and_then(Json::as_u64) {
        Some(1) => {}
        Some(n) => return Err(bad(format!("manifest version {n} is not supported (1)"))),
        None => return Err(bad(format!("no \"{MANIFEST_MARKER}\": 1 marker"))),
    }
    // The tenant id the records carry (`tenant_id`, written since collect resolved domains)
    // before `tenant` as the user gave it, which may be a domain no record names.
    let tenant = ["tenant_id", "tenant"].iter().find_map(|k| {
        v.get(*k)
            .and_then(Json::as_str)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string)
    });
    let sources = v
        .get("sources")
        .and_then(Json::as_array)
        .ok_or_else(|| bad("no \"sources\" array".into()))?;
    let mut out = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let src = s.get("source").and_then(Json::as_str).unwrap_or("");
        let stream = s.get("stream").and_then(Json::as_str).unwrap_or("");
        let Some(category) = stream_category(src, stream) else {
            continue;
        };
        let windows = s
            .get("windows")
            .and_then(Json::as_array)
            .ok_or_else(|| bad(format!("sources[{i}] ({src} {stream}) has no \"windows\"")))?;
        let files = match s.get("files") {
            None | Some(Json::Null) => None,
            Some(Json::Array(a)) => Some(
                a.iter()
                    .map(|f| {
                        f.as_str().map(str::to_string).ok_or_else(|| {
                            bad(format!(
                                "sources[{i}].files holds a value that is not a path"
                            ))
                        })
                    })
                    .collect::<Result<Vec<String>, CoverageError>>()?,
            ),
            Some(_) => return Err(bad(format!("sources[{i}].files is not an array"))),
        };
        let mut declared = Vec::new();
        for (j, w) in windows.iter().enumerate() {
            if w.get("complete").and_then(Json::as_bool) != Some(true) {
                continue;
            }
            let at = |k: &str| {
                w.get(k)
                    .and_then(Json::as_str)
                    .and_then(Timestamp::parse)
                    .ok_or_else(|| bad(format!("sources[{i}].windows[{j}].{k} is not a time")))
            };
            let (start, end) = (at("start")?, at("end")?);
            if end <= start {
                return Err(bad(format!(
                    "sources[{i}].windows[{j}] ends before it starts"
                )));
            }
            declared.push(Declared {
                tenant: tenant.clone(),
                category,
                start: Some(start),
                end: Some(end),
                source: path.to_string(),
            });
        }
        out.push(ManifestStream {
            label: format!("{src} {stream}"),
            files,
            declared,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let all = parse_spec("all", "cli").unwrap();
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|d| d.start.is_none() && d.end.is_none()));
        let two = parse_spec("interactive, non-interactive@2023-06-01T00:00:00Z/", "cli").unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[0].category, SignInCategory::Interactive);
        assert!(two[0].start.is_some() && two[0].end.is_none());
        for bad in [
            "everything",
            "all@2023-06-01",
            "all@x/y",
            "all@2023-06-02T00:00:00Z/2023-06-01T00:00:00Z",
        ] {
            assert!(parse_spec(bad, "cli").is_err(), "{bad}");
        }
    }

    #[test]
    fn manifests() {
        let text = r#"{"keywarden_collect": 1, "tenant": "t1", "since": "2023-06-01T00:00:00Z",
          "until": "2023-06-03T00:00:00Z", "complete": false, "sources": [
          {"source": "graph-signins", "stream": "interactiveUser", "records": 5, "windows": [
            {"start": "2023-06-01T00:00:00Z", "end": "2023-06-02T00:00:00Z", "complete": true},
            {"start": "2023-06-02T00:00:00Z", "end": "2023-06-03T00:00:00Z", "complete": false}]},
          {"source": "loganalytics", "stream": "AADServicePrincipalSignInLogs", "windows": [
            {"start": "2023-06-01T00:00:00Z", "end": "2023-06-03T00:00:00Z", "complete": true}]},
          {"source": "o365", "stream": "Audit.Exchange", "windows": []}]}"#;
        assert!(keywarden_ingest::is_collect_manifest(
            "in/collect.json",
            text.as_bytes()
        ));
        let d = parse_manifest(text, "in/collect.json").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].tenant.as_deref(), Some("t1"));
        assert_eq!(d[1].category, SignInCategory::ServicePrincipal);
        // A collection run with `--tenant` as a domain: the records' tenant id wins.
        let by_domain = text.replace(
            r#""tenant": "t1","#,
            r#""tenant": "contoso.onmicrosoft.com", "tenant_id": "1ffe8190-7d5a-4f46-ac82-0ab724907c43","#,
        );
        let d = parse_manifest(&by_domain, "in/collect.json").unwrap();
        assert_eq!(
            d[0].tenant.as_deref(),
            Some("1ffe8190-7d5a-4f46-ac82-0ab724907c43")
        );
        // `tenant_id: null` (unresolved) falls back to `tenant`.
        let unresolved = text.replace(
            r#""tenant": "t1","#,
            r#""tenant": "t1", "tenant_id": null,"#,
        );
        let d = parse_manifest(&unresolved, "in/collect.json").unwrap();
        assert_eq!(d[0].tenant.as_deref(), Some("t1"));
        assert!(parse_manifest("{}", "x").is_err());
        assert!(parse_manifest(r#"{"keywarden_collect": 2}"#, "x").is_err());
        assert!(parse_manifest("[", "x").is_err());
    }
}
