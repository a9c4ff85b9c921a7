//! A fault-injecting HTTP endpoint that sits between the daemon and moto.
//!
//! moto answers every call at once and never fails the way AWS does under load or over a bad
//! network. A [`FaultProxy`] forwards each request to moto unchanged until a test tells it
//! otherwise, through the handle it holds: answer EC2's throttling error, hang, forward a
//! call and then drop its answer, or stop listening altogether. The daemon is aimed at it
//! with `AWS_ENDPOINT_URL_EC2` (EC2 alone) or `AWS_ENDPOINT_URL` (every service), so the
//! shipped binary runs exactly as it would against AWS.
//!
//! The proxy runs on its own thread and runtime, so that it keeps serving while a test blocks
//! (for instance in [`super::Daemon::start`], which waits for the daemon's start-up calls).
//! Every request is counted by its API action: `Action=` in a query-protocol body (EC2, STS),
//! or the operation named by `X-Amz-Target` (JSON protocols such as SSM).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// What the proxy does to a request a [`Rule`] matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer 503 with EC2's `RequestLimitExceeded` error, without forwarding.
    Throttle,
    /// Accept the request and never answer it; the connection is closed only when the proxy
    /// is healed, told to refuse connections, or dropped.
    Hang,
    /// Forward the request, let moto act on it, then close the connection without answering.
    DropResponse,
}

/// Which requests get a fault, and how many times.
#[derive(Clone, Debug)]
pub struct Rule {
    fault: Fault,
    action: Option<String>,
    body_contains: Option<String>,
    remaining: Option<u32>,
}

impl Rule {
    fn new(fault: Fault) -> Rule {
        Rule {
            fault,
            action: None,
            body_contains: None,
            remaining: None,
        }
    }

    /// Every matching request is throttled until the rule is used up or cleared.
    pub fn throttle() -> Rule {
        Rule::new(Fault::Throttle)
    }

    pub fn hang() -> Rule {
        Rule::new(Fault::Hang)
    }

    pub fn drop_response() -> Rule {
        Rule::new(Fault::DropResponse)
    }

    /// Only requests for this API action (`DescribeInstances`, `RunInstances` …).
    pub fn action(mut self, action: &str) -> Rule {
        self.action = Some(action.to_string());
        self
    }

    /// Only requests whose raw body contains `text` (form-encoded, so `prism%3Alaunch-token`
    /// for a filter on the launch-token tag).
    pub fn body_contains(mut self, text: &str) -> Rule {
        self.body_contains = Some(text.to_string());
        self
    }

    /// Applies to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Rule {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, action: &str, body: &[u8]) -> bool {
        self.action.as_deref().is_none_or(|a| a == action)
            && self.body_contains.as_deref().is_none_or(|text| {
                body.windows(text.len().max(1))
                    .any(|window| window == text.as_bytes())
            })
    }
}

/// How one request was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Forwarded,
    Throttled,
    Hung,
    /// Forwarded, and moto's answer thrown away.
    Dropped,
    /// moto could not be reached; answered 502.
    UpstreamFailed,
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Call {
    pub action: String,
    pub at: Instant,
    pub outcome: Outcome,
}

/// Shared between the handle and the serving thread.
struct Shared {
    upstream: String,
    http: reqwest::Client,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<Call>>,
    /// Whether the proxy accepts connections.
    listening: watch::Sender<bool>,
    /// Bumped to close every open connection and release every hung request.
    cut: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fault proxy; it stops when dropped.
pub struct FaultProxy {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that forwards to the tests' moto.
    pub fn start() -> FaultProxy {
        FaultProxy::start_to(&super::moto_url())
    }

