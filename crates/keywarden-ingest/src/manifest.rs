//! Collector manifests (`collect.json`, written by `keywarden collect` beside what it
//! collected): they describe an export and hold no log records, so ingest lists them as
//! skipped ("collection manifest") and never reads them as records. `keywarden-detect` reads
//! their declared sign-in coverage.

/// The manifest's file name.
pub const COLLECT_MANIFEST_NAME: &str = "collect.json";
/// The key that marks a manifest (its value is the manifest version).
pub const COLLECT_MANIFEST_MARKER: &str = "keywarden_collect";
/// The reason a manifest is listed as skipped.
pub const COLLECT_MANIFEST_SKIPPED: &str =
    "collection manifest (collect.json): read for declared coverage, not a log";

/// Whether the input called `name` with (decompressed, BOM-stripped) bytes `body` is a
/// collector manifest: named `collect.json` (also inside an archive), a JSON object whose
/// first 512 bytes hold the `"keywarden_collect"` key.
pub fn is_collect_manifest(name: &str, body: &[u8]) -> bool {
    let file = name.rsplit(['/', '\\', '!']).next().unwrap_or(name);
    if !file.eq_ignore_ascii_case(COLLECT_MANIFEST_NAME) {
        return false;
    }
    let head = &body[..body.len().min(512)];
    let trimmed = head.trim_ascii_start();
    let marker = format!("\"{COLLECT_MANIFEST_MARKER}\"");
    trimmed.starts_with(b"{")
        && trimmed
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_marked_collect_json_is_a_manifest() {
        let m = br#"{"keywarden_collect": 1, "tenant": "t", "sources": []}"#;
        assert!(is_collect_manifest("case/collect.json", m));
        assert!(is_collect_manifest("a.zip!x/COLLECT.JSON", m));
        assert!(!is_collect_manifest("case/other.json", m));
        assert!(!is_collect_manifest(
            "collect.json",
            br#"[{"Operation":"x"}]"#
        ));
        assert!(!is_collect_manifest(
            "collect.json",
            br#"{"Operation":"x"}"#
        ));
    }
}
