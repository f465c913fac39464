//! `nfsim`: the command-line face of the engine, for real node dumps and scripts.
//!
//! `nfsim check FILE|-` validates (and with `--lint` also reports rules that
//! can never match and chains never reached), `nfsim fmt FILE|-` prints the
//! canonical iptables-save text (or, with `--output`, the `iptables` commands
//! that rebuild the ruleset, or its nftables translation), `nfsim trace
//! SCENARIO.json|-` sends a scenario's packets through the host. Exit codes: 0
//! fine (warnings allowed), 1 errors in the input, 2 usage or I/O problems
//! (clap's usage errors exit 2 too; `--help` and `--version` exit 0). All
//! logic lives in the `nfsim` engine; this file declares the flags (clap),
//! reads files and prints.

use clap::{Args, Parser, Subcommand, ValueEnum};
use nfsim::text::diagnostic::{locate, render_terminal};
use nfsim::{InputFormat, Parsed};
use std::io::{Read, Write};
use std::process::ExitCode;

/// Check, format and trace iptables rulesets.
#[derive(Parser)]
#[command(
    name = "nfsim",
    version,
    // As before: a repeated option takes its last value.
    args_override_self = true,
    after_help = "Exit status: 0 no errors (warnings allowed), 1 errors in the input, \
                  2 usage or I/O problems."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and validate a ruleset
    ///
    /// Diagnostics go to stderr (with --format json, to stdout as JSON).
    Check(CheckArgs),
    /// Print the ruleset's canonical iptables-save rendering
    ///
    /// With --output commands, the iptables commands that rebuild it; with
    /// --output nft, nftables rules as iptables-restore-translate writes them.
    Fmt(FmtArgs),
    /// Send a scenario's packets through the host and print what happened
    Trace(TraceArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// The ruleset, or - for standard input
    #[arg(value_name = "FILE|-")]
    file: String,
    /// How to print the diagnostics
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Force the input format (default: detected)
    #[arg(long, value_enum)]
    input: Option<InputArg>,
    /// Also warn of rules that can never match and chains never reached
    #[arg(long)]
    lint: bool,
}

#[derive(Args)]
struct FmtArgs {
    /// The ruleset, or - for standard input
    #[arg(value_name = "FILE|-")]
    file: String,
    /// Force the input format (default: detected)
    #[arg(long, value_enum)]
    input: Option<InputArg>,
    /// What to print
    #[arg(long, value_enum, default_value_t = Output::Save)]
    output: Output,
}

#[derive(Args)]
struct TraceArgs {
    /// The scenario (JSON), or - for standard input
    #[arg(value_name = "SCENARIO.json|-")]
    file: String,
    /// Another sample of the random choices (overrides the scenario's seed)
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The iptables that loaded the ruleset, overriding the scenario's
    /// "backend"; it decides where the security table runs
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// Every outcome of the random choices, with its probability
    /// (a mode of its own: not with --batch)
    #[arg(long, conflicts_with = "batch")]
    all_branches: bool,
    /// Replay one branch of the random choices: 1 (the statistic rule
    /// matched) or 0 per choice, in order, as --all-branches lists them in
    /// "choices"; choices beyond BITS take the match
    #[arg(long, value_name = "BITS", value_parser = bits,
          conflicts_with_all = ["batch", "all_branches", "seed"])]
    choices: Option<Choices>,
    /// Send N copies of each packet (each a new connection) and count
    /// fates, endpoints and rule hits
    #[arg(long, value_name = "N", value_parser = positive)]
    batch: Option<u64>,
    /// How to print the traces
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// `--batch`'s value: a number above zero.
fn positive(v: &str) -> Result<u64, String> {
    v.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "a positive number is needed".to_string())
}

/// `--choices`' value: one random choice per bit.
#[derive(Clone)]
struct Choices(Vec<bool>);

