//! Writing the output contracts: `alerts.jsonl` (one [`Alert`] per line, in the order of
//! [`crate::finalize::sort_alerts`]) and `exposure.json` (pretty-printed [`Exposure`]).
//! Both are documented in `docs/OUTPUTS.md`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use keywarden_model::{Alert, Exposure};

use crate::error::OutputError;

/// Writes `alerts.jsonl`.
pub fn write_alerts(path: &Path, alerts: &[Alert]) -> Result<(), OutputError> {
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut w = BufWriter::new(File::create(path).map_err(io)?);
    for a in alerts {
        serde_json::to_writer(&mut w, a).map_err(|source| OutputError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
        w.write_all(b"\n").map_err(io)?;
    }
    w.flush().map_err(io)
}

/// Writes `exposure.json`.
pub fn write_exposure(path: &Path, exposure: &Exposure) -> Result<(), OutputError> {
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut w = BufWriter::new(File::create(path).map_err(io)?);
    serde_json::to_writer_pretty(&mut w, exposure).map_err(|source| OutputError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    w.write_all(b"\n").map_err(io)?;
    w.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_model::Severity;

    #[test]
    fn alerts_are_one_object_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        let mut a = Alert::new("ioc-ip", "x\ny", Severity::High);
        a.id = "kw-1".into();
        write_alerts(&p, &[a.clone(), a]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back: Alert = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back.title, "x\ny");
        let e = dir.path().join("exposure.json");
        write_exposure(&e, &Exposure::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&e).unwrap(),
            "{\n  \"incidents\": []\n}\n"
        );
        assert!(write_alerts(&dir.path().join("no/such/dir"), &[]).is_err());
    }
}
