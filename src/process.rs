//! The one way kubectl zt runs another program (`git`, `kubectl kustomize`, `kind`): bounded by
//! a time limit, with the platform's credentials removed from the child's environment, stdin
//! closed unless input is given, and stderr lines passed to the caller as they arrive (for
//! `-v`), with the credentials of any URL in them cut out (a child may quote a URL from a file
//! it read). A child still running when its time is up, or when the caller's future is dropped
//! (Ctrl-C), is killed.
//!
//! [`Run::blocking`] serves synchronous callers (render, preview-patch) with no polling delay:
//! the wait happens on a helper thread and the caller waits on a channel with a deadline.
//! [`Run::run`] serves async stages on the tokio runtime.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt};

use crate::redact::url_credentials;

/// How many of the last stderr lines an error quotes.
pub const TAIL_LINES: usize = 8;

/// A program to run, and how.
#[derive(Debug, Clone)]
pub struct Run {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    limit: Duration,
}

/// What a program that exited 0 printed.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub stdout: Vec<u8>,
    /// Its last [`TAIL_LINES`] non-empty stderr lines.
    pub stderr_tail: Vec<String>,
}

impl Finished {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Why a run failed. Messages name the program and its arguments as given, never its
/// environment or input (which may hold secrets).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{command} did not finish within {}s", limit.as_secs_f32())]
    TimedOut { command: String, limit: Duration },
    #[error("{command} failed ({status}){}", tail_text(stderr_tail))]
    Failed {
        command: String,
        /// `exit code N` or `killed by a signal`.
        status: String,
        exit_code: Option<i32>,
        stderr_tail: Vec<String>,
    },
    #[error("{command}: {source}")]
    Io {
        command: String,
        source: std::io::Error,
    },
}

impl ProcessError {
    /// Whether the program could not be started at all (not installed, not executable).
    pub fn is_spawn(&self) -> bool {
        matches!(self, ProcessError::Spawn { .. })
    }
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(":\n    {}", tail.join("\n    "))
    }
}

fn status_text(status: ExitStatus) -> String {
    status.code().map_or_else(
        || "killed by a signal".to_owned(),
        |c| format!("exit code {c}"),
    )
}

/// Keeps the last `keep` non-empty lines.
fn keep_tail(tail: &mut Vec<String>, line: &str, keep: usize) {
    let line = line.trim_end();
    if line.is_empty() {
        return;
    }
    tail.push(line.to_owned());
    if tail.len() > keep {
        tail.remove(0);
    }
}

