//! From a request line to its answer: [`answer`] parses, asks a
//! [`Backend`] and wraps the result; [`Daemon`] is the backend of a
//! running director (the published plan, the connection table, the rate
//! estimators, the health/VRRP desks and the control thread's call queue).
//! Tests drive [`answer`] with a fake backend.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam::channel;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::Value;
use xvs_config::edit::{ServerRef, ServiceRef};
use xvs_conn::ConnTable;

use super::data::{ConnsListing, Listing};
use super::protocol::{parse_request, Answer, Request};
use crate::estimator::RateTable;
use crate::shared::{ControlCall, ControlRequest, Shared};

/// How long `status` waits for the health thread to build a fresh one.
const STATUS_WAIT: Duration = Duration::from_secs(1);

/// How long a request waits for the control thread's answer (a reload
/// parses and compiles the whole file; the loop wakes every few ms).
pub const CONTROL_WAIT: Duration = Duration::from_secs(10);

/// What answers the requests.
pub trait Backend {
    fn listing(&self, only: Option<ServiceRef>) -> Result<Listing, String>;
    fn conns(&self, service: Option<ServiceRef>, real_server: Option<ServerRef>) -> ConnsListing;
    /// The JSON object, or (`text`) the text `xvs status` prints.
    fn status(&self, text: bool) -> Result<Value, String>;
    fn metrics(&self) -> String;
    /// The control thread's answer.
    fn control(&self, request: ControlRequest) -> Result<String, String>;
}

/// The answer to one request line.
pub fn answer(backend: &impl Backend, line: &str) -> Answer {
    let request = match parse_request(line) {
        Ok(r) => r,
        Err(e) => return Answer::error(e),
    };
    let data = match request {
        Request::List { service } => backend.listing(service).and_then(to_value),
        Request::Conns {
            service,
            real_server,
        } => to_value(backend.conns(service, real_server)),
        Request::Status { text } => backend.status(text),
        Request::Metrics => Ok(Value::String(backend.metrics())),
        Request::Control(request) => backend.control(request).map(Value::String),
    };
    match data {
        Ok(data) => Answer::ok(data),
        Err(e) => Answer::error(e),
    }
}

fn to_value(data: impl serde::Serialize) -> Result<Value, String> {
    serde_json::to_value(data).map_err(|e| format!("cannot encode the answer: {e}"))
}

/// The running director, as the API sees it.
#[derive(Debug)]
pub struct Daemon {
    pub shared: Arc<Shared>,
    pub table: Arc<ConnTable>,
    pub prometheus: PrometheusHandle,
    /// Sampled every 2 s by the API's accept loop.
    pub rates: Mutex<RateTable>,
}

impl Daemon {
    pub fn new(shared: Arc<Shared>, table: Arc<ConnTable>, prometheus: PrometheusHandle) -> Daemon {
        Daemon {
            shared,
            table,
            prometheus,
            rates: Mutex::new(RateTable::default()),
        }
    }

    /// One estimator tick over the published plan.
    pub fn sample_rates(&self) {
        let plan = self.shared.plan.load();
        self.rates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .sample(&plan);
    }

    fn status_text(&self) -> String {
        let shared = &self.shared;
        let mut out = match shared.health.ask(STATUS_WAIT) {
            Some(status) => status.render_text(),
            None => "health checking is starting\n".to_string(),
        };
        if let Some(v) = shared.vrrp.ask(STATUS_WAIT) {
            out.push('\n');
            out.push_str(&crate::vrrp_status::render_text(&v.instances));
        }
        if let Some(s) = shared.sync.load_full() {
            out.push('\n');
            out.push_str(&s.render_text());
        }
        if let Some(a) = shared.announce.load_full() {
            out.push('\n');
            out.push_str(&crate::announce::render_text(&a));
        }
        out
    }

    fn status_json(&self) -> Result<Value, String> {
        let shared = &self.shared;
        let status = shared
            .health
            .ask(STATUS_WAIT)
            .ok_or("health checking is starting; ask again in a moment")?;
        let mut value = to_value(&*status)?;
        if let Some(map) = value.as_object_mut() {
            if let Some(v) = shared.vrrp.ask(STATUS_WAIT) {
                map.insert("vrrp".into(), to_value(&v.instances)?);
            }
            if let Some(s) = shared.sync.load_full() {
                map.insert("sync".into(), to_value(&*s)?);
            }
            if let Some(a) = shared.announce.load_full() {
                map.insert("announce".into(), to_value(&*a)?);
            }
        }
        Ok(value)
    }
}

impl Backend for Daemon {
    fn listing(&self, only: Option<ServiceRef>) -> Result<Listing, String> {
        let plan = self.shared.plan.load();
        let rates = self
            .rates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        super::listing::listing(&plan, &rates, only)
    }

    fn conns(&self, service: Option<ServiceRef>, real_server: Option<ServerRef>) -> ConnsListing {
        super::listing::conns(&self.table, self.shared.now_secs(), service, real_server)
    }

    fn status(&self, text: bool) -> Result<Value, String> {
        if text {
            Ok(Value::String(self.status_text()))
        } else {
            self.status_json()
        }
    }

    fn metrics(&self) -> String {
        let rates = self
            .rates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        crate::export::render_metrics(&self.shared, &self.table, &self.prometheus, &rates)
    }

