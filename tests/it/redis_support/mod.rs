//! A real `redis-server` for the global-scope tests: started on a free loopback port with no
//! persistence, stopped (killed) when dropped. Tests skip with `SKIP:` on stderr when the binary is
//! missing (CI installs Debian's `redis-server`, see `.ci/run`).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    password: Option<String>,
    /// How `cli` reaches the server (`-p PORT`, `--tls …`, `-s SOCKET`).
    cli_args: Vec<String>,
}

/// Whether `redis-server` and `redis-cli` can be run; prints `SKIP: …` when not.
pub fn available(test: &str) -> bool {
    let found = ["redis-server", "redis-cli"].iter().all(|bin| {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !found {
        eprintln!(
            "SKIP: {test}: redis-server/redis-cli not installed (apt-get install redis-server)"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(None)
    }

    /// With `requirepass PASSWORD` when given.
    pub fn start_with(password: Option<&str>) -> RedisServer {
        let port = free_port();
        let args = vec!["--port".to_string(), port.to_string()];
        RedisServer::launch(port, args, vec!["-p".into(), port.to_string()], password)
    }

    /// TLS only (no plain port), with the server certificate and key and its CA (PEM files).
    pub fn start_tls(cert: &Path, key: &Path, ca: &Path, password: Option<&str>) -> RedisServer {
        let port = free_port();
        let p = |p: &Path| p.display().to_string();
        let args = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            p(cert),
            "--tls-key-file".into(),
            p(key),
            "--tls-ca-cert-file".into(),
            p(ca),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        let cli = vec![
            "--tls".into(),
            "--cacert".into(),
            p(ca),
            "-p".into(),
            port.to_string(),
        ];
        RedisServer::launch(port, args, cli, password)
    }

    /// A unix socket only (no TCP port).
    pub fn start_unix(socket: &Path, password: Option<&str>) -> RedisServer {
        let s = socket.display().to_string();
        let args = vec![
            "--port".into(),
            "0".into(),
            "--unixsocket".into(),
            s.clone(),
            "--unixsocketperm".into(),
            "700".into(),
        ];
        RedisServer::launch(0, args, vec!["-s".into(), s], password)
    }

    fn launch(
        port: u16,
        args: Vec<String>,
        cli_args: Vec<String>,
        password: Option<&str>,
    ) -> RedisServer {
        let mut cmd = Command::new("redis-server");
        cmd.args(&args)
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--maxclients", "4000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(pw) = password {
            cmd.args(["--requirepass", pw]);
        }
        let server = RedisServer {
            port,
            child: Some(cmd.spawn().unwrap()),
            password: password.map(str::to_string),
            cli_args,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.cli(&["PING"]).trim() != "PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start ({:?})",
                server.cli_args
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis-cli -p PORT ARGS…`, its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(&self.cli_args);
        if let Some(pw) = &self.password {
            cmd.env("REDISCLI_AUTH", pw);
        }
        let out = cmd.args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Kill the server now (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