impl Run {
    /// `program` with `args`, one minute at most unless [`Run::limit`] says otherwise.
    pub fn new<I, S>(program: impl AsRef<OsStr>, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Run {
            program: program.as_ref().to_owned(),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            dir: None,
            env: Vec::new(),
            stdin: None,
            limit: Duration::from_secs(60),
        }
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn dir(mut self, dir: &Path) -> Run {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// An environment variable for the child (the rest is inherited, minus the credentials).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Bytes written to the child's stdin (then closed).
    pub fn stdin(mut self, bytes: Vec<u8>) -> Run {
        self.stdin = Some(bytes);
        self
    }

    pub fn limit(mut self, limit: Duration) -> Run {
        self.limit = limit;
        self
    }

    /// `program arg…` as a person would type it, for messages (URL credentials cut out).
    pub fn command_line(&self) -> String {
        let mut out = Path::new(&self.program)
            .file_name()
            .unwrap_or(&self.program)
            .to_string_lossy()
            .into_owned();
        for a in &self.args {
            out.push(' ');
            out.push_str(&a.to_string_lossy());
        }
        url_credentials(&out)
    }

    /// The child as configured here, std's `Command` (tokio's converts from it), stdin piped
    /// only when there is input.
    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        // None of the programs we run needs the platform's credentials.
        for var in crate::credentials::ALL {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    }

    fn spawn_error(&self, source: std::io::Error) -> ProcessError {
        ProcessError::Spawn {
            program: self.program.to_string_lossy().into_owned(),
            source,
        }
    }

    fn io_error(&self, source: std::io::Error) -> ProcessError {
        ProcessError::Io {
            command: self.command_line(),
            source,
        }
    }

    fn outcome(
        &self,
        status: ExitStatus,
        stdout: Vec<u8>,
        stderr_tail: Vec<String>,
    ) -> Result<Finished, ProcessError> {
        if status.success() {
            Ok(Finished {
                stdout,
                stderr_tail,
            })
        } else {
            Err(ProcessError::Failed {
                command: self.command_line(),
                status: status_text(status),
                exit_code: status.code(),
                stderr_tail,
            })
        }
    }

    /// Runs to the end on this thread; each stderr line goes to `on_line` as it arrives.
    pub fn blocking(&self, mut on_line: impl FnMut(&str)) -> Result<Finished, ProcessError> {
        let mut child = self.command().spawn().map_err(|e| self.spawn_error(e))?;
        let (Some(mut out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            return Err(self.io_error(std::io::Error::other("no output pipes")));
        };
        // Input on its own thread, so a child that writes before it reads cannot deadlock.
        let feeder = match (self.stdin.clone(), child.stdin.take()) {
            (Some(bytes), Some(mut pipe)) => Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })),
            _ => None,
        };
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            out.read_to_end(&mut buf).map(|_| buf)
        });
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        let err_reader = std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(url_credentials(&line)).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + self.limit;
        let mut tail = Vec::new();
        // The stderr lines, until the child closes stderr or the time is up.
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    on_line(&line);
                    keep_tail(&mut tail, &line, TAIL_LINES);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ProcessError::TimedOut {
                        command: self.command_line(),
                        limit: self.limit,
                    });
                }
            }
        }
        // stderr is closed: the child has exited or is about to, unless it closed stderr
        // early; wait on a thread so the deadline still holds.
        let pid = child.id();
        let (status_tx, status_rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = status_tx.send(());
            (child, status)
        });
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if status_rx.recv_timeout(left).is_err() {
            // Still running after its time: kill it through its pid (the waiter thread owns
            // the handle). The waiter has not reaped it (no status was sent), so the pid is
            // still this child's.
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            let _ = waiter.join();
            return Err(ProcessError::TimedOut {
                command: self.command_line(),
                limit: self.limit,
            });
        }
        let (_child, status) = waiter
            .join()
            .map_err(|_| self.io_error(std::io::Error::other("wait thread panicked")))?;
        let status = status.map_err(|e| self.io_error(e))?;
        let _ = err_reader.join();
        if let Some(f) = feeder {
            let _ = f.join();
        }
        let stdout = reader
            .join()
            .map_err(|_| self.io_error(std::io::Error::other("read thread panicked")))?
            .map_err(|e| self.io_error(e))?;
        self.outcome(status, stdout, tail)
    }

    /// Runs on the tokio runtime; each stderr line goes to `on_line` as it arrives. Dropping
    /// the future kills the child.
    pub async fn run(&self, mut on_line: impl FnMut(&str)) -> Result<Finished, ProcessError> {
        let mut cmd = tokio::process::Command::from(self.command());
        cmd.kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| self.spawn_error(e))?;
        let (Some(mut out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(self.io_error(std::io::Error::other("no output pipes")));
        };
        let input = child.stdin.take();
        let bytes = self.stdin.clone();
        let work = async {
            let feed = async {
                if let (Some(mut pipe), Some(bytes)) = (input, bytes) {
                    let _ = pipe.write_all(&bytes).await;
                }
            };
            let read_out = async {
                let mut buf = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut out, &mut buf)
                    .await
                    .map(|_| buf)
            };
            let read_err = stderr_lines(err, &mut on_line);
            let ((), stdout, tail) = tokio::join!(feed, read_out, read_err);
            let status = child.wait().await;
            (stdout, tail, status)
        };
        match tokio::time::timeout(self.limit, work).await {
            Ok((stdout, tail, status)) => {
                let stdout = stdout.map_err(|e| self.io_error(e))?;
                let status = status.map_err(|e| self.io_error(e))?;
                self.outcome(status, stdout, tail)
            }
            // `work` (and with it the child, kill_on_drop) is dropped here.
            Err(_) => Err(ProcessError::TimedOut {
                command: self.command_line(),
                limit: self.limit,
            }),
        }
    }
}

async fn stderr_lines(
    stream: impl AsyncRead + Unpin,
    on_line: &mut impl FnMut(&str),
) -> Vec<String> {
    let mut reader = tokio::io::BufReader::new(stream).lines();
    let mut tail = Vec::new();
    while let Ok(Some(line)) = reader.next_line().await {
        let line = url_credentials(&line);
        on_line(&line);
        keep_tail(&mut tail, &line, TAIL_LINES);
    }
    tail
}
