//! Committing ingest batches: exactly once per idempotency key, and several at a time.
//!
//! [`Store::commit_group`] is the group commit behind `serve`'s writer: the batches queued while
//! the previous commit was being fsynced are written in ONE transaction, so the WAL is synced
//! once for all of them and the pages they share (the tail of the events table, its indexes) are
//! written once. Each batch goes in under its own savepoint: a batch that fails is rolled back
//! alone and gets its own error, the others are committed. Nothing is acknowledged before the
//! transaction's commit returns; if that commit fails, no batch of the group is.
//!
//! [`Store::commit_batch`] commits a single batch the same way (without the savepoint).
//!
//! Idempotency keys ([`RequestKey`]) are scoped to the credential that sent them and bound to
//! the SHA-256 of the body they were first used with: the same key and body from the same
//! credential is a retry (the stored receipt, `duplicate: true`); the same key with another
//! body is refused ([`StoreError::IdempotencyKeyReused`], nothing written); the same key from
//! another credential is unrelated.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{SqlContext, StoreError};
use crate::rows::{Batch, BatchReceipt, EventRow, RejectionRow, RequestKey};
use crate::store::Store;

/// The outcome of one batch of a committed group.
pub type GroupOutcome = Result<BatchReceipt, StoreError>;

impl Store {
    /// Commits one batch in a single transaction and returns its receipt. A batch whose
    /// `request_key` is already stored for its credential is not written again: with the same
    /// body the stored receipt comes back with `duplicate: true`; with another body it is
    /// refused ([`StoreError::IdempotencyKeyReused`]).
    pub fn commit_batch(&mut self, batch: &Batch) -> Result<BatchReceipt, StoreError> {
        let tx = self.conn.transaction().op("begin batch")?;
        let receipt = write_batch(&tx, batch)?;
        tx.commit().op("commit batch")?;
        Ok(receipt)
    }

    /// Commits `batches` in one transaction, each under its own savepoint, and returns one
    /// outcome per batch, in order. A failed batch (`Err` in its slot) left nothing behind; the
    /// others are durable once this returns `Ok`. `Err` means the transaction did not commit:
    /// none of the batches is stored.
    ///
    /// A request key repeated inside the group is stored once: the later batch gets the
    /// earlier one's receipt with `duplicate: true`, as it would across transactions.
    pub fn commit_group(&mut self, batches: &[&Batch]) -> Result<Vec<GroupOutcome>, StoreError> {
        let mut tx = self.conn.transaction().op("begin batch")?;
        let mut outcomes = Vec::with_capacity(batches.len());
        for batch in batches {
            let mut sp = tx.savepoint().op("begin batch savepoint")?;
            match write_batch(&sp, batch) {
                Ok(receipt) => {
                    sp.commit().op("release batch savepoint")?;
                    outcomes.push(Ok(receipt));
                }
                Err(e) => {
                    // Undo this batch only; the savepoint is then released empty.
                    sp.rollback().op("roll back batch")?;
                    sp.commit().op("release batch savepoint")?;
                    outcomes.push(Err(e));
                }
            }
        }
        tx.commit().op("commit batch")?;
        Ok(outcomes)
    }
}

/// Writes one batch (inside the caller's transaction) and returns its receipt.
pub(crate) fn write_batch(conn: &Connection, batch: &Batch) -> Result<BatchReceipt, StoreError> {
    if let Some(key) = &batch.request_key
        && let Some((mut receipt, digest)) = receipt_for_key(conn, key)?
    {
        if digest.as_deref() != Some(key.body_sha256.as_str()) {
            return Err(StoreError::IdempotencyKeyReused {
                key: key.key.clone(),
                batch_id: receipt.batch_id,
            });
        }
        receipt.duplicate = true;
        return Ok(receipt);
    }
    let key = batch.request_key.as_ref();
    conn.prepare_cached(
        "INSERT INTO batches (source, name, credential, idempotency_key, body_sha256,
         received_at, records, events, rejected)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .op("prepare batch insert")?
    .execute(params![
        batch.source,
        batch.name,
        key.map(|k| &k.credential),
        key.map(|k| &k.key),
        key.map(|k| &k.body_sha256),
        batch.received_at,
        (batch.events.len() + batch.rejections.len()) as i64,
        batch.events.len() as i64,
        batch.rejections.len() as i64
    ])
    .op("insert batch")?;
    let batch_id = conn.last_insert_rowid();
    let (first, last) = insert_events(conn, batch_id, batch.received_at, &batch.events)?;
    insert_rejections(conn, batch_id, batch.received_at, &batch.rejections)?;
    conn.prepare_cached("UPDATE batches SET first_event = ?1, last_event = ?2 WHERE id = ?3")
        .op("prepare batch update")?
        .execute(params![first, last, batch_id])
        .op("update batch")?;
    if let Some((path, file_id, offset)) = &batch.offset {
        put_offset(
            conn,
            &batch.source,
            path,
            file_id,
            *offset,
            batch.received_at,
        )?;
    }
    Ok(BatchReceipt {
        batch_id,
        accepted: batch.events.len() as u64,
        rejected: batch.rejections.len() as u64,
        first_event: first,
        last_event: last,
        duplicate: false,
        rejections: batch.rejections.clone(),
    })
}

