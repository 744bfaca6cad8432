//! `sheetbridge status` (the last runs of each pair, open conflicts, held
//! deletions) and `sheetbridge resolve` (settle a conflict, approve or reject
//! a held deletion; the next sync of the pair carries it out).

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use sheetbridge_postgres::state::{self, HeldDelete, OpenConflict, RunRow};

use crate::cli::DbArgs;
use crate::exit::Code;

/// The last runs of each pair, open conflicts and held deletions.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Only this pair.
    #[arg(value_name = "PAIR")]
    pub pair: Option<String>,

    /// Runs shown per pair.
    #[arg(long, default_value_t = 3)]
    pub runs: i64,

    /// Print as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub runs: Vec<RunRow>,
    pub open_conflicts: Vec<OpenConflict>,
    pub held_deletes: Vec<HeldDelete>,
}

pub async fn status(args: &StatusArgs) -> anyhow::Result<Status> {
    let mut conn = super::connect(&args.db).await?;
    sheetbridge_postgres::migrate(&mut conn).await?;
    let pair = args.pair.as_deref();
    Ok(Status {
        runs: state::recent_runs(conn.client(), pair, args.runs).await?,
        open_conflicts: state::open_conflicts(conn.client(), pair).await?,
        held_deletes: state::held_deletes(conn.client(), pair).await?,
    })
}

pub async fn run_status(args: StatusArgs) -> anyhow::Result<Code> {
    let st = status(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(Code::Success);
    }
    if st.runs.is_empty() {
        println!("no runs yet");
    }
    let mut last_pair = "";
    for r in &st.runs {
        if r.pair != last_pair {
            println!("pair `{}`", r.pair);
            last_pair = &r.pair;
        }
        let counts = |side: &str| {
            let c = &r.counts[side];
            format!(
                "{} cells",
                c["updated_cells"].as_u64().unwrap_or(0)
                    + c["inserts"].as_u64().unwrap_or(0)
                    + c["deletes"].as_u64().unwrap_or(0)
            )
        };
        println!(
            "  #{} {} {} {}: to the table {}, to the sheet {}{}",
            r.id,
            r.command,
            r.started_at,
            r.status,
            counts("to_table"),
            counts("to_sheet"),
            r.error.as_deref().map(|e| format!("\n      error: {e}")).unwrap_or_default()
        );
    }
    if !st.open_conflicts.is_empty() {
        println!("\nopen conflicts (sheetbridge resolve conflict ID --keep table|sheet):");
        for c in &st.open_conflicts {
            println!(
                "  #{} pair `{}` key {} {}: base {}, table {}, sheet {}",
                c.id,
                c.pair,
                c.key,
                c.column.as_deref().map(|c| format!("column `{c}`")).unwrap_or_else(|| "whole row".into()),
                c.base,
                c.table,
                c.sheet
            );
        }
    }
    if !st.held_deletes.is_empty() {
        println!("\nheld deletions (sheetbridge resolve delete ID --approve|--reject):");
        for h in &st.held_deletes {
            println!(
                "  #{} pair `{}` key {} deleted in the {} on {}",
                h.id, h.pair, h.key, h.deleted_on, h.created_at
            );
        }
    }
    Ok(Code::Success)
}

/// Settle a conflict or decide a held deletion; the next sync carries it out.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(subcommand)]
    pub what: Resolve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Keep {
    Table,
    Sheet,
}

#[derive(Debug, Subcommand)]
pub enum Resolve {
    /// Settle open conflicts for one side: its value goes to the other at the next sync.
    Conflict {
        /// Conflict ids (see `sheetbridge status`).
        #[arg(required = true)]
        ids: Vec<i64>,
        /// The side whose value stays.
        #[arg(long, value_enum)]
        keep: Keep,
    },
    /// Approve held deletions (the row goes from the other side too) or reject them (it comes back).
    Delete {
        /// Held deletion ids (see `sheetbridge status`).
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        #[arg(long)]
        reject: bool,
    },
}

pub async fn run_resolve(args: ResolveArgs) -> anyhow::Result<Code> {
    let mut conn = super::connect(&args.db).await?;
    sheetbridge_postgres::migrate(&mut conn).await?;
    let mut missing = Vec::new();
    match &args.what {
        Resolve::Conflict { ids, keep } => {
            let side = match keep {
                Keep::Table => "table",
                Keep::Sheet => "sheet",
            };
            for id in ids {
                if state::resolve_conflict(conn.client(), *id, side).await? {
                    println!(
                        "conflict #{id}: the {side}'s value stays; the next sync writes it to the other side"
                    );
                } else {
                    missing.push(*id);
                }
            }
        }
        Resolve::Delete { ids, approve, .. } => {
            for id in ids {
                if state::decide_held_delete(conn.client(), *id, *approve).await? {
                    println!(
                        "held deletion #{id}: {}",
                        if *approve {
                            "approved; the next sync deletes the row from the other side"
                        } else {
                            "rejected; the next sync puts the row back"
                        }
                    );
                } else {
                    missing.push(*id);
                }
            }
        }
    }
    if !missing.is_empty() {
        anyhow::bail!(
            "nothing open with id {}; `sheetbridge status` lists what is open",
            missing.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(Code::Success)
}
