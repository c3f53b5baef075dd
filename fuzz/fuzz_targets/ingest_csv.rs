//! Fuzzes the UAL CSV reader: arbitrary bytes, alone and after each export header, sniffed
//! and with every CSV format forced. Every record must be an event or a rejection.
#![no_main]

use keywarden_ingest::{Discard, Format, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;

const HEADERS: [&[u8]; 3] = [
    b"RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n",
    b"CreationDate,UserIds,Operations,AuditData\n",
    b"#TYPE Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.UnifiedAuditLogResult\r\n\"PSComputerName\",\"RunspaceId\",\"PSShowComputerName\",\"RecordType\",\"CreationDate\",\"UserIds\",\"Operations\",\"AuditData\",\"ResultIndex\",\"ResultCount\",\"Identity\",\"IsValid\",\"ObjectState\"\r\n",
];

fn check(bytes: Vec<u8>, format: Option<Format>) {
    let cfg = IngestConfig {
        format,
        max_record_bytes: 4096,
        threads: 1,
        ..IngestConfig::default()
    };
    let out = ingest_bytes("fuzz.csv", bytes, &cfg, &mut Discard);
    assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
    assert_eq!(out.counts.rejected as usize, out.rejections.len());
}

fuzz_target!(|data: &[u8]| {
    check(data.to_vec(), None);
    check(data.to_vec(), Some(Format::PurviewCsv));
    for header in HEADERS {
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(data);
        check(bytes.clone(), None);
        check(bytes, Some(Format::UalSearchCsv));
    }
});
