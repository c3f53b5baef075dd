//! A batch too large to hold in memory, committed piece by piece in ONE transaction
//! ([`Store::begin_streamed`] → [`StreamedBatch::append`]... → [`StreamedBatch::commit`]):
//! `serve` parses a large body in bounded pieces and writes each as it comes, and the body is
//! still stored whole or not at all. Dropping a [`StreamedBatch`] without committing rolls
//! every piece back.
//!
//! The first piece goes through the same write as any batch (idempotency key check, batch row,
//! source offset); later pieces add their events and rejections to that batch row.

use rusqlite::{Transaction, params};

use crate::commit::{insert_events, insert_rejections, write_batch};
use crate::error::{SqlContext, StoreError};
use crate::rows::{Batch, BatchReceipt, EventRow, RejectionRow};
use crate::store::Store;

/// A batch being written piece by piece; nothing is visible to readers before
/// [`StreamedBatch::commit`].
pub struct StreamedBatch<'s> {
    tx: Transaction<'s>,
    receipt: BatchReceipt,
    received_at: i64,
}

impl Store {
    /// Opens the transaction and writes `first` (the batch's first piece, with its source,
    /// name, idempotency key and offset) as [`Store::commit_batch`] would. When its key was
    /// already stored, [`StreamedBatch::receipt`] says `duplicate` and later pieces must not
    /// be appended (they are ignored).
    pub fn begin_streamed(&mut self, first: &Batch) -> Result<StreamedBatch<'_>, StoreError> {
        let tx = self.conn.transaction().op("begin streamed batch")?;
        let mut receipt = write_batch(&tx, first)?;
        receipt.rejections.clear();
        Ok(StreamedBatch {
            tx,
            receipt,
            received_at: first.received_at,
        })
    }
}

impl StreamedBatch<'_> {
    /// The receipt so far (counts and event ids of the pieces written).
    pub fn receipt(&self) -> &BatchReceipt {
        &self.receipt
    }

    /// Adds a piece to the batch (nothing, for a duplicate); returns the store ids its events
    /// got (`first..=last`; valid once committed).
    pub fn append(
        &mut self,
        events: &[EventRow],
        rejections: &[RejectionRow],
    ) -> Result<(Option<i64>, Option<i64>), StoreError> {
        if self.receipt.duplicate {
            return Ok((None, None));
        }
        let id = self.receipt.batch_id;
        let (first, last) = insert_events(&self.tx, id, self.received_at, events)?;
        insert_rejections(&self.tx, id, self.received_at, rejections)?;
        let r = &mut self.receipt;
        r.first_event = r.first_event.or(first);
        r.last_event = last.or(r.last_event);
        r.accepted += events.len() as u64;
        r.rejected += rejections.len() as u64;
        Ok((first, last))
    }

    /// Records the batch's totals and commits every piece; the receipt lists no rejections
    /// (the caller keeps the ones it lists).
    pub fn commit(self) -> Result<BatchReceipt, StoreError> {
        let r = self.receipt;
        if !r.duplicate {
            self.tx
                .prepare_cached(
                    "UPDATE batches SET records = ?1, events = ?2, rejected = ?3,
                     first_event = ?4, last_event = ?5 WHERE id = ?6",
                )
                .op("prepare streamed batch totals")?
                .execute(params![
                    (r.accepted + r.rejected) as i64,
                    r.accepted as i64,
                    r.rejected as i64,
                    r.first_event,
                    r.last_event,
                    r.batch_id
                ])
                .op("write streamed batch totals")?;
        }
        self.tx.commit().op("commit streamed batch")?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;
    use crate::rows::RequestKey;

    fn row(i: usize) -> EventRow {
        EventRow {
            source_kind: "ual".into(),
            format: "ual".into(),
            role: "activity".into(),
            record_ref: format!("b:{i}"),
            raw: format!("{{\"Id\":\"{i}\"}}"),
            ..EventRow::default()
        }
    }

    fn batch(key: &str, events: Vec<EventRow>) -> Batch {
        Batch {
            source: "http".into(),
            name: "big".into(),
            request_key: Some(RequestKey {
                credential: "key:0123456789ab".into(),
                key: key.into(),
                body_sha256: "00".repeat(32),
            }),
            received_at: 7,
            events,
            rejections: Vec::new(),
            offset: None,
        }
    }

    #[test]
    fn pieces_commit_as_one_batch_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StoreConfig::new(dir.path()).build().unwrap();
        // Dropped before the commit: nothing stays.
        {
            let mut s = store.begin_streamed(&batch("k1", vec![row(0)])).unwrap();
            assert_eq!(
                s.append(&[row(1), row(2)], &[]).unwrap(),
                (Some(2), Some(3))
            );
        }
        assert_eq!(store.stats().unwrap().events, 0);
        let mut s = store.begin_streamed(&batch("k1", vec![row(0)])).unwrap();
        s.append(&[row(1), row(2)], &[]).unwrap();
        s.append(&[row(3)], &[]).unwrap();
        let r = s.commit().unwrap();
        assert_eq!((r.accepted, r.duplicate), (4, false));
        assert_eq!(r.last_event.unwrap() - r.first_event.unwrap(), 3);
        assert_eq!(store.stats().unwrap().events, 4);
        // A retry with the same key is a duplicate with the whole batch's totals.
        let again = store.commit_batch(&batch("k1", vec![row(9)])).unwrap();
        assert!(again.duplicate);
        assert_eq!((again.accepted, again.first_event), (4, r.first_event));
    }
}