/// Inserts `events` into batch `batch_id`; returns the store ids of the first and last.
pub(crate) fn insert_events(
    conn: &Connection,
    batch_id: i64,
    received_at: i64,
    events: &[EventRow],
) -> Result<(Option<i64>, Option<i64>), StoreError> {
    let (mut first, mut last) = (None, None);
    let mut ins = conn
        .prepare_cached(
            "INSERT INTO events (batch_id, received_at, source_kind, format, role,
             record_ref, time, tenant, user, client_ip, app_id, client_app_id, session_id,
             token_id, token_tenant, mailbox, operation, mail_access, logon_type,
             user_agent, signing_key_id, raw, category, token_issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
             ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
        )
        .op("prepare event insert")?;
    for e in events {
        ins.execute(params![
            batch_id,
            received_at,
            e.source_kind,
            e.format,
            e.role,
            e.record_ref,
            e.time,
            e.tenant,
            e.user,
            e.client_ip,
            e.app_id,
            e.client_app_id,
            e.session_id,
            e.token_id,
            e.token_tenant,
            e.mailbox,
            e.operation,
            e.mail_access,
            e.logon_type,
            e.user_agent,
            e.signing_key_id,
            e.raw,
            e.category,
            e.token_issued_at
        ])
        .op("insert event")?;
        let id = conn.last_insert_rowid();
        first.get_or_insert(id);
        last = Some(id);
    }
    Ok((first, last))
}

/// Inserts `rejections` into batch `batch_id`.
pub(crate) fn insert_rejections(
    conn: &Connection,
    batch_id: i64,
    received_at: i64,
    rejections: &[RejectionRow],
) -> Result<(), StoreError> {
    let mut rej = conn
        .prepare_cached(
            "INSERT INTO rejections (batch_id, received_at, path, line, byte_offset,
             record_number, code, reason, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .op("prepare rejection insert")?;
    for r in rejections {
        rej.execute(params![
            batch_id,
            received_at,
            r.path,
            r.line.map(|v| v as i64),
            r.offset.map(|v| v as i64),
            r.record_number.map(|v| v as i64),
            r.code,
            r.reason,
            r.raw
        ])
        .op("insert rejection")?;
    }
    Ok(())
}

fn put_offset(
    conn: &Connection,
    source: &str,
    path: &str,
    file_id: &str,
    offset: u64,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO source_offsets (source, path, file_id, byte_offset, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(source, path) DO UPDATE SET file_id = excluded.file_id,
         byte_offset = excluded.byte_offset, updated_at = excluded.updated_at",
    )
    .op("prepare offset write")?
    .execute(params![source, path, file_id, offset as i64, now])
    .op("write offset")
    .map(|_| ())
}

/// The stored receipt of an idempotency key already committed by the same credential, with the
/// body digest it was committed with.
fn receipt_for_key(
    conn: &Connection,
    key: &RequestKey,
) -> Result<Option<(BatchReceipt, Option<String>)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT id, events, rejected, first_event, last_event, body_sha256 FROM batches
             WHERE credential = ?1 AND idempotency_key = ?2",
        )
        .op("prepare idempotency lookup")?
        .query_row(params![key.credential, key.key], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()
        .op("look up idempotency key")?;
    let Some((batch_id, events, rejected, first_event, last_event, digest)) = row else {
        return Ok(None);
    };
    let mut q = conn
        .prepare_cached(
            "SELECT path, line, byte_offset, record_number, code, reason FROM rejections
             WHERE batch_id = ?1 ORDER BY id",
        )
        .op("read batch rejections")?;
    let rejections = q
        .query_map([batch_id], |r| {
            Ok(RejectionRow {
                path: r.get(0)?,
                line: r.get::<_, Option<i64>>(1)?.map(|v| v.max(0) as u64),
                offset: r.get::<_, Option<i64>>(2)?.map(|v| v.max(0) as u64),
                record_number: r.get::<_, Option<i64>>(3)?.map(|v| v.max(0) as u64),
                code: r.get(4)?,
                reason: r.get(5)?,
                raw: None,
            })
        })
        .op("read batch rejections")?
        .collect::<Result<Vec<_>, _>>()
        .op("read batch rejections")?;
    let receipt = BatchReceipt {
        batch_id,
        accepted: events.max(0) as u64,
        rejected: rejected.max(0) as u64,
        first_event,
        last_event,
        duplicate: false,
        rejections,
    };
    Ok(Some((receipt, digest)))
}
