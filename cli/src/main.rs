//! `nfsim`: the command-line face of the engine, for real node dumps and scripts.
//!
//! `nfsim check FILE|-` validates (and with `--lint` also reports rules that
//! can never match and chains never reached), `nfsim fmt FILE|-` prints the
//! canonical iptables-save text (or, with `--output`, the `iptables` commands
//! that rebuild the ruleset, or its nftables translation). Exit codes: 0 fine
//! (warnings allowed), 1 errors in the input, 2 usage or I/O problems. All
//! logic lives in the `nfsim` engine; this file reads files, parses flags and
//! prints.

use nfsim::diagnostic::{locate, render_terminal};
use nfsim::{InputFormat, Parsed};
use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str = "usage:
  nfsim check FILE|- [--format text|json] [--input save|commands] [--lint]
  nfsim fmt   FILE|- [--input save|commands] [--output save|commands|nft]
  nfsim trace SCENARIO.json|- [--seed N] [--backend nft|legacy] [--all-branches | --batch N]
              [--format json|text]

check  parse and validate a ruleset; diagnostics go to stderr
       (--format json prints them to stdout as JSON); --lint adds warnings
       for rules that can never match and chains never reached
fmt    print the canonical iptables-save rendering to stdout
       (--output commands: iptables commands that rebuild it;
        --output nft: nftables rules as iptables-restore-translate writes them)
