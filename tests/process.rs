//! The process runner (src/process.rs) with real programs (`sh`, `cat`, `sleep`): output,
//! stdin, failures with stderr's tail, time limits that kill the child, and the platform's
//! credentials kept out of the child's environment, for the blocking and the async runner.

use std::time::{Duration, Instant};

use zt::process::{ProcessError, Run};

fn sh(script: &str) -> Run {
    Run::new("sh", ["-c", script])
}

/// Both runners on the same `Run`, results side by side.
fn both(
    run: &Run,
) -> [(
    String,
    Result<zt::process::Finished, ProcessError>,
    Vec<String>,
); 2] {
    let mut lines = Vec::new();
    let blocking = run.blocking(|l| lines.push(l.to_owned()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut async_lines = Vec::new();
    let asynchronous = rt.block_on(run.run(|l| async_lines.push(l.to_owned())));
    [
        ("blocking".into(), blocking, lines),
        ("async".into(), asynchronous, async_lines),
    ]
}

#[test]
fn the_runner_runs_limits_and_strips_credentials() {
    // This test binary's own environment: a credential the children must not see.
    // SAFETY: this binary has this one test; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("BOT_GITHUB_TOKEN", "ghp_must_not_reach_the_child");
        std::env::set_var("ZT_PROCESS_TEST_VISIBLE", "inherited");
    }

    // Output, streamed stderr lines, inherited and explicit environment, no credential.
    let run = sh("echo out; echo err1 >&2; echo err2 >&2; echo \"${BOT_GITHUB_TOKEN-unset} $ZT_PROCESS_TEST_VISIBLE $EXTRA\"")
        .env("EXTRA", "given");
    for (which, result, lines) in both(&run) {
        let done = result.unwrap_or_else(|e| panic!("{which}: {e}"));
        assert_eq!(
            done.stdout_text(),
            "out\nunset inherited given\n",
            "{which}"
        );
        assert_eq!(lines, ["err1", "err2"], "{which}");
        assert_eq!(done.stderr_tail, ["err1", "err2"], "{which}");
    }

    // A URL with credentials a child prints (from a file it read) is cut before anyone sees it.
    let run = sh("echo 'fetch https://bot:ghp_leak@github.com/o/r.git failed' >&2; exit 1");
    for (which, result, lines) in both(&run) {
        let e = result.unwrap_err().to_string();
        let seen = format!("{e}\n{}", lines.join("\n"));
        assert!(!seen.contains("ghp_leak"), "{which}: {seen}");
        assert!(
            seen.contains("https://<redacted>@github.com/o/r.git"),
            "{which}: {seen}"
        );
    }

    // Input.
    let run = Run::new("cat", Vec::<&str>::new()).stdin(b"line one\nline two\n".to_vec());
    for (which, result, _) in both(&run) {
        assert_eq!(
            result.unwrap().stdout_text(),
            "line one\nline two\n",
            "{which}"
        );
    }

    // A failure names the command and its status and quotes stderr's last lines only.
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo \"line $i\" >&2; done; exit 3";
    for (which, result, _) in both(&sh(script)) {
        let e = result.unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("sh -c for i in"), "{which}: {text}");
        assert!(text.contains("(exit code 3)"), "{which}: {text}");
        assert!(
            text.contains("line 10") && text.contains("line 3"),
            "{which}: {text}"
        );
        assert!(!text.contains("line 2\n"), "{which}: only the tail: {text}");
    }

    // Over its limit: an error soon after the limit, and the child is gone (dead within a
    // moment: a kill is delivered asynchronously, and tokio reaps in the background).
    let marker = tempfile::tempdir().unwrap();
    for which in ["blocking", "async"] {
        let pidfile = marker.path().join(which);
        let run = sh(&format!("echo $$ > {}; exec sleep 30", pidfile.display()))
            .limit(Duration::from_millis(300));
        let t = Instant::now();
        let e = if which == "blocking" {
            run.blocking(|_| {}).unwrap_err()
        } else {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(run.run(|_| {})).unwrap_err()
        };
        assert!(matches!(e, ProcessError::TimedOut { .. }), "{which}: {e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{which}");
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let running = || {
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!running(), "{which}: the child {} still runs", pid.trim());
    }

    // A program that does not exist says so, as a spawn error.
    for (which, result, _) in both(&Run::new("/nonexistent/zt-no-such-program", ["x"])) {
        let e = result.unwrap_err();
        assert!(e.is_spawn(), "{which}: {e}");
        assert!(e.to_string().contains("zt-no-such-program"), "{which}: {e}");
    }
}
