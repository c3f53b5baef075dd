//! Fuzzes Sigma rule YAML: arbitrary text is loaded (parse, base64offset fix-up, compile,
//! correlation and filter checks); every document must be accounted for, and whatever loads is
//! compiled into a stage and evaluated against a few real-shaped events without panicking.
#![no_main]

use keywarden_ingest::{IngestConfig, Processor, ingest_bytes};
use keywarden_sigma::{RuleSet, SigmaConfig};
use libfuzzer_sys::fuzz_target;

const EVENTS: &str = r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami","time":"2024-05-01T10:00:00Z"}
{"CreationTime":"2024-05-01T10:01:00","Id":"1","Operation":"New-InboxRule","RecordType":1,"UserId":"bob@contoso.com","Workload":"Exchange","Parameters":[{"Name":"ForwardTo","Value":"x"}]}
{"a":{"b":[1,"two",null,{"c":true}]},"n":3.5,"time":"2024-05-01T10:02:00Z"}
"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let set = RuleSet::from_yaml("fuzz.yml", &text);
    let r = &set.report;
    assert_eq!(r.rules, r.loaded + r.unsupported.len() + r.errors.len());
    if r.loaded == 0 {
        return;
    }
    let Ok(stage) = SigmaConfig::default().build_with(set) else {
        return;
    };
    {
        let mut p = stage.processor();
        ingest_bytes(
            "fuzz.jsonl",
            EVENTS.as_bytes().to_vec(),
            &IngestConfig::default(),
            &mut p,
        );
        p.finish();
    }
    let _ = stage.finish();
});
