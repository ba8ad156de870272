//! `kubefake ADDR NAME [KUBECONFIG]`: runs one fake cluster for manual poking with kubectl or
//! curl until interrupted (Ctrl-C), writing a kubeconfig if a path is given.

use std::net::SocketAddr;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!(
            "usage: kubefake ADDR NAME [KUBECONFIG]   (e.g. kubefake 127.0.120.1:6443 hub /tmp/kc)"
        );
        std::process::exit(2);
    }
    let addr: SocketAddr = match args[1].parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bad address {}: {e}", args[1]);
            std::process::exit(2);
        }
    };
    let cluster = match fleetdns_kubefake::FakeCluster::start(addr, &args[2]) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kubefake: {e}");
            std::process::exit(1);
        }
    };
    if let Some(path) = args.get(3) {
        if let Err(e) = fleetdns_kubefake::write_kubeconfig(path, &[&cluster]) {
            eprintln!("writing {path}: {e}");
            std::process::exit(1);
        }
    }
    println!("kubefake {} serving {}", cluster.name(), cluster.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
}