trace  send a scenario's packets through the host and print what happened
       (--backend: the iptables that loaded the ruleset, overriding the
        scenario's \"backend\"; it decides where the security table runs)
--input forces the input format (default: detected)
exit status: 0 no errors, 1 errors in the input, 2 usage or I/O problems";

/// What `fmt` prints.
#[derive(Clone, Copy, PartialEq)]
enum Output {
    Save,
    Commands,
    Nft,
}

struct Args {
    command: String,
    file: String,
    format_json: bool,
    input: Option<InputFormat>,
    output: Output,
    lint: bool,
    seed: Option<u64>,
    backend: Option<nfsim::pipeline::Backend>,
    all_branches: bool,
    batch: Option<u64>,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter();
    let command = it.next().ok_or("missing command")?.clone();
    if !matches!(command.as_str(), "check" | "fmt" | "trace") {
        return Err(format!("unknown command `{command}'"));
    }
    let mut file = None;
    let mut format_json = false;
    let mut input = None;
    let mut output = None;
    let mut lint = false;
    let mut seed = None;
    let mut backend = None;
    let mut all_branches = false;
    let mut batch = None;
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if a.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{name} needs a value"))
        };
        match flag {
            "--format" => {
                format_json = match value("--format")?.as_str() {
                    "json" => true,
                    "text" => false,
                    v => return Err(format!("--format takes text or json, not `{v}'")),
                }
            }
            "--input" => {
                let v = value("--input")?;
                input = Some(
                    InputFormat::parse(&v)
                        .ok_or(format!("--input takes save or commands, not `{v}'"))?,
                );
            }
            "--output" => {
                let v = value("--output")?;
                output = Some(match v.as_str() {
                    "save" => Output::Save,
                    "commands" => Output::Commands,
                    "nft" => Output::Nft,
                    _ => return Err(format!("--output takes save, commands or nft, not `{v}'")),
                });
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = Some(
                    v.parse()
                        .map_err(|_| format!("--seed takes a number, not `{v}'"))?,
                );
            }
            "--backend" => {
                let v = value("--backend")?;
                backend = Some(
                    nfsim::pipeline::Backend::parse(&v)
                        .ok_or(format!("--backend takes nft or legacy, not `{v}'"))?,
                );
            }
            "--all-branches" => all_branches = true,
            "--lint" => lint = true,
            "--batch" => {
                let v = value("--batch")?;
                batch = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("--batch takes a positive number, not `{v}'"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            f if f.starts_with('-') && f != "-" => return Err(format!("unknown option `{f}'")),
            _ => {
                if file.replace(a.clone()).is_some() {
                    return Err("only one input file".into());
                }
            }
        }
    }
    if format_json && command == "fmt" {
        return Err("fmt has no --format option".into());
    }
    if output.is_some() && command != "fmt" {
        return Err("--output belongs to fmt".into());
    }
    if lint && command != "check" {
        return Err("--lint belongs to check".into());
    }
    if command != "trace"
        && (seed.is_some() || backend.is_some() || all_branches || batch.is_some())
    {
        return Err("--seed, --backend, --all-branches and --batch belong to trace".into());
    }
    if all_branches && batch.is_some() {
        return Err("--all-branches and --batch are two different modes: choose one".into());
    }
    if command == "trace" && input.is_some() {
        return Err("trace reads the ruleset's format from the scenario".into());
    }
    Ok(Args {
        command,
        file: file.ok_or("missing FILE (or - for standard input)")?,
        format_json,
        input,
        output: output.unwrap_or(Output::Save),
        lint,
        seed,
        backend,
        all_branches,
        batch,
    })
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
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("nfsim: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let input = match read_input(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("nfsim: cannot read {}: {e}", args.file);
            return ExitCode::from(2);
        }
    };
    let text = input.text();
    let name = if args.file == "-" {
        "<stdin>"
    } else {
        args.file.as_str()
    };
    if args.command == "trace" {
        return trace(&args, name, &text);
    }
    // The engine takes the machine's parallelism as an input, like the host.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parsed = nfsim::parse_with(&text, args.input, nfsim::ParseOptions::threads(threads));
    let failed = parsed.has_errors();
    // Lint a ruleset that loads: with errors, the rules that failed to parse
    // are missing from it, and their chains would look unreached.
    if args.lint && !failed {
        parsed
            .diagnostics
            .extend(nfsim::lint::lint(&parsed.ruleset));
        parsed
            .diagnostics
            .sort_by_key(|d| (d.span.start, d.severity));
    }
    let mut stdout = std::io::stdout().lock();
    let result = match args.command.as_str() {
        "check" if args.format_json => stdout.write_all(json_report(&text, &parsed).as_bytes()),
        "check" => {
            eprint!("{}", render_terminal(name, &text, &parsed.diagnostics));
            Ok(())
        }
        _ => {
            eprint!("{}", render_terminal(name, &text, &parsed.diagnostics));
            if failed {
                Ok(())
            } else {
                let text = match args.output {
                    Output::Save => nfsim::render::render_save(&parsed.ruleset),
                    Output::Commands => nfsim::export::to_commands(&parsed.ruleset),
                    Output::Nft => nfsim::export::to_nft(&parsed.ruleset),
                };
                stdout.write_all(text.as_bytes())
            }
        }
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
fn trace(args: &Args, name: &str, text: &str) -> ExitCode {
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
        loaded.scenario.backend = backend;
    }
    let out = if let Some(n) = args.batch {
        let b = match scenario::run_batch(&loaded, n) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("nfsim: {e}");
                return ExitCode::from(1);
            }
        };
        if args.format_json {
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
        let outcomes = match scenario::run_all_branches(&loaded, 4096) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("nfsim: {e}");
                return ExitCode::from(1);
            }
        };
        if args.format_json {
            let list: Vec<serde_json::Value> = outcomes
                .iter()
                .map(|(p, paths)| serde_json::json!({"probability": p, "packets": paths.iter().map(|path| scenario::path_json(&loaded.ruleset, path)).collect::<Vec<_>>()}))
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({"outcomes": list}))
                .expect("serialisable")
                + "\n"
        } else {
            let mut s = String::new();
            for (i, (p, paths)) in outcomes.iter().enumerate() {
                s.push_str(&format!("outcome {} (probability {:.6})\n", i + 1, p));
                for (j, path) in paths.iter().enumerate() {
                    s.push_str(&format!(" packet {j}\n"));
                    s.push_str(&scenario::path_text(&loaded.ruleset, path));
                }
            }
            s
        }
    } else {
        let seed = loaded.scenario.seed;
        let mut state = SimState::new(&loaded, seed, None);
        let paths = match scenario::run(&loaded, &mut state) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("nfsim: {e}");
                return ExitCode::from(1);
            }
        };
        if args.format_json {
            let list: Vec<serde_json::Value> = paths
                .iter()
                .map(|p| scenario::path_json(&loaded.ruleset, p))
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({"packets": list}))
                .expect("serialisable")
                + "\n"
        } else {
            let mut s = String::new();
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
