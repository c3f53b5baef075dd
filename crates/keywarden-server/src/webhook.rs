//! Alerts out: every alert raised or extended by live detection is POSTed as JSON to each
//! configured webhook, signed with HMAC-SHA256 over the exact body
//! (`X-Keywarden-Signature: sha256=<hex>`), retried with exponential back-off, and written to
//! the store's dead-letter table when the target stays down. `format = "slack"` / `"teams"`
//! sends the `{"text": ...}` payload both accept instead of the alert itself.
//!
//! The sender runs on its own thread behind a bounded channel: a slow target never slows
//! ingest; when the channel is full the alert is dead-lettered at once (counted).
//!
//! A live verdict revised by late evidence (withdrawn, downgraded: `evidence.revision`) is sent
//! to every target that took the alert before, whatever its `min_severity`: a subscriber told
//! of a high alert is told it was withdrawn. Chat text escapes every log-derived value
//! (`keywarden_report::escape_slack` / `escape_teams`).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use aws_lc_rs::hmac;
use keywarden_model::Alert;
use keywarden_store::Store;
use serde::Deserialize;

use crate::clock::Clock;
use crate::metrics::Metrics;

/// Payload shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// The alert in the `alerts.jsonl` schema.
    #[default]
    Json,
    /// `{"text": "..."}` (Slack incoming webhooks).
    Slack,
    /// `{"text": "..."}` (Microsoft Teams incoming webhooks).
    Teams,
}

/// One `[[webhook]]` of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// HMAC-SHA256 key for `X-Keywarden-Signature`.
    pub secret: String,
    #[serde(default)]
    pub format: PayloadFormat,
    /// Attempts before dead-lettering (default 5).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First back-off in milliseconds, doubled per attempt (default 500).
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Only alerts at least this severe are sent (default: all).
    #[serde(default)]
    pub min_severity: Option<String>,
}

fn default_attempts() -> u32 {
    5
}

fn default_backoff() -> u64 {
    500
}

/// The signature header value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in tag.as_ref() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The body sent for one alert.
pub fn payload(format: PayloadFormat, alert: &Alert) -> Vec<u8> {
    match format {
        PayloadFormat::Json => serde_json::to_vec(alert).unwrap_or_default(),
        PayloadFormat::Slack | PayloadFormat::Teams => {
            let esc = |s: &str| match format {
                PayloadFormat::Teams => keywarden_report::escape_teams(s),
                _ => keywarden_report::escape_slack(s),
            };
            let revised = revision(alert)
                .map(|(action, from)| format!("{} (was {}) ", action.to_uppercase(), from.as_str()))
                .unwrap_or_default();
            let text = format!(
                "{revised}[{}] {}: {} (user {}, ip {}, incident {})",
                alert.severity.as_str(),
                esc(&alert.rule_id),
                esc(&alert.title),
                esc(alert.user.as_deref().unwrap_or("-")),
                esc(alert.client_ip.as_deref().unwrap_or("-")),
                esc(alert.incident_id.as_deref().unwrap_or("-")),
            );
            serde_json::to_vec(&serde_json::json!({ "text": text })).unwrap_or_default()
        }
    }
}

/// The revision an alert carries (`evidence.revision`: action and the severity it had), when a
/// live verdict was revised by late evidence.
pub fn revision(alert: &Alert) -> Option<(&str, keywarden_model::Severity)> {
    let r = alert.evidence.get("revision")?;
    let action = r.get("action")?.as_str()?;
    let from = keywarden_model::Severity::parse(r.get("from")?.as_str()?)?;
    Some((action, from))
}

/// Whether a target with `min_severity` takes `alert`: at least that severe, or a revision of
/// an alert that was (its subscriber must hear of the withdrawal).
pub fn wanted(min: Option<keywarden_model::Severity>, alert: &Alert) -> bool {
    let Some(min) = min else {
        return true;
    };
    alert.severity >= min || revision(alert).is_some_and(|(_, from)| from >= min)
}

