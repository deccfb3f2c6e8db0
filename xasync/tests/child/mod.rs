//! Scenarios that run in a child process (this test binary, re-executed):
//! those that crash on purpose, or need a fresh process's environment.

use std::process::{Command, Output};

/// The environment variable naming the scenario a child runs.
const SCENARIO: &str = "XASYNC_TEST_SCENARIO";

/// The scenario this process should run, if it is a child. Call it from a
/// test named `child`.
pub fn scenario() -> Option<String> {
    std::env::var(SCENARIO).ok()
}

/// Runs `scenario` in a child process with `env` set; returns its output
/// and its standard error as text.
pub fn run(scenario: &str, env: &[(&str, &str)]) -> (Output, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, scenario)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}
