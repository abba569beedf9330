//! The `isola` command: runc's command line over isola-runtime. It parses, calls the library
//! and prints; errors become one line on stderr (and a JSON line in `--log`) and a non-zero exit.

mod log;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand, ValueEnum};
use isola_policy::NodeConfig;
use isola_runtime::{CreateArgs, ExecArgs, Runtime};

#[derive(Parser)]
#[command(name = "isola", version, about = "An OCI runtime for untrusted code: hardened Linux containers, or wasm inside them")]
struct Cli {
    /// State directory.
    #[arg(long, global = true, default_value = isola_runtime::DEFAULT_ROOT)]
    root: PathBuf,
    /// Log file (containerd passes one).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: log::LogFormat,
    /// Log debug detail.
    #[arg(long, global = true)]
    debug: bool,
    /// Manage cgroups through systemd (needs a running systemd).
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// Node policy file (default /etc/isola/config.toml when present, else built-in defaults).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, global = true, hide = true)]
    rootless: Option<String>,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct CreateOpts {
    /// Bundle directory (holds config.json).
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Write the init's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when the process has a terminal.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Extra file descriptors to pass (beyond stdio and LISTEN_FDS).
    #[arg(long, default_value_t = 0)]
    preserve_fds: i32,
    /// Accepted for runc compatibility; isola always pivots.
    #[arg(long, hide = true)]
    no_pivot: bool,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, hide = true)]
    no_new_keyring: bool,
    id: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create a container; its process waits for `start`.
    Create(CreateOpts),
    /// Start a created container.
    Start { id: String },
    /// Create and start; in the foreground, exit with the workload's code.
    Run {
        #[command(flatten)]
        opts: CreateOpts,
        /// Return once the container has started.
        #[arg(long, short = 'd')]
        detach: bool,
    },
    /// Print a container's OCI state as JSON.
    State { id: String },
    /// Send a signal to the container's init (or, with --all, every process).
    Kill {
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Remove a container (--force stops it first and cleans up after interrupted creates).
    Delete {
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// List containers.
    List {
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: Format,
        /// IDs only.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Run a new process in a running container.
    Exec {
        /// process.json of the new process.
        #[arg(long, short = 'p')]
        process: Option<PathBuf>,
        #[arg(long, short = 'd')]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(long, short = 't')]
        tty: bool,
        #[arg(long, short = 'e')]
        env: Vec<String>,
        #[arg(long)]
        cwd: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        preserve_fds: i32,
        /// UID[:GID] of the process (without --process).
        #[arg(long, short = 'u')]
        user: Option<String>,
        /// Supplementary group of the process, repeatable (without --process).
        #[arg(long = "additional-gids", short = 'g')]
        additional_gids: Vec<u32>,
        /// A capability to add (e.g. CAP_KILL), repeatable; the node policy's ceiling still holds.
        #[arg(long = "cap", short = 'c')]
        caps: Vec<String>,
        /// Set no_new_privs for the process (without --process).
        #[arg(long)]
        no_new_privs: bool,
        /// AppArmor profile of the process (without --process).
        #[arg(long)]
        apparmor: Option<String>,
        /// SELinux label of the process (without --process).
        #[arg(long)]
        process_label: Option<String>,
        /// Sub-cgroup of the container's cgroup to run the process in.
        #[arg(long)]
        cgroup: Option<String>,
        /// Exec even if the container is paused.
        #[arg(long)]
        ignore_paused: bool,
        id: String,
        /// Command and arguments (without --process).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List the processes of a container.
    Ps {
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: Format,
        id: String,
        /// Accepted for runc compatibility (ps options); ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Change a running container's resource limits.
    Update {
        /// LinuxResources JSON file, or - for stdin.
        #[arg(long, short = 'r')]
        resources: PathBuf,
        id: String,
    },
    /// Print the OCI features this runtime supports.
    Features,
    /// Compile wasm modules into the node's module cache ahead of time, for the engine that a
    /// container with the given annotations gets (a timeout or a fuel budget changes the code).
    Precompile {
        /// A container annotation, e.g. io.isola.wasm.timeout-ms=5000 (repeatable).
        #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_annotation)]
        annotations: Vec<(String, String)>,
        #[arg(required = true)]
        modules: Vec<PathBuf>,
    },
    /// Write a default config.json into the bundle directory.
    Spec {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
    },
    /// Package a .wasm module/component or a static ELF binary as an OCI image-layout tar.
    Image {
        /// The .wasm or static executable; it becomes /<basename> in the image.
        file: PathBuf,
        /// Image reference, e.g. docker.io/library/hello:1.0.
        #[arg(long)]
        name: String,
        /// Archive to write (for `ctr images import`, `podman load`).
        #[arg(long, short = 'o')]
        output: PathBuf,
        /// Argument appended to the entrypoint (repeatable).
        #[arg(long = "arg", allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Configure this node's containerd for the isola runtime handler (idempotent).
    Install {
        #[arg(long, default_value = isola_node::install::DEFAULT_CONTAINERD_CONFIG)]
        containerd_config: PathBuf,
        /// RuntimeClass handler name.
        #[arg(long, default_value = isola_node::install::DEFAULT_HANDLER)]
        handler: String,
        /// Absolute path of the isola binary on the node (default: this binary); with --shim,
        /// of containerd-shim-isola-v1 (default: the one beside this binary).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Run the handler's pods through isola's own shim (`io.containerd.isola.v1`, one
        /// process per pod, the runtime in process) instead of containerd's runc shim.
        #[arg(long)]
        shim: bool,
        /// State directory containerd passes to isola as --root.
        #[arg(long, default_value = isola_node::install::DEFAULT_RUNTIME_ROOT)]
        runtime_root: PathBuf,
        /// Print the change as a unified diff; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `KEY=VALUE` of `precompile --annotation`.
fn parse_annotation(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn main() -> ExitCode {
    // A tiered first start re-executes this binary to compile the module optimised in the
    // background (see isola_runtime::run_background_compile); never a user-facing command.
    if std::env::args_os().nth(1).is_some_and(|a| a == isola_runtime::BACKGROUND_COMPILE_ARG) {
        isola_runtime::run_background_compile();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("isola: {} (see isola --help)", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let logs_to_file = match log::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("isola: {e:#}");
            return ExitCode::from(1);
        }
    };
    // As runc: an exec whose process could not be started exits 255, other failures 1.
    let failure = if matches!(cli.command, Command::Exec { .. }) { 255 } else { 1 };
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            let msg = format!("{e:#}");
            if logs_to_file {
                tracing::error!("{msg}");
            }
            eprintln!("isola: {msg}");
            ExitCode::from(failure)
        }
    }
}

fn node_config(path: Option<&PathBuf>) -> anyhow::Result<NodeConfig> {
    let default = PathBuf::from(isola_policy::node::DEFAULT_PATH);
    let path = match path {
        Some(p) => p.clone(),
        None if default.exists() => default,
        None => return Ok(NodeConfig::default()),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("node policy {}", path.display()))?;
    NodeConfig::parse(&text).map_err(|e| anyhow!("node policy {}: {e}", path.display()))
}

fn create_args(o: &CreateOpts) -> CreateArgs {
    CreateArgs {
        bundle: o.bundle.clone(),
        pid_file: o.pid_file.clone(),
        console_socket: o.console_socket.clone(),
        preserve_fds: o.preserve_fds,
        stdio: None,
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&isola_runtime::features())?);
            return Ok(0);
        }
        Command::Spec { bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(anyhow!("{} exists; remove it first", path.display()));
            }
            let spec = oci_spec::runtime::Spec::default();
            std::fs::write(&path, serde_json::to_string_pretty(&spec)?).with_context(|| path.display().to_string())?;
            return Ok(0);
        }
        Command::Image { file, name, output, args } => {
            let req = isola_node::image::ImageRequest { file, name, output, args };
            let built = isola_node::image::build_image(&req)?;
            println!("wrote {} ({} {}, entrypoint {:?})", built.output.display(), built.platform, built.manifest_digest, built.entrypoint);
            return Ok(0);
        }
        Command::Install { containerd_config, handler, binary, shim, runtime_root, dry_run } => {
            let binary = match binary {
                Some(b) => b,
                None => {
                    let this = std::env::current_exe().context("finding this binary's path (pass --binary)")?;
                    if shim {
                        let beside = this.with_file_name(isola_node::install::SHIM_BINARY);
                        if !beside.is_file() {
                            return Err(anyhow!("{} not found beside this binary (install it there, or pass --binary)", beside.display()));
                        }
                        beside
                    } else {
                        this
                    }
                }
            };
            let shim = if shim { isola_node::install::Shim::Isola } else { isola_node::install::Shim::Runc };
            let opts = isola_node::install::InstallOptions { config_path: containerd_config, handler, binary, shim, runtime_root, dry_run };
            print!("{}", isola_node::install::install(&opts)?);
            return Ok(0);
        }
        _ => {}
    }
    let rt = Runtime::new(cli.root.clone(), node_config(cli.config.as_ref())?, cli.systemd_cgroup)?;
    match cli.command {
        Command::Create(o) => {
            rt.create(&o.id, &create_args(&o))?;
        }
        Command::Start { id } => rt.start(&id)?,
        Command::Run { opts, detach } => return Ok(rt.run(&opts.id, &create_args(&opts), detach)?),
        Command::State { id } => {
            // As runc's `state`: the owner is left empty there (`list` shows it).
            let state = isola_runtime::OciState { owner: String::new(), ..rt.state(&id)? };
            println!("{}", serde_json::to_string_pretty(&state)?)
        }
        Command::Kill { all, id, signal } => rt.kill(&id, &signal, all)?,
        Command::Delete { force, id } => rt.delete(&id, force)?,
        Command::List { format, quiet } => {
            let states = rt.list();
            match (format, quiet) {
                (_, true) => states.iter().for_each(|s| println!("{}", s.id)),
                (Format::Json, _) => println!("{}", serde_json::to_string(&states)?),
                (Format::Table, _) => {
                    println!("{:<24} {:<8} {:<10} {:<40} {:<32} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
                    for s in states {
                        println!("{:<24} {:<8} {:<10} {:<40} {:<32} {}", s.id, s.pid, s.status, s.bundle.display(), s.created, s.owner);
                    }
                }
            }
        }
        Command::Exec {
            process,
            detach,
            pid_file,
            console_socket,
            tty,
            env,
            cwd,
            preserve_fds,
            user,
            additional_gids,
            caps,
            no_new_privs,
            apparmor,
            process_label,
            cgroup,
            ignore_paused,
            id,
            command,
        } => {
            let args = ExecArgs {
                process,
                args: command,
                env,
                cwd,
                tty,
                user,
                additional_gids,
                caps,
                no_new_privs,
                apparmor,
                process_label,
                cgroup,
                ignore_paused,
                pid_file,
                console_socket,
                preserve_fds,
                detach,
                stdio: None,
            };
            return Ok(rt.exec(&id, &args)?);
        }
        Command::Ps { format, id, .. } => {
            let pids = rt.ps(&id)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string(&pids)?),
                Format::Table => {
                    println!("PID");
                    pids.iter().for_each(|p| println!("{p}"));
                }
            }
        }
        Command::Pause { id } => rt.pause(&id)?,
        Command::Resume { id } => rt.resume(&id)?,
        Command::Update { resources, id } => rt.update(&id, &resources)?,
        Command::Precompile { annotations, modules } => {
            for (module, compiled) in rt.precompile(&modules, &annotations.into_iter().collect())? {
                println!("{} {}", if compiled { "compiled" } else { "cached" }, module.display());
            }
        }
        Command::Features | Command::Spec { .. } | Command::Image { .. } | Command::Install { .. } => unreachable!("handled above"),
    }
    Ok(0)
}
