//! `overhear user add|list|remove|passwd`: who may log in to the inbox. Through the
//! running daemon's API (`/api/users`, with the API token) when it answers, else in
//! the database (created if there is none yet, so a fresh install can add its first
//! user before the first start).
//!
//! A password is asked on the terminal without echo, or read from one line of stdin
//! with `--password-stdin`; it is never an argument (it would show in `ps` and the
//! shell's history) and never printed.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::store::client::{ClientError, Reader};
use crate::store::{Store, StoreError};
use crate::web::users::{NewPassword, NewUser, UserInfo};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add someone who may log in (with the name or the email).
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a user (their sessions end).
    Remove { name: String },
    /// Set a new password (their sessions end).
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Reads a line from the terminal with echo off.
fn ask_password(prompt: &str) -> anyhow::Result<String> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("no terminal to ask the password on: pipe it with --password-stdin")?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; fd is open for the whole block.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut old) } != 0 {
        anyhow::bail!("cannot read the terminal's settings: use --password-stdin");
    }
    let mut quiet = old;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ICANON;
    let mut out = &tty;
    write!(out, "{prompt}")?;
    out.flush()?;
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    writeln!(out)?;
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let p = line.trim_end_matches(['\r', '\n']).to_string();
        if p.is_empty() {
            anyhow::bail!("no password on stdin");
        }
        return Ok(p);
    }
    let p = ask_password("Password: ")?;
    if ask_password("Again: ")? != p {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    Ok(p)
}

/// The daemon's API, else the database (created when missing).
fn reader(global: &super::Global) -> anyhow::Result<Reader> {
    match super::mentions::reader(global) {
        Err(e) => match e.downcast_ref::<ClientError>() {
            Some(ClientError::Store(StoreError::Missing(_))) => {
                let config = global.load_config()?;
                Ok(Reader::Direct(Store::open(&config.daemon.data_dir)?))
            }
            _ => Err(e),
        },
        ok => ok,
    }
}

fn seg(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes()).collect()
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let r = reader(global)?;
    match args.command {
        Command::Add {
            name,
            email,
            password_stdin,
        } => {
            let password = password(password_stdin)?;
            let info: UserInfo = match &r {
                Reader::Direct(s) => UserInfo::from(&s.add_user(
                    &name,
                    email.as_deref(),
                    &password,
                    chrono::Utc::now(),
                )?),
                Reader::Api { .. } => {
                    let body = NewUser {
                        name: name.clone(),
                        email,
                        password,
                    };
                    r.call(|c, api| c.post(format!("http://{api}/api/users")).json(&body))?
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "the daemon has no /api/users (is it older than this overhear?)"
                            )
                        })?
                }
            };
            println!(
                "added {}{}; they can log in at the inbox with {}",
                info.name,
                info.email
                    .as_deref()
                    .map(|e| format!(" <{e}>"))
                    .unwrap_or_default(),
                if info.email.is_some() {
                    "the name or the email"
                } else {
                    "the name"
                }
            );
        }
        Command::List { json } => {
            let users: Vec<UserInfo> = match &r {
                Reader::Direct(s) => s.users()?.iter().map(UserInfo::from).collect(),
                Reader::Api { .. } => r
                    .call(|c, api| c.get(format!("http://{api}/api/users")))?
                    .unwrap_or_default(),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                println!("no users yet: overhear user add NAME --email you@example.com");
            } else {
                for u in users {
                    println!(
                        "{:<20} {:<32} added {}",
                        u.name,
                        u.email.unwrap_or_default(),
                        u.created_at.format("%Y-%m-%d")
                    );
                }
            }
        }
        Command::Remove { name } => {
            match &r {
                Reader::Direct(s) => s.remove_user(&name)?,
                Reader::Api { .. } => {
                    let done: Option<serde::de::IgnoredAny> = r.call(|c, api| {
                        c.delete(format!("http://{api}/api/users/{}", seg(&name)))
                    })?;
                    if done.is_none() {
                        anyhow::bail!("no user is named {name:?}");
                    }
                }
            }
            println!("removed {name}; their sessions are logged out");
        }
        Command::Passwd {
            name,
            password_stdin,
        } => {
            let password = password(password_stdin)?;
            match &r {
                Reader::Direct(s) => s.set_password(&name, &password)?,
                Reader::Api { .. } => {
                    let body = NewPassword { password };
                    let done: Option<serde::de::IgnoredAny> = r.call(|c, api| {
                        c.post(format!("http://{api}/api/users/{}/password", seg(&name)))
                            .json(&body)
                    })?;
                    if done.is_none() {
                        anyhow::bail!("no user is named {name:?}");
                    }
                }
            }
            println!("password of {name} changed; their sessions are logged out");
        }
    }
    Ok(ExitCode::SUCCESS)
}
