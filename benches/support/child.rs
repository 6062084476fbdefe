//! Runs a benchmark's child process and measures it: wall time, and peak
//! resident set size as `wait4` reports it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` with stdout discarded; returns its wall time and peak
/// memory in KiB. Panics when it does not exit with status 0.
pub fn measure(command: &mut Command) -> (Duration, i64) {
    let started = Instant::now();
    #[allow(clippy::zombie_processes, reason = "wait4 below reaps the child")]
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start passerelle");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; the pid is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    let exit_code = libc::WEXITSTATUS(status);
    assert!(
        libc::WIFEXITED(status) && exit_code == 0,
        "{command:?} exited with status {exit_code}"
    );
    (elapsed, usage.ru_maxrss)
}