/// The sender thread's loop: runs until the channel closes.
pub fn run_sender(
    targets: Vec<WebhookConfig>,
    rx: Receiver<Alert>,
    mut store: Store,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) {
    let tls = keywarden_token::fetch::tls_config();
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .new_agent();
    loop {
        let alert = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(a) => a,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        for t in &targets {
            let min = t
                .min_severity
                .as_deref()
                .and_then(keywarden_model::Severity::parse);
            if !wanted(min, &alert) {
                continue;
            }
            let body = payload(t.format, &alert);
            let sig = sign(&t.secret, &body);
            let mut last_error = String::new();
            let mut delivered = false;
            for attempt in 0..t.max_attempts.max(1) {
                if attempt > 0 {
                    let wait = t.backoff_ms.saturating_mul(1 << (attempt - 1).min(10));
                    std::thread::sleep(Duration::from_millis(wait));
                }
                let res = agent
                    .post(&t.url)
                    .header("Content-Type", "application/json")
                    .header("X-Keywarden-Signature", &sig)
                    .header("X-Keywarden-Alert", &alert.id)
                    .send(&body[..]);
                match res {
                    Ok(r) if r.status().is_success() => {
                        delivered = true;
                        break;
                    }
                    Ok(r) => last_error = format!("HTTP {}", r.status().as_u16()),
                    Err(e) => last_error = e.to_string(),
                }
                Metrics::add(&metrics.webhook_failed, 1);
            }
            if delivered {
                Metrics::add(&metrics.webhook_sent, 1);
            } else {
                Metrics::add(&metrics.webhook_dead, 1);
                let text = String::from_utf8_lossy(&body).to_string();
                if store
                    .dead_letter(
                        clock.now().0,
                        &t.url,
                        &alert.id,
                        t.max_attempts,
                        &last_error,
                        &text,
                    )
                    .is_err()
                {
                    Metrics::add(&metrics.errors, 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_model::Severity;

    #[test]
    fn signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let sig = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_payload_is_text() {
        let mut a = Alert::new("ioc-ip", "Activity from a threat-actor IP", Severity::High);
        a.user = Some("alice@contoso.com".into());
        let v: serde_json::Value =
            serde_json::from_slice(&payload(PayloadFormat::Slack, &a)).unwrap();
        assert!(v["text"].as_str().unwrap().starts_with("[high] ioc-ip"));
        let v: serde_json::Value =
            serde_json::from_slice(&payload(PayloadFormat::Json, &a)).unwrap();
        assert_eq!(v["rule_id"], "ioc-ip");
    }

    #[test]
    fn regression_withdrawal_not_sent_to_a_subscriber_of_high_alerts() {
        let high = Some(Severity::High);
        let mut a = Alert::new(
            "token-never-issued",
            "Access with a token no sign-in issued",
            Severity::High,
        );
        assert!(wanted(high, &a));
        // Withdrawn by a late sign-in: now info, but the subscriber heard of it as high.
        a.severity = Severity::Info;
        assert!(!wanted(high, &a), "an info alert alone is below the bar");
        a.evidence = serde_json::json!({"revision": {"action": "withdrawn", "from": "high"}});
        assert!(wanted(high, &a));
        assert!(!wanted(Some(Severity::Critical), &a));
        let v: serde_json::Value =
            serde_json::from_slice(&payload(PayloadFormat::Teams, &a)).unwrap();
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .starts_with("WITHDRAWN (was high) [info]"),
            "{v}"
        );
    }

    #[test]
    fn regression_chat_text_carried_log_markup() {
        let mut a = Alert::new("ioc-ip", "Activity from a threat-actor IP", Severity::High);
        a.user = Some("<!channel> <http://evil.example|reset your password>".into());
        let v: serde_json::Value =
            serde_json::from_slice(&payload(PayloadFormat::Slack, &a)).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
        a.user = Some("[reset](http://evil.example)".into());
        let v: serde_json::Value =
            serde_json::from_slice(&payload(PayloadFormat::Teams, &a)).unwrap();
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .contains("\\[reset\\]\\(http://evil.example\\)")
        );
    }
}
