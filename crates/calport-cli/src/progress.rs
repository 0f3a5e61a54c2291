//! Showing a run's progress on stderr: bars on a terminal, plain lines otherwise.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use calport_engine::{Outcome, PairReport, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// One progress bar per collection (items done / total, rate, ETA).
pub struct BarProgress {
    multi: MultiProgress,
    bars: Mutex<Vec<(usize, ProgressBar)>>,
}

impl BarProgress {
    /// Bars drawn on stderr.
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::new(),
            bars: Mutex::new(Vec::new()),
        }
    }

    fn bar(&self, index: usize) -> Option<ProgressBar> {
        let bars = self.bars.lock().ok()?;
        bars.iter()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b.clone())
    }
}

impl Progress for BarProgress {
    fn collection_started(&self, index: usize, label: &str, total: u64) {
        let bar = self.multi.add(ProgressBar::new(total));
        let style =
            ProgressStyle::with_template("{prefix:24!} [{bar:30}] {pos}/{len} {rate:>9} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}/s", state.per_sec());
                    },
                )
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        if let Ok(mut bars) = self.bars.lock() {
            bars.push((index, bar));
        }
    }

    fn items_finished(&self, index: usize, _outcome: Outcome, count: u64) {
        if let Some(bar) = self.bar(index) {
            bar.inc(count);
        }
    }

    fn collection_finished(&self, index: usize, report: &PairReport) {
        if let Some(bar) = self.bar(index) {
            bar.finish_with_message(report.mapping.clone());
        }
    }

    fn note(&self, text: &str) {
        let _ = self.multi.println(text);
    }
}

struct LineState {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_print: Instant,
}

/// Plain log lines on stderr, at most every few seconds per collection.
pub struct LineProgress {
    state: Mutex<Vec<(usize, LineState)>>,
}

const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl LineProgress {
    /// Lines on stderr.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(Vec::new()),
        }
    }
}

impl Progress for LineProgress {
    fn collection_started(&self, index: usize, label: &str, total: u64) {
        eprintln!("[{label}] {total} items");
        if let Ok(mut state) = self.state.lock() {
            let now = Instant::now();
            state.push((
                index,
                LineState {
                    label: label.to_owned(),
                    total,
                    done: 0,
                    started: now,
                    last_print: now,
                },
            ));
        }
    }

    fn items_finished(&self, index: usize, _outcome: Outcome, count: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let Some((_, line)) = state.iter_mut().find(|(i, _)| *i == index) else {
            return;
        };
        line.done += count;
        if line.last_print.elapsed() >= LINE_INTERVAL {
            line.last_print = Instant::now();
            let rate = line.done as f64 / line.started.elapsed().as_secs_f64().max(0.001);
            eprintln!(
                "[{}] {}/{} items, {:.1}/s",
                line.label, line.done, line.total, rate
            );
        }
    }

    fn collection_finished(&self, _index: usize, report: &PairReport) {
        let s = &report.stats;
        eprintln!(
            "[{}] {}: {} created, {} updated, {} unchanged, {} skipped, {} failed; {} verified, {} corrupted",
            report.source,
            report.mapping,
            s.created,
            s.updated,
            s.unchanged,
            s.skipped,
            s.failed,
            s.verified,
            s.corrupted
        );
    }

    fn note(&self, text: &str) {
        eprintln!("{text}");
    }
}
