//! CPU time of the benchmark process (the in-process Sluice server, its clients and
//! the baselines) plus its child processes (the tansu broker), from /proc: the
//! denominator of "events/s per core" (events per CPU-second actually used).

use std::sync::OnceLock;

fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// (ppid, utime + stime in ticks) of one process.
fn stat(path: &std::path::Path) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces), from field 3 on.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// CPU-seconds used so far by this process and its direct children.
pub fn seconds() -> f64 {
    let me = std::process::id();
    let mut ticks = stat(std::path::Path::new("/proc/self/stat")).map_or(0, |(_, t)| t);
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
                && let Some((ppid, t)) = stat(&entry.path().join("stat"))
                && ppid == me
            {
                ticks += t;
            }
        }
    }
    ticks as f64 / ticks_per_second()
}