/// `--choices`' value: a string of 0s and 1s (empty: every choice matches).
fn bits(v: &str) -> Result<Choices, String> {
    v.chars()
        .map(|c| match c {
            '0' => Ok(false),
            '1' => Ok(true),
            _ => Err(format!("expected 0 or 1 for each choice, found {c:?}")),
        })
        .collect::<Result<_, _>>()
        .map(Choices)
}

/// A branch's choices as `--choices` takes them.
fn bit_string(choices: impl IntoIterator<Item = bool>) -> String {
    choices
        .into_iter()
        .map(|c| if c { '1' } else { '0' })
        .collect()
}

/// How `check` and `trace` print.
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// `--input`'s values.
#[derive(Clone, Copy, ValueEnum)]
enum InputArg {
    /// iptables-save / iptables-restore text
    Save,
    /// A script of `iptables ...` commands
    Commands,
}

impl From<InputArg> for InputFormat {
    fn from(i: InputArg) -> InputFormat {
        match i {
            InputArg::Save => InputFormat::Save,
            InputArg::Commands => InputFormat::Commands,
        }
    }
}

/// What `fmt` prints.
#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Output {
    /// Canonical iptables-save text
    Save,
    /// iptables commands that rebuild the ruleset (-P, -N, -A; shell-quoted)
    Commands,
    /// nftables, as iptables-restore-translate writes it
    Nft,
}

/// `--backend`'s values.
#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    /// iptables-nft (`iptables` on current distributions)
    Nft,
    /// iptables-legacy (ip_tables)
    Legacy,
}

impl From<BackendArg> for nfsim::path::pipeline::Backend {
    fn from(b: BackendArg) -> nfsim::path::pipeline::Backend {
        match b {
            BackendArg::Nft => nfsim::path::pipeline::Backend::Nft,
            BackendArg::Legacy => nfsim::path::pipeline::Backend::Legacy,
        }
    }
}

/// The input text: a regular file (or stdin redirected from one) is mapped
/// rather than copied, since dumps run to tens of megabytes; anything else
/// (a pipe, a terminal) is read.
enum Input {
    Mapped(memmap2::Mmap),
    Read(String),
}

impl Input {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Input::Read(s) => std::borrow::Cow::Borrowed(s),
            Input::Mapped(m) => match utf8_in_halves(m) {
                Some(text) => std::borrow::Cow::Borrowed(text),
                None => String::from_utf8_lossy(m),
            },
        }
    }
}

/// `bytes` as text if it is valid UTF-8, checked in two halves at once (the
/// check reads tens of megabytes from memory; two cores read them faster).
fn utf8_in_halves(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < 1 << 20 {
        return std::str::from_utf8(bytes).ok(); // not worth a thread
    }
    // Cut after a newline: an ASCII byte is never inside a multi-byte character,
    // so the whole is valid exactly when both halves are.
    let cut = bytes[bytes.len() / 2..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| bytes.len() / 2 + p + 1);
    let (a, b) = bytes.split_at(cut);
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| std::str::from_utf8(b).is_ok());
        (
            std::str::from_utf8(a).is_ok(),
            second.join().unwrap_or(false),
        )
    });
    if first && second {
        // SAFETY: both halves are valid UTF-8 and the cut is at a character
        // boundary (just after an ASCII newline), so the whole is valid.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

fn read_input(file: &str) -> std::io::Result<Input> {
    use std::os::fd::AsFd;
    let file = if file == "-" {
        // A second descriptor for stdin: fstat says whether it is a file.
        std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?)
    } else {
        std::fs::File::open(file)?
    };
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() > 0 {
        // SAFETY: the map is read-only and lives until the process exits. If
        // another process truncates the file meanwhile, reading the lost pages
        // raises SIGBUS and nfsim dies, as grep and ripgrep do in that case;
        // no content of the file can make this unsound.
        if let Ok(map) = unsafe { memmap2::MmapOptions::new().populate().map(&file) } {
            return Ok(Input::Mapped(map));
        }
    }
    let mut bytes = Vec::new();
    (&file).read_to_end(&mut bytes)?;
    Ok(Input::Read(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

fn json_report(text: &str, parsed: &Parsed) -> String {
    // Exactly the contract's keys, in its order.
    let diags: Vec<serde_json::Value> = locate(text, &parsed.diagnostics)
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "severity": d.severity.as_str(),
                "code": d.code,
                "message": d.message,
                "line": d.line,
                "column": d.column,
                "end_line": d.end_line,
                "end_column": d.end_column,
            })
        })
        .collect();
    let value = serde_json::json!({
        "diagnostics": diags,
        "summary": {
            "tables": parsed.ruleset.tables.len(),
            "chains": parsed.ruleset.chain_count(),
            "rules": parsed.ruleset.rule_count(),
        }
    });
    serde_json::to_string_pretty(&value).expect("serialisable") + "\n"
}

