//! The memory budget of `serve` (`[server] memory_budget_mb`, default 512): the limits that
//! keep the process's peak RSS under it whatever the bodies and their number, derived once at
//! start from the budget and the other settings.
//!
//! With `B` the budget, `P` the parse threads, `C` the piece size ([`PIECE_BYTES`]), `M` the
//! largest body (`max_body_bytes`) and `K` the store connections:
//!
//! ```text
//! reserve   R = 64 MiB (runtime, detector, alert book) + K × 16 MiB (SQLite page cache each)
//! per parse thread  W = 32 MiB (up to 3 decoder layers, zstd windows ≤ 8 MiB)
//!                     + 12 × C (the read-ahead blocks of a streamed body)
//!                     + 2 × M (a document read whole, capped at M decompressed, and its index)
//! pieces    Q = (16 + 4 × P) × 2 × C (a writer group, the parsed window, one streamed piece
//!               per thread in flight; rows take about twice their estimate)
//! body pool   = B − R − P × W − Q   (must hold at least one body of M bytes)
//! ```
//!
//! Every ingest body holds its declared `Content-Length` (or `M` when it declares none) from
//! the body pool from before it is read until it is answered; a body that finds no room is
//! answered 503 with `Retry-After` at once (never queued in memory). `max_inflight` still
//! caps their number. A body's rows never exceed a few pieces in memory: the parse stage hands
//! them to the writer in pieces of `C` and the writer commits a large body piece by piece in
//! one transaction ([`crate::runtime::parse`], [`crate::runtime::writer`]).

use crate::error::ServerError;

const MIB: u64 = 1 << 20;

/// Estimated row bytes per piece of a body handed from the parse stage to the writer (also
/// the ingest engine's read block).
pub const PIECE_BYTES: usize = 1 << 20;

/// Everything but ingest bodies: runtime, detector state, alert book.
pub const FIXED_RESERVE: u64 = 64 * MIB;

/// SQLite page cache per store connection.
pub const CACHE_PER_CONNECTION: u64 = 16 * MIB;

/// Decoder layers of one body (zstd windows are capped at 8 MiB each).
pub const DECODERS: u64 = 32 * MIB;

/// The default budget.
pub const DEFAULT_BUDGET_MB: u64 = 512;

/// The limits derived from a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub budget: u64,
    pub reserve: u64,
    pub per_parse_thread: u64,
    pub pieces: u64,
    /// Bytes of received bodies held at once.
    pub body_pool: u64,
    /// The largest document read whole, decompressed (`max_body_bytes`).
    pub whole_read_bytes: u64,
}

impl MemoryBudget {
    /// Derives the limits; a budget that cannot hold one largest body is a configuration
    /// error naming what it would need.
    pub fn derive(
        budget_mb: u64,
        parse_threads: usize,
        max_body_bytes: usize,
        connections: usize,
    ) -> Result<MemoryBudget, ServerError> {
        let budget = budget_mb.saturating_mul(MIB);
        let (p, c, m) = (
            parse_threads.max(1) as u64,
            PIECE_BYTES as u64,
            max_body_bytes as u64,
        );
        let reserve = FIXED_RESERVE + connections as u64 * CACHE_PER_CONNECTION;
        let per_parse_thread = DECODERS + 12 * c + 2 * m;
        let pieces = (16 + 4 * p) * 2 * c;
        let fixed = reserve + p * per_parse_thread + pieces;
        let body_pool = budget.saturating_sub(fixed);
        if body_pool < m {
            return Err(ServerError::Budget {
                budget_mb,
                needed_mb: (fixed + m).div_ceil(MIB),
                parse_threads: parse_threads.max(1),
                max_body_bytes,
            });
        }
        Ok(MemoryBudget {
            budget,
            reserve,
            per_parse_thread,
            pieces,
            body_pool,
            whole_read_bytes: m,
        })
    }

    /// The body pool in KiB (the unit of its semaphore's permits).
    pub fn body_pool_kib(&self) -> u32 {
        (self.body_pool / 1024).min(u64::from(u32::MAX >> 3)) as u32
    }
}

/// The KiB of the body pool a body of `bytes` holds (at least 1).
pub fn body_kib(bytes: u64) -> u32 {
    bytes.div_ceil(1024).clamp(1, u64::from(u32::MAX >> 3)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_holds_several_largest_bodies() {
        let b = MemoryBudget::derive(512, 2, 32 << 20, 4).unwrap();
        assert_eq!(b.reserve, 128 * MIB);
        assert_eq!(b.per_parse_thread, (32 + 12 + 64) * MIB);
        assert_eq!(b.pieces, 48 * MIB);
        assert_eq!(b.body_pool, 120 * MIB);
        assert_eq!(
            b.reserve + 2 * b.per_parse_thread + b.pieces + b.body_pool,
            b.budget
        );
        assert_eq!(body_kib(0), 1);
        assert_eq!(body_kib(1025), 2);
    }

    #[test]
    fn a_budget_too_small_for_one_body_says_what_it_needs() {
        let e = MemoryBudget::derive(256, 2, 32 << 20, 4).unwrap_err();
        assert!(e.to_string().contains("needs at least 424 MiB"), "{e}");
        assert!(MemoryBudget::derive(256, 1, 8 << 20, 4).is_ok());
    }
}
