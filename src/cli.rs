//! The command line: what each command takes, with examples in `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps Postgres tables and spreadsheets in agreement.
#[derive(Debug, Parser)]
#[command(name = "sheetbridge", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log detail: error, warn, info, debug or trace (logs go to stderr).
    #[arg(long, global = true, env = "SHEETBRIDGE_LOG", default_value = "warn")]
    pub log: String,
}

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (or a dry run that found nothing wrong)
  1  failure: the database, the file or the system gave an error
  2  usage: a flag or argument is wrong
  3  bad input: cells, columns or keys of the input are wrong; nothing was written
  4  conflict: a row changed while the command ran; nothing was overwritten
  5  needs confirmation: the plan deletes more rows than allowed; rerun with --yes
  6  locked: the workbook is open in Excel or LibreOffice; close it or use --force
  7  cannot connect or not authorized";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a table (or a query's result) to a workbook sheet or a Google Sheet tab.
    #[command(after_help = "\
Examples:
  sheetbridge export --db postgres://app@db/shop --table orders --to orders.xlsx
  sheetbridge export --table sales.orders --to q3.xlsx --sheet Q3 \\
      --columns id,customer,amount --where \"ordered_at >= '2024-07-01'\"
  sheetbridge export --query 'SELECT customer, sum(amount) FROM orders GROUP BY 1' --to totals.xlsx
  sheetbridge export --table orders --to gsheet://1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/Orders
  sheetbridge export --table orders --create --title 'Orders 2024'

Without --db the usual PG* environment variables are used (PGHOST, PGUSER, PGDATABASE, ...).
Google Sheets need access set up once with `sheetbridge auth`.")]
    Export(ExportArgs),

    /// Apply a workbook sheet or a Google Sheet tab to a table: insert, update, or mirror its rows.
    #[command(after_help = "\
Examples:
  sheetbridge import --db postgres://app@db/shop --from orders.xlsx --table orders --dry-run
  sheetbridge import --from orders.xlsx --sheet Orders --table orders --mode upsert
  sheetbridge import --from prices.xlsx --table prices --key sku,region --mode mirror --yes
  sheetbridge import --from new.xlsx --table orders --mode insert --json
  sheetbridge import --from 'https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit#gid=0' \\
      --table orders --dry-run

Rows are matched by the table's primary key (or --key). Columns are matched by
header name, in any order; table columns missing from the sheet keep their values.
Nothing is written when any cell is bad: every bad cell is listed.")]
    Import(ImportArgs),

    /// Run the whole loop on a throwaway local Postgres: export, edit, import.
    #[command(after_help = "\
Examples:
  sheetbridge demo
  sheetbridge demo --keep ./demo-out

Starts a private PostgreSQL from the system's binaries (as the `postgres` user when run
as root), loads examples/demo/schema.sql, exports `shop.orders` to a workbook, edits it the
way a colleague would, shows the dry-run plan, applies it, and cleans up.")]
    Demo(DemoArgs),

    /// Give sheetbridge access to Google Sheets: sign in, use a service account, check, sign out.
    #[command(after_help = "\
Examples:
  sheetbridge auth login --client-secret client_secret.json
  sheetbridge auth service-account --key ledger-prod-0123abcd.json
  sheetbridge auth status
  sheetbridge auth logout

The token is kept in $XDG_CONFIG_HOME/sheetbridge/google-token.json (mode 0600), or
--token-file / SHEETBRIDGE_GOOGLE_TOKEN_FILE. Containers can pass a credential's JSON in
SHEETBRIDGE_GOOGLE_CREDENTIALS or a mounted file in SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE.")]
    Auth(crate::commands::auth::AuthArgs),

    /// Validate the config file and reach every table and sheet its pairs name; nothing is written.
    #[command(after_help = "\
Examples:
  sheetbridge check
  sheetbridge check --config /etc/sheetbridge/sheetbridge.toml
  sheetbridge check orders customers
  sheetbridge check --json

Every problem is listed at once, one a line, with its pair and the config line it comes
from. Exits with 0 when all is well, 3 when the file or a table or sheet does not fit,
7 when the database or Google cannot be reached or refuses the credential.")]
    Check(crate::commands::check::CheckArgs),

    /// One two-way pass over the config file's pairs: table and sheet brought into agreement.
    #[command(after_help = "\
Examples:
  sheetbridge sync
  sheetbridge sync orders --dry-run
  sheetbridge sync orders customers --json
  sheetbridge sync prices --yes

Per pair: both sides are read with the base (the values they last agreed on); a cell changed
on one side goes to the other, one changed on both follows the pair's conflict policy and is
logged; rows typed into the sheet with an empty key get keys from the table. The table is
written first (one transaction, never over a concurrent write), then the sheet, then the base.
A plan that deletes more rows than the pair's max_deletes stops (exit 5) until run with --yes.")]
    Sync(crate::commands::sync::SyncArgs),

    /// The last runs of each pair, open conflicts and deletions held for approval.
    #[command(after_help = "\