fn main() -> ExitCode {
    // Usage errors print to stderr and exit 2; --help and --version print to
    // stdout and exit 0.
    let cli = Cli::parse();
    let file = match &cli.command {
        Command::Check(a) => &a.file,
        Command::Fmt(a) => &a.file,
        Command::Trace(a) => &a.file,
    };
    let input = match read_input(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("nfsim: cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let text = input.text();
    let name = if file == "-" {
        "<stdin>"
    } else {
        file.as_str()
    };
    let (input_format, lint) = match &cli.command {
        Command::Check(a) => (a.input, a.lint),
        Command::Fmt(a) => (a.input, false),
        Command::Trace(a) => return trace(a, name, &text),
    };
    // The engine takes the machine's parallelism as an input, like the host.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parsed = nfsim::parse_with(
        &text,
        input_format.map(InputFormat::from),
        nfsim::ParseOptions::threads(threads),
    );
    let failed = parsed.has_errors();
    // Lint a ruleset that loads: with errors, the rules that failed to parse
    // are missing from it, and their chains would look unreached.
    if lint && !failed {
        parsed
            .diagnostics
            .extend(nfsim::ruleset::lint::lint(&parsed.ruleset));
        parsed
            .diagnostics
            .sort_by_key(|d| (d.span.start, d.severity));
    }
    let mut stdout = std::io::stdout().lock();
    let result = match &cli.command {
        Command::Check(a) if a.format == Format::Json => {
            stdout.write_all(json_report(&text, &parsed).as_bytes())
        }
        Command::Check(_) => {
            eprint!("{}", render_terminal(name, &text, &parsed.diagnostics));
            Ok(())
        }
        Command::Fmt(a) => {
            eprint!("{}", render_terminal(name, &text, &parsed.diagnostics));
            if failed {
                Ok(())
            } else {
                let text = match a.output {
                    Output::Save => nfsim::ruleset::render::render_save(&parsed.ruleset),
                    Output::Commands => nfsim::ruleset::export::to_commands(&parsed.ruleset),
                    Output::Nft => nfsim::ruleset::export::to_nft(&parsed.ruleset),
                };
                stdout.write_all(text.as_bytes())
            }
        }
        Command::Trace(_) => unreachable!("trace returned above"),
    };
    if let Err(e) = result.and_then(|_| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("nfsim: cannot write output: {e}");
            return ExitCode::from(2);
        }
    }
    // The process ends here: let the OS reclaim the ruleset instead of freeing
    // hundreds of thousands of allocations one by one.
    std::mem::forget(parsed);
    std::mem::forget(text);
    std::mem::forget(input);
    ExitCode::from(u8::from(failed))
}

