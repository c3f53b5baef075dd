//! [`HuntProgress`]: how a caller hears about a hunt's reading (a terminal progress bar in the
//! binary; nothing in tests). The library never draws or times anything itself.

/// Receives the reading progress of a hunt. Called from the ingest workers, hence `Sync`.
pub trait HuntProgress: Sync {
    /// Reading starts; `total_bytes` is the inputs' size on disk (stdin not counted).
    fn started(&self, _total_bytes: u64) {}
    /// `bytes` more of the inputs (as stored on disk) have been read.
    fn advanced(&self, _bytes: u64) {}
    /// Reading is over (detection and the outputs follow).
    fn finished(&self) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl HuntProgress for NoProgress {}