    fn control(&self, request: ControlRequest) -> Result<String, String> {
        call_control(&self.shared.calls, request, CONTROL_WAIT)
    }
}

/// Hand `request` to the control thread and wait up to `wait` for its
/// answer.
pub fn call_control(
    calls: &channel::Sender<ControlCall>,
    request: ControlRequest,
    wait: Duration,
) -> Result<String, String> {
    let (reply, answer) = channel::bounded(1);
    calls
        .send_timeout(ControlCall { request, reply }, wait)
        .map_err(|e| match e {
            channel::SendTimeoutError::Timeout(_) => {
                "the control thread is busy (its request queue is full); try again".to_string()
            }
            channel::SendTimeoutError::Disconnected(_) => "the daemon is stopping".to_string(),
        })?;
    match answer.recv_timeout(wait) {
        Ok(result) => result,
        Err(channel::RecvTimeoutError::Timeout) => Err(format!(
            "the control thread did not answer within {} s; the request may still \
             be carried out (see the daemon's log)",
            wait.as_secs_f64()
        )),
        Err(channel::RecvTimeoutError::Disconnected) => {
            Err("the daemon stopped before answering".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::request_line;
    use super::*;
    use serde_json::json;

    /// Answers every request with a recognisable value.
    struct Fake;

    impl Backend for Fake {
        fn listing(&self, only: Option<ServiceRef>) -> Result<Listing, String> {
            match only {
                Some(s) => Err(format!("no service {s}")),
                None => Ok(Listing {
                    conn_capacity: 7,
                    services: vec![],
                }),
            }
        }
        fn conns(&self, _: Option<ServiceRef>, real_server: Option<ServerRef>) -> ConnsListing {
            assert_eq!(
                real_server.map(|r| r.to_string()).as_deref(),
                Some("198.18.1.11:80")
            );
            ConnsListing {
                connections: vec![],
            }
        }
        fn status(&self, text: bool) -> Result<Value, String> {
            Ok(if text {
                json!("text")
            } else {
                json!({"services": []})
            })
        }
        fn metrics(&self) -> String {
            "xvs_up 1\n".into()
        }
        fn control(&self, request: ControlRequest) -> Result<String, String> {
            match request {
                ControlRequest::Reload => Ok("reloaded".into()),
                other => Err(format!("refused {other:?}")),
            }
        }
    }

    fn ask(command: &str, args: Value) -> Answer {
        answer(&Fake, &request_line(command, args))
    }

    #[test]
    fn each_command_reaches_its_backend_call() {
        assert_eq!(
            ask("list", Value::Null),
            Answer::ok(json!({"conn_capacity": 7, "services": []}))
        );
        assert_eq!(
            ask("list", json!({"service": "tcp:198.18.0.100:80"})),
            Answer::error("no service tcp:198.18.0.100:80")
        );
        assert_eq!(
            ask("conns", json!({"real_server": "198.18.1.11:80"})),
            Answer::ok(json!({"connections": []}))
        );
        assert_eq!(
            ask("status", json!({"text": true})),
            Answer::ok(json!("text"))
        );
        assert_eq!(
            ask("status", Value::Null),
            Answer::ok(json!({"services": []}))
        );
        assert_eq!(ask("metrics", Value::Null), Answer::ok(json!("xvs_up 1\n")));
        assert_eq!(ask("reload", Value::Null), Answer::ok(json!("reloaded")));
        assert_eq!(ask("diff", Value::Null), Answer::error("refused Diff"));
    }

    #[test]
    fn parse_errors_are_error_answers() {
        let a = answer(&Fake, "{\"version\":3,\"command\":\"list\"}\n");
        assert!(!a.ok);
        assert_eq!(a.version, 1);
        assert!(a.error.expect("an error").contains("version 3"));
        let a = answer(&Fake, "");
        assert!(a.error.expect("an error").starts_with("not a request"));
    }

    #[test]
    fn control_calls_wait_for_the_reply() {
        let (tx, rx) = channel::bounded::<ControlCall>(1);
        let worker = std::thread::spawn(move || {
            let call = rx.recv().expect("a call");
            assert!(matches!(call.request, ControlRequest::Save));
            call.reply.send(Ok("yaml".into())).expect("waiting");
            // Never answered: the caller gives up.
            let call = rx.recv().expect("a call");
            std::thread::sleep(Duration::from_millis(300));
            drop(call);
        });
        assert_eq!(
            call_control(&tx, ControlRequest::Save, Duration::from_secs(5)),
            Ok("yaml".to_string())
        );
        let err = call_control(&tx, ControlRequest::Diff, Duration::from_millis(100))
            .expect_err("no answer in time");
        assert!(err.contains("did not answer within 0.1 s"), "{err}");
        worker.join().expect("fake control thread");
        // The control thread is gone.
        let err =
            call_control(&tx, ControlRequest::Diff, Duration::from_millis(100)).expect_err("gone");
        assert_eq!(err, "the daemon is stopping");
    }

    #[test]
    fn dropped_reply_means_stopped() {
        let (tx, rx) = channel::bounded::<ControlCall>(1);
        let worker = std::thread::spawn(move || drop(rx.recv().expect("a call")));
        let err =
            call_control(&tx, ControlRequest::Reload, Duration::from_secs(5)).expect_err("dropped");
        assert_eq!(err, "the daemon stopped before answering");
        worker.join().expect("fake control thread");
    }
}