/// `nfsim trace`: run a scenario and print its traces.
fn trace(args: &TraceArgs, name: &str, text: &str) -> ExitCode {
    use nfsim::scenario::{self, Loaded, ScenarioError, SimState};
    let mut loaded = match Loaded::from_json(text) {
        Ok(l) => l,
        Err(ScenarioError::Ruleset(diags)) => {
            let ruleset = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v["ruleset"].as_str().map(str::to_string))
                .unwrap_or_default();
            eprint!(
                "{}",
                render_terminal(&format!("{name} (ruleset)"), &ruleset, &diags)
            );
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("nfsim: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(seed) = args.seed {
        loaded.scenario.seed = seed;
    }
    if let Some(backend) = args.backend {
        loaded.scenario.backend = backend.into();
    }
    let out = if let Some(n) = args.batch {
        let b = match scenario::run_batch(&loaded, n) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("nfsim: {e}");
                return ExitCode::from(1);
            }
        };
        if args.format == Format::Json {
            serde_json::to_string_pretty(&scenario::batch_json(&loaded, &b)).expect("serialisable")
                + "\n"
        } else {
            let mut s = format!("{} packets\n", b.packets);
            for (f, n) in &b.fates {
                s.push_str(&format!("  {f}: {n}\n"));
            }
            for (e, n) in &b.endpoints {
                s.push_str(&format!(
                    "  to {e}: {n} ({:.1}%)\n",
                    *n as f64 * 100.0 / b.packets as f64
                ));
            }
            s.push_str("rule hits (pkts table chain rule):\n");
            for ((t, c, r), n) in &b.counters {
                s.push_str(&format!("  {n:>8} {t} {c} {r}\n"));
            }
            s
        }
    } else if args.all_branches {
        let outcomes = match scenario::branches(&loaded, 4096) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("nfsim: {e}");
                return ExitCode::from(1);
            }
        };
        if args.format == Format::Json {
            let list: Vec<serde_json::Value> = outcomes
                .iter()
                .map(|b| serde_json::json!({"probability": b.probability, "choices": bit_string(b.choices.iter().copied()), "packets": b.paths.iter().map(|path| scenario::path_json(&loaded.ruleset, path)).collect::<Vec<_>>()}))
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({"outcomes": list}))
                .expect("serialisable")
                + "\n"
        } else {
            let mut s = String::new();
            for (i, b) in outcomes.iter().enumerate() {
                let (p, paths) = (b.probability, &b.paths);
                let choices = bit_string(b.choices.iter().copied());
                s.push_str(&format!(
                    "outcome {} (probability {:.6}, --choices '{choices}')\n",
                    i + 1,
                    p
                ));
                for (j, path) in paths.iter().enumerate() {
                    s.push_str(&format!(" packet {j}\n"));
                    s.push_str(&scenario::path_text(&loaded.ruleset, path));
                }
            }
            s
        }
    } else {
        // One run: the scenario's seed draws, or --choices replays a branch.
        let script = args.choices.as_ref().map(|Choices(bits)| bits.clone());
        let replaying = script.is_some();
        let mut state = SimState::new(&loaded, loaded.scenario.seed, script);
        let paths = match scenario::run(&loaded, &mut state) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("nfsim: {e}");
                return ExitCode::from(1);
            }
        };
        let probability: f64 = state.decisions.iter().map(|(_, p)| p).product();
        if args.format == Format::Json {
            let list: Vec<serde_json::Value> = paths
                .iter()
                .map(|p| scenario::path_json(&loaded.ruleset, p))
                .collect();
            let mut out = serde_json::json!({"packets": list});
            if replaying {
                // Each choice with its probability and the packet it was made for.
                let packet_of = |d: usize| state.decided_by_packet.iter().position(|&n| d < n);
                let choices: Vec<serde_json::Value> = state
                    .decisions
                    .iter()
                    .enumerate()
                    .map(|(d, (matched, p))| serde_json::json!({"matched": matched, "probability": p, "packet": packet_of(d)}))
                    .collect();
                out["probability"] = probability.into();
                out["choices"] = choices.into();
            }
            serde_json::to_string_pretty(&out).expect("serialisable") + "\n"
        } else {
            let mut s = String::new();
            if replaying {
                let made = bit_string(state.decisions.iter().map(|(c, _)| *c));
                s = format!("choices '{made}' (probability {probability:.6})\n");
            }
            for (j, path) in paths.iter().enumerate() {
                s.push_str(&format!("packet {j}\n"));
                s.push_str(&scenario::path_text(&loaded.ruleset, path));
            }
            s
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("nfsim: cannot write output: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