Examples:
  sheetbridge status
  sheetbridge status orders --runs 10
  sheetbridge status --json")]
    Status(crate::commands::status::StatusArgs),

    /// Settle an open conflict for one side, or approve or reject a held deletion.
    #[command(after_help = "\
Examples:
  sheetbridge resolve conflict 12 --keep sheet
  sheetbridge resolve conflict 12 13 14 --keep table
  sheetbridge resolve delete 4 --approve
  sheetbridge resolve delete 5 --reject

Ids come from `sheetbridge status`. The decision is recorded now and carried out by the
pair's next sync (or `serve`'s next pass).")]
    Resolve(crate::commands::status::ResolveArgs),

    /// Run every pair of the config file on its schedule, as a service.
    #[command(after_help = "\
Examples:
  sheetbridge serve --config /etc/sheetbridge/sheetbridge.toml
  sheetbridge serve --listen 0.0.0.0:9464 --log-format json
  sheetbridge serve --once

Each enabled pair runs on its schedule, and early (after 2 s of quiet) when its table
changes. A pair never runs twice at once, also across several `serve` processes on one
database: a process that finds the pair busy skips its turn. Failures retry after a
backoff (10 s, doubling to 10 min) without holding up other pairs. SIGTERM or SIGINT
lets running passes finish, then exits 0; a second signal exits at once.
GET /healthz (the process is up), /readyz (the database is reached and migrated) and
/metrics (Prometheus) on --listen, else [serve] listen, else 127.0.0.1:9464.")]
    Serve(crate::commands::serve::ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Postgres connection URL (postgres://user@host:port/db?sslmode=require).
    /// Without it: the config file's [database], else the PG* environment
    /// variables. The password is never printed.
    #[arg(long, env = "SHEETBRIDGE_DB", hide_env_values = true)]
    pub db: Option<String>,

    /// The config file (default: ./sheetbridge.toml when present).
    #[arg(long, env = "SHEETBRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// The table or view to export: `name` or `schema.name`.
    #[arg(long, required_unless_present = "query", conflicts_with = "query")]
    pub table: Option<String>,

    /// Export the result of a query instead of a table (run read-only).
    #[arg(long)]
    pub query: Option<String>,

    /// Where to write: a workbook (.xlsx, replaced atomically) or a Google Sheet
    /// (`gsheet://SPREADSHEET_ID/Tab`, or the sheet's link from the browser).
    #[arg(long, required_unless_present = "create", value_name = "FILE|gsheet://ID/Tab")]
    pub to: Option<String>,

    /// Make a new Google spreadsheet for the export (its title: --title, else the table's name).
    #[arg(long, conflicts_with = "to")]
    pub create: bool,

    /// The new spreadsheet's title (with --create).
    #[arg(long, requires = "create")]
    pub title: Option<String>,

    /// Sheet or tab name (default: the one in --to, else the table's name, or `query`).
    #[arg(long)]
    pub sheet: Option<String>,

    /// Overwrite the Google Sheet tab when it exists already (its values, formats and
    /// validations are replaced; links to it keep working). Without it nothing is written.
    #[arg(long)]
    pub replace: bool,

    /// Only these columns, in this order (comma-separated).
    #[arg(long, value_delimiter = ',', conflicts_with = "query")]
    pub columns: Vec<String>,

    /// Only rows matching this SQL predicate.
    #[arg(long = "where", conflicts_with = "query")]
    pub filter: Option<String>,

    /// Write even if the workbook looks open in Excel or LibreOffice.
    #[arg(long)]
    pub force: bool,

    /// Print a machine-readable summary (JSON) on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Insert new rows, update changed ones.
    Upsert,
    /// Insert every row; a key that exists already is an error.
    Insert,
    /// Make the table equal to the sheet: upsert, and delete rows absent from the sheet.
    Mirror,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// What to read: a workbook (.xlsx) or a Google Sheet (`gsheet://SPREADSHEET_ID/Tab`,
    /// or the sheet's link from the browser).
    #[arg(long, value_name = "FILE|gsheet://ID/Tab")]
    pub from: String,

    /// Sheet or tab to read (default: the one in --from, else the first).
    #[arg(long)]
    pub sheet: Option<String>,

    /// The table to write: `name` or `schema.name`.
    #[arg(long)]
    pub table: String,

    /// How rows are applied.
    #[arg(long, value_enum, default_value_t = Mode::Upsert)]
    pub mode: Mode,

    /// Match rows by these columns instead of the primary key (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub key: Vec<String>,

    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Allow a plan that deletes more than --max-deletes rows.
    #[arg(long)]
    pub yes: bool,

    /// Deletes allowed without --yes.
    #[arg(long, default_value_t = 10)]
    pub max_deletes: u64,

    /// Sheet columns the table does not have are ignored instead of refused.
    #[arg(long)]
    pub ignore_unknown: bool,

    /// How many changes the plan shows.
    #[arg(long, default_value_t = 20)]
    pub show: usize,

    /// Print a machine-readable summary (JSON) on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the workbooks in this folder instead of a temporary one.
    #[arg(long)]
    pub keep: Option<PathBuf>,
}
