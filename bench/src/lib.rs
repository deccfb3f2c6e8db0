//! A small side-by-side benchmark harness: every benchmark measures xasync
//! and its peers in the same process, alternating, and prints the median
//! time per operation with the ratio to each peer.
//!
//! Medians over interleaved samples resist the noise of a shared machine
//! better than one long run per contender.

use std::time::Instant;

/// One contender in a comparison: a name and a routine that performs
/// `iters` operations.
pub struct Contender<'a> {
    name: &'static str,
    run: Box<dyn FnMut(u64) + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender running `run(iters)`.
    pub fn new(name: &'static str, run: impl FnMut(u64) + 'a) -> Self {
        Contender {
            name,
            run: Box::new(run),
        }
    }
}

/// Median nanoseconds per operation of each contender, in input order.
pub fn measure(contenders: &mut [Contender<'_>], iters: u64, samples: usize) -> Vec<f64> {
    let mut times = vec![Vec::with_capacity(samples); contenders.len()];
    for c in contenders.iter_mut() {
        (c.run)(iters / 10 + 1); // warm up
    }
    for _ in 0..samples {
        for (c, t) in contenders.iter_mut().zip(&mut times) {
            let start = Instant::now();
            (c.run)(iters);
            t.push(start.elapsed().as_nanos() as f64 / iters as f64);
        }
    }
    times.into_iter().map(median).collect()
}

/// The median of `values`.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Whether the benchmark `title` was selected: every argument that is not a
/// flag (cargo passes `--bench`) must occur in the title.
pub fn selected(title: &str) -> bool {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .all(|a| title.contains(&a))
}

/// Measures the contenders (the first is xasync) and prints one line each
/// with its median and, for peers (names not starting with "xasync"), the
/// ratio of the first contender's time to theirs: below 1 means xasync is
/// faster. Skipped (and empty) unless [`selected`].
pub fn compare(
    title: &str,
    mut contenders: Vec<Contender<'_>>,
    iters: u64,
    samples: usize,
) -> Vec<f64> {
    if !selected(title) {
        return Vec::new();
    }
    let medians = measure(&mut contenders, iters, samples);
    println!("{title}");
    for (c, m) in contenders.iter().zip(&medians) {
        if c.name.starts_with("xasync") {
            println!("  {:<28} {:>10.2} ns/op", c.name, m);
        } else {
            let (ours, ratio) = (contenders[0].name, medians[0] / m);
            println!(
                "  {:<28} {:>10.2} ns/op   {ours} / {} = {ratio:.3}",
                c.name, m, c.name
            );
        }
    }
    medians
}