    /// Starts a proxy on a free loopback port that forwards to `upstream`.
    pub fn start_to(upstream: &str) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            rules: Mutex::default(),
            calls: Mutex::default(),
            listening: watch::Sender::new(true),
            cut: watch::Sender::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    _ = accept_loop(serving, address, listener) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        FaultProxy {
            shared,
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Adds a rule; the first rule that matches a request decides its fault.
    pub fn add(&self, rule: Rule) {
        lock(&self.shared.rules).push(rule);
    }

    /// Answers the next `n` calls of `action` with a 503 `RequestLimitExceeded`.
    pub fn throttle(&self, action: &str, n: u32) {
        self.add(Rule::throttle().action(action).times(n));
    }

    /// Closes every open connection, releases hung requests, and stops accepting new
    /// connections: callers get "connection refused" until [`FaultProxy::heal`].
    pub fn refuse(&self) {
        self.shared.listening.send_replace(false);
        self.shared.cut.send_modify(|n| *n += 1);
    }

    /// Back to forwarding everything: rules cleared, hung requests released (their
    /// connections closed), listening again.
    pub fn heal(&self) {
        lock(&self.shared.rules).clear();
        self.shared.cut.send_modify(|n| *n += 1);
        self.shared.listening.send_replace(true);
    }

    /// Every request seen so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    /// How many `action` requests arrived, whatever happened to them.
    pub fn received(&self, action: &str) -> usize {
        self.count(action, |_| true)
    }

    /// How many `action` requests reached moto (answered or with the answer dropped).
    pub fn forwarded(&self, action: &str) -> usize {
        self.count(action, |o| {
            matches!(o, Outcome::Forwarded | Outcome::Dropped)
        })
    }

    /// How many `action` requests got `outcome`.
    pub fn outcomes(&self, action: &str, outcome: Outcome) -> usize {
        self.count(action, |o| o == outcome)
    }

    fn count(&self, action: &str, keep: impl Fn(Outcome) -> bool) -> usize {
        lock(&self.shared.calls)
            .iter()
            .filter(|c| c.action == action && keep(c.outcome))
            .count()
    }

    /// Requests per action, for failure messages.
    pub fn summary(&self) -> BTreeMap<String, BTreeMap<String, usize>> {
        let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for call in lock(&self.shared.calls).iter() {
            *out.entry(call.action.clone())
                .or_default()
                .entry(format!("{:?}", call.outcome))
                .or_default() += 1;
        }
        out
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.cut.send_modify(|n| *n += 1);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections while the proxy is listening; closes the socket while it is not, and
/// binds the same port again when told to listen.
async fn accept_loop(shared: Arc<Shared>, address: SocketAddr, first: TcpListener) {
    let mut listening = shared.listening.subscribe();
    let mut listener = Some(first);
    loop {
        if !*listening.borrow_and_update() {
            listener = None;
        }
        match &listener {
            Some(bound) => {
                tokio::select! {
                    accepted = bound.accept() => {
                        if let Ok((stream, _)) = accepted {
                            tokio::spawn(serve_connection(shared.clone(), stream));
                        }
                    }
                    _ = listening.changed() => {}
                }
            }
            None => {
                if listening.changed().await.is_err() {
                    return;
                }
                if *listening.borrow() {
                    listener = Some(rebind(address).await);
                }
            }
        }
    }
}

async fn rebind(address: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(address).await {
            Ok(listener) => return listener,
            Err(error) if Instant::now() < deadline => {
                eprintln!("fault proxy: cannot bind {address} again yet ({error})");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("fault proxy: cannot listen on {address} again: {error}"),
        }
    }
}

/// Serves one connection until it ends or the proxy cuts every connection.
async fn serve_connection(shared: Arc<Shared>, stream: tokio::net::TcpStream) {
    let mut cut = shared.cut.subscribe();
    cut.borrow_and_update();
    let handler = shared.clone();
    let service = service_fn(move |request| handle(handler.clone(), request));
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = cut.changed() => {}
    }
}

/// The error that makes hyper close a connection without writing a response.
#[derive(Debug)]
struct CloseWithoutAnswer;

impl std::fmt::Display for CloseWithoutAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closed without an answer, on purpose")
    }
}

impl std::error::Error for CloseWithoutAnswer {}

type ProxyResponse = Result<Response<Full<Bytes>>, CloseWithoutAnswer>;

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> ProxyResponse {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(CloseWithoutAnswer),
    };
    let action = action_of(&parts, &body);
    let fault = {
        let mut rules = lock(&shared.rules);
        let found = rules.iter().position(|r| r.matches(&action, &body));
        found.map(|index| {
            let fault = rules[index].fault;
            if let Some(remaining) = rules[index].remaining.as_mut() {
                *remaining = remaining.saturating_sub(1);
                if *remaining == 0 {
                    rules.remove(index);
                }
            }
            fault
        })
    };
    let record = |outcome| {
        lock(&shared.calls).push(Call {
            action: action.clone(),
            at: Instant::now(),
            outcome,
        });
    };
    match fault {
        Some(Fault::Throttle) => {
            record(Outcome::Throttled);
            Ok(throttled())
        }
        Some(Fault::Hang) => {
            record(Outcome::Hung);
            let mut cut = shared.cut.subscribe();
            cut.borrow_and_update();
            let _ = cut.changed().await;
            Err(CloseWithoutAnswer)
        }
        Some(Fault::DropResponse) => match forward(&shared, parts, body).await {
            Ok(_) => {
                record(Outcome::Dropped);
                Err(CloseWithoutAnswer)
            }
            Err(response) => {
                record(Outcome::UpstreamFailed);
                Ok(response)
            }
        },
        None => match forward(&shared, parts, body).await {
            Ok(response) => {
                record(Outcome::Forwarded);
                Ok(response)
            }
            Err(response) => {
                record(Outcome::UpstreamFailed);
                Ok(response)
            }
        },
    }
}

/// The API action of a request: `Action=` in the form body or the query, else the operation
/// in `X-Amz-Target` (`AmazonSSM.GetParameter` → `GetParameter`), else `unknown`.
fn action_of(parts: &hyper::http::request::Parts, body: &[u8]) -> String {
    let from_form = |bytes: &[u8]| {
        form_urlencoded::parse(bytes)
            .find(|(key, _)| key == "Action")
            .map(|(_, value)| value.into_owned())
    };
    if let Some(action) = from_form(body) {
        return action;
    }
    if let Some(action) = parts.uri.query().and_then(|q| from_form(q.as_bytes())) {
        return action;
    }
    parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .map_or_else(|| "unknown".to_string(), str::to_string)
}

/// EC2's answer to a throttled call, as the query protocol writes it.
fn throttled() -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
         <Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>\
         </Error></Errors><RequestID>{}</RequestID></Response>",
        uuid::Uuid::new_v4()
    );
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header("content-type", "text/xml;charset=UTF-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Headers that describe one hop, not the message.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

/// Sends the request on to moto and returns its answer, or a 502 when moto cannot be reached.
async fn forward(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Response<Full<Bytes>>> {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut outgoing = shared
        .http
        .request(parts.method.clone(), format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name.as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let bad_gateway = |message: String| {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Full::new(Bytes::from(message)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    };
    let answer = outgoing
        .send()
        .await
        .map_err(|e| bad_gateway(format!("fault proxy: moto unreachable: {e}")))?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !hop_by_hop(name.as_str()) {
            response = response.header(name, value);
        }
    }
    let bytes = answer
        .bytes()
        .await
        .map_err(|e| bad_gateway(format!("fault proxy: moto's answer broke off: {e}")))?;
    Ok(response
        .body(Full::new(bytes))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
