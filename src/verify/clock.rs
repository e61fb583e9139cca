//! The default clock of [`Validation`](crate::Validation): Unix seconds, read cheaply.
//!
//! `exp` and `nbf` are whole seconds, so the request path does not need a precise wall clock,
//! whose read (`clock_gettime(CLOCK_REALTIME)`) costs 20 ns on an idle x86-64 host and about
//! 70 ns on a loaded one. This clock reads the kernel's coarse monotonic clock instead
//! (`CLOCK_MONOTONIC_COARSE` through `coarsetime`, about 13 ns, a tick of 1–4 ms) and adds the
//! offset to the wall clock, taken again from `SystemTime` at most once a second. So it is
//! within one tick of the wall clock, either way, and follows a step of the wall clock (NTP, an
//! operator) within a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `coarsetime` ticks: 32.32 fixed-point seconds.
const TICKS_PER_SECOND: u64 = 1 << 32;

/// The wall clock minus the monotonic one, in ticks (wrapping); 0 until first set.
static OFFSET: AtomicU64 = AtomicU64::new(0);
/// The monotonic time `OFFSET` was last taken at, in ticks.
static TAKEN_AT: AtomicU64 = AtomicU64::new(0);

/// Seconds since the Unix epoch (0 for a clock set before it).
pub(crate) fn unix_now() -> i64 {
    let mono = coarsetime::Instant::now_without_cache_update().as_ticks();
    let offset = OFFSET.load(Ordering::Relaxed);
    let taken_at = TAKEN_AT.load(Ordering::Relaxed);
    let offset = if offset == 0 || mono.wrapping_sub(taken_at) >= TICKS_PER_SECOND {
        retake(mono)
    } else {
        offset
    };
    seconds(mono.wrapping_add(offset))
}

/// Takes the offset to the wall clock again, at monotonic time `mono`.
#[cold]
fn retake(mono: u64) -> u64 {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        (d.as_secs() << 32) + ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
    });
    // Never 0, which means "unset" (a difference of exactly 0 ticks is off by one 2^-32 s).
    let offset = wall.wrapping_sub(mono).max(1);
    // Each store is consistent on its own: a reader that sees the new offset with the old
    // time only retakes it once more.
    OFFSET.store(offset, Ordering::Relaxed);
    TAKEN_AT.store(mono, Ordering::Relaxed);
    offset
}

fn seconds(ticks: u64) -> i64 {
    i64::try_from(ticks / TICKS_PER_SECOND).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall() -> i64 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        i64::try_from(secs).unwrap()
    }

    #[test]
    fn it_reads_the_wall_clock_in_whole_seconds() {
        // Bracketed by two reads of the wall clock: it is within a coarse tick of it, so it
        // can read the second before or after when a second starts within that tick.
        for _ in 0..1000 {
            let before = wall();
            let now = unix_now();
            let after = wall();
            assert!(
                now >= before - 1 && now <= after + 1,
                "{before} {now} {after}"
            );
        }
    }

    #[test]
    fn ticks_convert_to_whole_seconds() {
        assert_eq!(seconds(0), 0);
        assert_eq!(seconds(TICKS_PER_SECOND - 1), 0);
        assert_eq!(seconds(1_700_000_000 * TICKS_PER_SECOND + 5), 1_700_000_000);
    }
}
