//! `armemu`: the ARM emulator as a process, for trying hub mode on one machine — ARM's
//! public IP reads, Entra ID's token endpoint and IMDS on one address, and a control
//! address where curl creates public IPs and switches faults (what a test does through
//! [`ArmEmu`]'s methods).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use fleetdns_armemu::ArmEmu;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// An Azure Resource Manager emulator (plain HTTP on loopback): public IP addresses
/// (api-version 2024-05-01), Traffic Manager (2022-04-01), Entra ID's token endpoint
/// (`POST /{tenant}/oauth2/v2.0/token`) and IMDS (`GET /metadata/identity/oauth2/token`).
/// Runs until interrupted (Ctrl-C or SIGTERM).
///
/// Control API (on --control), for curl:
///   PUT    /public-ips/RESOURCE-ID?address=A&label=L     create or replace a public IP
///                                                         (no address: not allocated yet)
///   DELETE /public-ips/RESOURCE-ID                        delete it (reads answer 404)
///   POST   /public-ips/down?on=true|false                 every public IP read answers 503
///   POST   /deny?scope=/subscriptions/S/resourceGroups/G&on=true|false
///                                                         403 AuthorizationFailed (no Reader role)
///   GET    /public-ips/reads?id=RESOURCE-ID               reads answered for one public IP
///   GET    /tokens                                        tokens issued, by method
#[derive(Parser, Debug)]
#[command(name = "armemu", version, verbatim_doc_comment)]
struct Args {
    /// Serve ARM, Entra ID and IMDS here (port 0 picks a free port).
    #[arg(long)]
    listen: String,
    /// Serve the control API here.
    #[arg(long)]
    control: SocketAddr,
    /// Lifetime of the tokens issued, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let emu = Arc::new(ArmEmu::start(&args.listen));
    emu.set_token_lifetime(args.token_lifetime);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("armemu: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.control)
            .await
            .map_err(|e| format!("control address {}: {e}", args.control))?;
        println!("armemu: serving {}", emu.url());
        println!(
            "armemu: control http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        tokio::spawn(serve(listener, emu.clone()));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<(), String>(())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armemu: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, emu: Arc<ArmEmu>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let emu = emu.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                let (code, body) = handle(&emu, &req);
                async move { Ok::<_, Infallible>(reply(code, &body)) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn reply(code: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!("{body}\n"))))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn handle(emu: &ArmEmu, req: &Request<hyper::body::Incoming>) -> (u16, Value) {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let q = |k: &str| {
        query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let on = || q("on") != Some("false");
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::POST, "/public-ips/down") => {
            emu.set_public_ips_down(on());
            (200, json!({"down": on()}))
        }
        (&Method::GET, "/public-ips/reads") => match q("id") {
            Some(id) => (200, json!({"id": id, "reads": emu.public_ip_reads(id)})),
            None => (400, json!({"error": "give ?id=<public IP resource id>"})),
        },
        (&Method::POST, "/deny") => {
            let scope = q("scope").unwrap_or_default();
            let parts: Vec<&str> = scope.split('/').collect();
            match parts.as_slice() {
                ["", s, sub, g, rg]
                    if s.eq_ignore_ascii_case("subscriptions")
                        && g.eq_ignore_ascii_case("resourceGroups") =>
                {
                    emu.deny_resource_group(sub, rg, on());
                    (200, json!({"scope": scope, "denied": on()}))
                }
                _ => (
                    400,
                    json!({"error": "give ?scope=/subscriptions/<id>/resourceGroups/<name>"}),
                ),
            }
        }
        (&Method::GET, "/tokens") => {
            let mut by: std::collections::BTreeMap<&str, u64> = Default::default();
            for i in emu.issued() {
                *by.entry(i.method).or_default() += 1;
            }
            (200, json!(by))
        }
        (m, p) if p.starts_with("/public-ips/subscriptions/") => {
            let id = &p["/public-ips".len()..];
            let ok = id.split('/').count() == 9
                && id
                    .to_ascii_lowercase()
                    .contains("/providers/microsoft.network/publicipaddresses/");
            if !ok {
                return (
                    400,
                    json!({"error": format!("{id} is not a public IP resource id (/subscriptions/S/resourceGroups/G/providers/Microsoft.Network/publicIPAddresses/N)")}),
                );
            }
            match *m {
                Method::PUT => {
                    emu.put_public_ip(id, q("address"), q("label"));
                    (
                        200,
                        json!({"id": id, "address": q("address"), "label": q("label")}),
                    )
                }
                Method::DELETE => {
                    emu.delete_public_ip(id);
                    (200, json!({"deleted": id}))
                }
                _ => (405, json!({"error": "PUT or DELETE"})),
            }
        }
        _ => (
            404,
            json!({"error": format!("unknown {} {path}; see armemu --help", req.method())}),
        ),
    }
}
