//! scripts/lab-client.py as an open-loop load in the client namespace: a
//! GET through the VIP starts every `every` whether or not earlier ones
//! finished (up to 200 in flight), each on a new connection, and every
//! request is written to a timeline as it completes. A SYN lost to a dead
//! master delays no other request, so the timeline shows when new
//! connections were answered again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use xvs_lab::Lab;

use crate::stats::{parse_timeline, Sample};

#[derive(Debug)]
pub struct ClientLoop {
    child: Option<Child>,
    timeline: PathBuf,
}

impl ClientLoop {
    /// Start GETs of `url` every `every` for `duration`, each request
    /// written to `timeline` (JSON lines) as it completes.
    pub fn start(
        lab: &Lab,
        url: &str,
        duration: Duration,
        every: Duration,
        timeline: &Path,
    ) -> Result<ClientLoop> {
        let timeline = timeline.to_owned();
        let _ = std::fs::remove_file(&timeline);
        let script = xvs_lab::scripts_dir().join("lab-client.py");
        let servers: Vec<String> = (1..=lab.spec().real_servers)
            .map(|i| lab.rs_name(i))
            .collect();
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns_client(), "python3"])
            .arg(&script)
            .args(["http", url, "--timeout", "2"])
            .args(["--duration", &format!("{:.3}", duration.as_secs_f64())])
            .args(["--every", &format!("{:.3}", every.as_secs_f64())])
            .args(["--concurrency", "200"])
            .args(["--servers", &servers.join(",")])
            .arg("--timeline")
            .arg(&timeline)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", script.display()))?;
        Ok(ClientLoop {
            child: Some(child),
            timeline,
        })
    }

    /// Wait for the client to finish; every request it made.
    pub fn finish(mut self) -> Vec<Sample> {
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        parse_timeline(&std::fs::read_to_string(&self.timeline).unwrap_or_default())
    }
}

impl Drop for ClientLoop {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
