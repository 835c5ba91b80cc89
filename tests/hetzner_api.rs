//! The Hetzner Cloud client against the API double in tests/support/src/hetzner.rs, which
//! follows the documented endpoints: finding a server by IP across pages, enabling rescue with
//! the project's copy of our SSH key, resetting into it, a refused token, an unknown IP.

use std::time::Duration;

use zt::install::hetzner::{Hetzner, HetznerError};
use zt::install::rescue::{ActionTiming, md5_fingerprint, rescue, ssh_answers};
use zt::secret::SecretString;
use zt_test_support::hetzner::{FakeServer, HetznerDouble, ROOT_PASSWORD};

const TOKEN: &str = "hz-token-3b9d41";

fn servers(n: u64) -> Vec<FakeServer> {
    (1..=n)
        .map(|i| FakeServer {
            id: 1000 + i,
            name: format!("srv{i}"),
            ipv4: format!("198.51.100.{i}"),
            ipv6_net: format!("2001:db8:{i:x}::/64"),
            status: "running",
        })
        .collect()
}

const TIMING: ActionTiming = ActionTiming {
    timeout: Duration::from_secs(10),
    interval: Duration::from_millis(10),
};

#[tokio::test]
async fn rescues_the_server_with_that_ip_from_the_second_page() {
    let api = HetznerDouble::start(TOKEN, servers(60));
    let dir = tempfile::tempdir().unwrap();
    let line = zt_test_support::sshd::keygen(&dir.path().join("id"));
    let key =
        russh::keys::parse_public_key_base64(line.split_whitespace().nth(1).unwrap()).unwrap();
    // What `ssh-keygen -l -E md5` says, minus its "MD5:" prefix.
    let out = std::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "md5", "-f"])
        .arg(dir.path().join("id.pub"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let fp = md5_fingerprint(&key).unwrap();
    assert!(listed.contains(&format!("MD5:{fp} ")), "{fp} vs {listed}");
    api.state.lock().unwrap().ssh_keys.push((fp.clone(), 7));

    let client = Hetzner::new(&api.endpoint(), SecretString::new(TOKEN)).unwrap();
    let r = rescue(
        &client,
        "198.51.100.57".parse().unwrap(),
        Some(&key),
        TIMING,
    )
    .await
    .unwrap();
    assert_eq!((r.server.id, r.server.name.as_str()), (1057, "srv57"));
    assert_eq!(r.ssh_keys, [7]);
    assert_eq!(
        r.root_password.as_ref().map(|p| p.expose()),
        Some(ROOT_PASSWORD)
    );
    assert!(
        !format!("{r:?}").contains(ROOT_PASSWORD),
        "the password is never formatted"
    );

    let st = api.state.lock().unwrap();
    let calls: Vec<&str> = st.calls.iter().map(String::as_str).collect();
    assert_eq!(calls[0], "GET /v1/servers?page=1&per_page=50 ");
    assert_eq!(calls[1], "GET /v1/servers?page=2&per_page=50 ");
    assert_eq!(calls[2], format!("GET /v1/ssh_keys?fingerprint={fp} "));
    assert_eq!(
        calls[3],
        r#"POST /v1/servers/1057/actions/enable_rescue {"type":"linux64","ssh_keys":[7]}"#
    );
    assert!(
        calls[4].starts_with("GET /v1/actions/"),
        "waits for the action: {calls:?}"
    );
    assert_eq!(calls[5], "POST /v1/servers/1057/actions/reset ");
    assert!(calls[6].starts_with("GET /v1/actions/"), "{calls:?}");
    assert_eq!(calls.len(), 7);
    assert!(
        st.auth_headers
            .iter()
            .all(|h| h == &format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn finds_a_server_by_an_address_in_its_ipv6_network() {
    let api = HetznerDouble::start(TOKEN, servers(3));
    let client = Hetzner::new(&api.endpoint(), SecretString::new(TOKEN)).unwrap();
    let s = client
        .server_by_ip("2001:db8:2::1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(s.id, 1002);
}

#[tokio::test]
async fn a_refused_token_is_a_clear_error_without_the_token() {
    let api = HetznerDouble::start(TOKEN, servers(3));
    let client = Hetzner::new(&api.endpoint(), SecretString::new("wrong-token-55")).unwrap();
    let e = rescue(&client, "198.51.100.1".parse().unwrap(), None, TIMING)
        .await
        .unwrap_err();
    assert!(
        matches!(e, HetznerError::Unauthorized { status: 401, .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("refused the token from HETZNER_API_TOKEN"),
        "{msg}"
    );
    assert!(
        msg.contains("unauthorized: unable to authenticate"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-token-55") && !format!("{client:?}").contains("wrong-token-55"));
    assert!(
        api.state.lock().unwrap().calls.is_empty(),
        "nothing was done"
    );
}

#[tokio::test]
async fn an_ip_no_server_has_is_named_with_what_was_searched() {
    let api = HetznerDouble::start(TOKEN, servers(60));
    let client = Hetzner::new(&api.endpoint(), SecretString::new(TOKEN)).unwrap();
    let e = rescue(&client, "203.0.113.10".parse().unwrap(), None, TIMING)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, HetznerError::ServerNotFound { count: 60, .. }),
        "{msg}"
    );
    assert!(
        msg.contains(
            "no server in the Hetzner project has the IP 203.0.113.10 (searched 60 servers)"
        ),
        "{msg}"
    );
    let st = api.state.lock().unwrap();
    assert!(
        st.calls.iter().all(|c| c.starts_with("GET /v1/servers")),
        "no action on any server: {:?}",
        st.calls
    );
}

#[tokio::test]
async fn ssh_probe_tells_an_ssh_server_from_silence_and_other_protocols() {
    use tokio::io::AsyncWriteExt;
    let ssh = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (ssh_addr, other_addr) = (ssh.local_addr().unwrap(), other.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = ssh.accept().await {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_10.0\r\n").await;
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = other.accept().await {
            let _ = s.write_all(b"HTTP/1.1 400 Bad\r\n").await;
        }
    });
    let t = Duration::from_secs(5);
    assert_eq!(ssh_answers(ssh_addr, t).await, Ok(()));
    assert!(
        ssh_answers(other_addr, t)
            .await
            .unwrap_err()
            .contains("not SSH")
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(ssh_answers(closed, t).await.is_err());
}

#[tokio::test]
async fn a_server_that_is_off_is_powered_on_into_rescue() {
    let mut all = servers(2);
    all[1].status = "off";
    let api = HetznerDouble::start(TOKEN, all);
    let client = Hetzner::new(&api.endpoint(), SecretString::new(TOKEN)).unwrap();
    let r = rescue(&client, "198.51.100.2".parse().unwrap(), None, TIMING)
        .await
        .unwrap();
    assert_eq!(r.server.status, "off");
    let calls = api.state.lock().unwrap().calls.clone();
    assert!(
        calls
            .iter()
            .any(|c| c == "POST /v1/servers/1002/actions/enable_rescue {\"type\":\"linux64\"}"),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("POST /v1/servers/1002/actions/poweron")),
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.contains("/actions/reset")),
        "{calls:?}"
    );
}
